"""`{% load readable_urls %}`: show a stored destination the way a person reads it."""

from django import template

from shortener.links.readable import readable

register = template.Library()


@register.filter
def readable_url(url: str) -> str:
    """`{{ link.target|readable_url }}`: Unicode host and path, for text; href keeps the target."""
    return readable(url or "")
