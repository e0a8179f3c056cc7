"""Slugs: shortuuid's unambiguous alphabet, the custom-slug rule and the reserved words."""

import re

import shortuuid

ALPHABET = shortuuid.get_alphabet()  # 57 symbols: no 0/O, 1/I/l look-alikes
DEFAULT_LENGTH = 7
# Every slug, generated or custom, in every place that matches one: the URLs, the
# redirect middleware, the API's path parameters and the webhook schema.
CHARACTERS = "A-Za-z0-9_-"
MAX_LENGTH = 64  # Link.slug's column
CUSTOM_MIN_LENGTH = 3
SLUG_PATTERN = rf"[{CHARACTERS}]{{1,{MAX_LENGTH}}}"
SLUG = re.compile(SLUG_PATTERN)
# How pages and the API name a link: its slug, and `@host` for a link that is not on
# the site's own host (the same slug may live on several domains).
HOST_PATTERN = r"[a-z0-9_.-]{1,253}"
KEY_PATTERN = rf"{SLUG_PATTERN}(?:@{HOST_PATTERN})?"
KEY = re.compile(KEY_PATTERN)
KEY_SCHEMA_PATTERN = rf"^{KEY_PATTERN}$(?!\n)"
# For JSON Schema and OpenAPI, whose patterns are searched rather than fully matched;
# the lookahead keeps Python's `$` (jsonschema's) from accepting a trailing newline.
SCHEMA_PATTERN = rf"^{SLUG_PATTERN}$(?!\n)"
CUSTOM_PATTERN = re.compile(rf"[{CHARACTERS}]{{{CUSTOM_MIN_LENGTH},{MAX_LENGTH}}}")
CUSTOM_RULE = (
    f"A custom slug is {CUSTOM_MIN_LENGTH} to {MAX_LENGTH} characters: "
    "letters, digits, hyphens and underscores only."
)

# Every top-level path the site uses or may use; compared case-insensitively so
# no slug can shadow a page or look like one.
RESERVED = frozenset(
    {
        "about",
        "accounts",
        "admin",
        "api",
        "assets",
        "audit",
        "bulk",  # /links/bulk/ (the list's bulk actions) would shadow a link's page
        "docs",
        "favicon.ico",
        "flags",
        "health",
        "healthz",
        "import",
        "invitations",  # /invitations/<token>/, a workspace's invitation
        "help",
        "links",
        "livez",
        "login",
        "logout",
        "media",
        "reports",
        "metrics",
        "openapi",
        "readyz",
        "robots.txt",
        "signup",
        "static",
        "stats",
        "status",
        "tokens",
        "webhooks",
        "workspaces",
        "well-known",
        ".well-known",
    }
)

_generator = shortuuid.ShortUUID()


def generate_slug(length: int = DEFAULT_LENGTH) -> str:
    """A random slug from the unambiguous alphabet, never a reserved word."""
    while True:
        slug = _generator.random(length)
        if not is_reserved(slug):
            return slug


# The health paths are answered on every host, short domains included (config/health.py):
# reserved there too, or a link so named would never redirect.
EVERY_HOST = frozenset({"healthz", "livez", "readyz"})


def is_reserved(slug: str) -> bool:
    return slug.lower() in RESERVED


def reserved_where(slug: str, *, site: bool) -> bool:
    """Is `slug` one of the paths a host answers itself: the site's own pages on its own
    host, the health paths everywhere."""
    return (slug.lower() in RESERVED) if site else (slug.lower() in EVERY_HOST)


def custom_slug_problem(slug: str, *, reserved: bool = True) -> str | None:
    """Why a requested custom slug cannot be used (apart from being taken), or None.
    `reserved`: the site's own paths apply (on its own host, not on short domains)."""
    if not CUSTOM_PATTERN.fullmatch(slug):
        return CUSTOM_RULE
    if reserved_where(slug, site=reserved):
        return f"“{slug}” is reserved for the site's own pages; choose another."
    return None


def is_valid_key(key: str) -> bool:
    return bool(KEY.fullmatch(key))


IMPORTED_RULE = (
    f"An imported slug is 1 to {MAX_LENGTH} characters: "
    "letters, digits, hyphens and underscores only."
)


def imported_slug_problem(slug: str, *, reserved: bool = True) -> str | None:
    """Why a slug a link already had elsewhere cannot be kept here, or None. Any length
    a slug may have (other shorteners issue short ones), never a reserved word (on the
    site's own host)."""
    if not SLUG.fullmatch(slug):
        return IMPORTED_RULE
    if reserved_where(slug, site=reserved):
        return f"“{slug}” is reserved for the site's own pages; choose another."
    return None
