"""The link core: every rule about a link and every write, for every entry point.

Pages (forms), the API, webhook handlers, admin and commands translate their input
into plain values, call these functions, and turn `LinkRefused` into their own answer.
Nothing here knows of requests, forms, JSON or admin.
"""

from shortener.links import bulk
from shortener.links.access import (
    get_visible,
    may_create,
    may_use_custom_slugs,
    visible_to,
)
from shortener.links.cleaning import EDITABLE, FIELDS, SENTENCES, clean
from shortener.links.refusal import LinkRefused
from shortener.links.writes import create, delete, disable, edit, enable

__all__ = [
    "EDITABLE",
    "FIELDS",
    "SENTENCES",
    "LinkRefused",
    "bulk",
    "clean",
    "create",
    "delete",
    "disable",
    "edit",
    "enable",
    "get_visible",
    "may_create",
    "may_use_custom_slugs",
    "visible_to",
]
