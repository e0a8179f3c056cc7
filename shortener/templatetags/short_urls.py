"""`{% short_url link %}`: the short URL of a link, from `shortener.short_urls`."""

from django import template

from shortener import short_urls

register = template.Library()


@register.simple_tag(takes_context=True)
def short_url(context, link) -> str:
    return short_urls.short_url(context["request"], link)
