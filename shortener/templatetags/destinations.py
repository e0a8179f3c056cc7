"""`{% load destinations %}`: show a stored destination the way a person reads it."""

from django import template

from shortener import targets

register = template.Library()


@register.filter
def readable_url(url: str) -> str:
    """`{{ link.target|readable_url }}`: Unicode host and path, for text; href keeps the target."""
    return targets.readable(url or "")
