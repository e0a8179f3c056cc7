"""Slugs: shortuuid's unambiguous alphabet, the custom-slug rule and the reserved words."""

import re

import shortuuid

ALPHABET = shortuuid.get_alphabet()  # 57 symbols: no 0/O, 1/I/l look-alikes
DEFAULT_LENGTH = 7
CUSTOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,64}")

# Every top-level path the site uses or may use; compared case-insensitively so
# no slug can shadow a page or look like one.
RESERVED = frozenset(
    {
        "about",
        "accounts",
        "admin",
        "api",
        "assets",
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
        return "A custom slug is 3 to 64 characters: letters, digits, hyphens and underscores only."
    if is_reserved(slug):
        return f"“{slug}” is reserved for the site's own pages; choose another."
    return None


_ANY_SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_valid_slug(slug: str) -> bool:
    """Could this string be a slug at all (generated or custom)? Cheap guard for lookups."""
    return bool(_ANY_SLUG.fullmatch(slug))
