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
        "bulk",  # /links/bulk/ (the list's bulk actions) would shadow a link's page
        "docs",
        "favicon.ico",
        "flags",
        "health",
        "healthz",
        "help",
        "links",
        "login",
        "logout",
        "media",
        "metrics",
        "openapi",
        "robots.txt",
        "signup",
        "static",
        "stats",
        "status",
        "tokens",
        "webhooks",
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


def is_reserved(slug: str) -> bool:
    return slug.lower() in RESERVED


def custom_slug_problem(slug: str) -> str | None:
    """Why a requested custom slug cannot be used (apart from being taken), or None."""
    if not CUSTOM_PATTERN.fullmatch(slug):
        return CUSTOM_RULE
    if is_reserved(slug):
        return f"“{slug}” is reserved for the site's own pages; choose another."
    return None


def is_valid_slug(slug: str) -> bool:
    """Could this string be a slug at all (generated or custom)? Cheap guard for lookups."""
    return bool(SLUG.fullmatch(slug))
