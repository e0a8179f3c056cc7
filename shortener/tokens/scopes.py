"""What an API token may do: the scopes a token holds, and how long it lives. Pure rules
(no model, setting or request), read by the tokens page, the API's authentication and its
OpenAPI description."""

from dataclasses import dataclass
from datetime import datetime, timedelta

LINKS_READ = "links:read"
LINKS_WRITE = "links:write"
STATS_READ = "stats:read"
WEBHOOKS_MANAGE = "webhooks:manage"


@dataclass(frozen=True)
class Scope:
    name: str
    label: str
    grants: str


# name → what it grants, in the order the tokens page lists them. Scopes do not imply one
# another: each API operation needs exactly one of them (shortener/api/views.py).
SCOPES = {
    scope.name: scope
    for scope in (
        Scope(LINKS_READ, "Read links", "List, read and export your links."),
        Scope(
            LINKS_WRITE,
            "Change links",
            "Create, change, disable, enable and delete your links.",
        ),
        Scope(STATS_READ, "Read statistics", "Read the visits of your links."),
        Scope(
            WEBHOOKS_MANAGE,
            "Manage webhooks",
            "Reserved for managing outbound webhook endpoints; no API operation needs it "
            "yet (staff manage endpoints in the admin).",
        ),
    )
}
ALL = tuple(SCOPES)
# A new token on the tokens page starts with the least: reading links.
DEFAULT = (LINKS_READ,)


def unknown(names) -> list[str]:
    """The names that are not scopes, in the order given."""
    return [name for name in names if name not in SCOPES]


def in_order(names) -> list[str]:
    """The scopes among `names`, once each, in the catalogue's order (as stored)."""
    chosen = set(names)
    return [name for name in ALL if name in chosen]


# How long a new token lives: the tokens page's choices (label, lifetime; None: never).
LIFETIMES = {
    "30": ("30 days", timedelta(days=30)),
    "90": ("90 days", timedelta(days=90)),
    "365": ("A year (365 days)", timedelta(days=365)),
    "never": ("Never expires", None),
}
DEFAULT_LIFETIME = "90"
# The tokens page warns this long before a token expires.
WARN_BEFORE = timedelta(days=7)


def expiry(created_at: datetime, lifetime: timedelta | None) -> datetime | None:
    return None if lifetime is None else created_at + lifetime


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def expires_soon(expires_at: datetime | None, now: datetime) -> bool:
    """Live, but for less than WARN_BEFORE more: the tokens page says so."""
    return expires_at is not None and now < expires_at <= now + WARN_BEFORE
