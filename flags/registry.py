"""Every flag and switch Torii's code asks waffle about, named once with its default.

Code and templates ask waffle by these names; tests/test_flag_registry.py fails when any
asks for a name not listed here. The rows are created from this list (migration 0003,
then `create_missing` after every migrate), and the staff board shows what it says.
A name nobody registered is a typo: waffle no longer creates it (off) on first use.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flag:
    name: str
    default: bool  # everyone=True/False when the row is first created
    description: str
    contact: str  # who to ask before changing it


@dataclass(frozen=True)
class Switch:
    name: str
    default: bool
    description: str


FLAGS = (
    Flag(
        "custom_slugs",
        False,
        "Signed-in people may choose their own slug when they create a link, "
        "instead of a generated one.",
        "links team",
    ),
    Flag("qr_codes", True, "A link's page shows a QR code of its short URL.", "links team"),
    Flag(
        "link_analytics",
        True,
        "A link's stats page shows its visits and charts; off hides the page and its links.",
        "analytics team",
    ),
    Flag(
        "api_v1",
        True,
        "The JSON API under /api/v1/; off answers every API call with a 403 problem document.",
        "API team",
    ),
    Flag(
        "open_signup",
        False,
        "Anyone may create an account from the sign-in page; off: staff create accounts in admin.",
        "staff (site operators)",
    ),
    Flag(
        "link_health",
        False,
        "The task worker requests the destinations of their links once a day and tells "
        "owners which no longer answer; a domain that died or now redirects elsewhere goes "
        "to the review queue.",
        "trust and safety (staff)",
    ),
    Flag(
        "anonymous_links",
        False,
        "People who are not signed in may create links, "
        "which then belong to nobody and cannot be edited.",
        "links team",
    ),
)
SWITCHES = (
    Switch(
        "read_only",
        False,
        "Maintenance: when on, every write (forms, admin saves, API writes, webhooks) is refused "
        "with 503, while redirects, stats and pages keep working. Staff can still sign in and "
        "turn it off on the flag board or in admin.",
    ),
)
FLAGS_BY_NAME = {flag.name: flag for flag in FLAGS}
SWITCHES_BY_NAME = {switch.name: switch for switch in SWITCHES}


class UnregisteredName(LookupError):
    """Code asked for a flag or switch that flags/registry.py does not list."""

    def __init__(self, kind: str, name: str):
        super().__init__(
            f"{kind} {name!r} is not in flags/registry.py: a typo, or add it there "
            f"(with its default and description) before asking for it."
        )


def flag(name: str) -> Flag:
    try:
        return FLAGS_BY_NAME[name]
    except KeyError:
        raise UnregisteredName("Flag", name) from None


def switch(name: str) -> Switch:
    try:
        return SWITCHES_BY_NAME[name]
    except KeyError:
        raise UnregisteredName("Switch", name) from None


def missing_row(name: str) -> None:
    """Waffle found no row for this flag name (FeatureFlag.is_active calls this).

    Unregistered: a typo in code. It raises while developing and in tests, and is
    logged as an error in production, where the flag stays off as waffle answers.
    Registered: the row was deleted or migrate has not run; it is off until then.
    """
    if name in FLAGS_BY_NAME:
        logger.warning("Flag %s is registered but has no row: off until migrate creates it", name)
        return
    if settings.FLAGS_STRICT_NAMES:
        raise UnregisteredName("Flag", name)
    logger.error("Flag %s is not registered in flags/registry.py: a typo? It is off.", name)


def create_missing(feature_flag_model, switch_model, using: str = "default") -> list[str]:
    """Create the rows of registered names that have none; existing rows are left alone.

    Takes the models so a migration can pass its historical ones. Returns the names created.
    """
    created = []
    for entry in FLAGS:
        _, new = feature_flag_model.objects.using(using).get_or_create(
            name=entry.name,
            defaults={
                "everyone": entry.default,
                # On for exactly the people its rule names, superusers included.
                "superusers": False,
                "description": entry.description,
                "contact": entry.contact,
            },
        )
        if new:
            created.append(entry.name)
    for entry in SWITCHES:
        _, new = switch_model.objects.using(using).get_or_create(
            name=entry.name, defaults={"active": entry.default, "note": entry.description}
        )
        if new:
            created.append(entry.name)
    return created
