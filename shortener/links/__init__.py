"""The link core: every rule about a link and every write, for every entry point.

Pages (forms), the API, webhook handlers, admin and commands translate their input
into plain values, call these functions, and turn `LinkRefused` into their own answer.
Nothing here knows of requests, forms, JSON or admin.
"""

from shortener.links import access, bulk
from shortener.links.access import (
    SYSTEM,
    get_visible,
    may_create,
    may_use_custom_slugs,
    split_key,
    usable_domains,
    visible_to,
)
from shortener.links.batch import Outcome, create_many
from shortener.links.blocking import (
    Blocked,
    BlockedAll,
    BlockRefused,
    Unblocked,
    block,
    block_all,
    entry_of,
    unblock,
)
from shortener.links.cleaning import EDITABLE, FIELDS, SENTENCES, clean
from shortener.links.refusal import LinkRefused
from shortener.links.rules import add_rule, move_rule, remove_rule
from shortener.links.writes import (
    create,
    delete,
    disable,
    edit,
    enable,
    let_continue,
    quarantine,
    release,
)

__all__ = [
    "EDITABLE",
    "FIELDS",
    "SENTENCES",
    "SYSTEM",
    "BlockRefused",
    "Blocked",
    "BlockedAll",
    "LinkRefused",
    "Outcome",
    "Unblocked",
    "access",
    "add_rule",
    "block",
    "block_all",
    "bulk",
    "clean",
    "create",
    "create_many",
    "delete",
    "disable",
    "edit",
    "enable",
    "entry_of",
    "get_visible",
    "let_continue",
    "may_create",
    "may_use_custom_slugs",
    "move_rule",
    "quarantine",
    "release",
    "remove_rule",
    "split_key",
    "unblock",
    "usable_domains",
    "visible_to",
]
