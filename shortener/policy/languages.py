"""Browser languages: language tags as rules hold them, and the visitor's preferred one
from `Accept-Language` with its quality values honoured (pure)."""

import re
from functools import lru_cache

# A BCP 47 tag as browsers send them: a 2-3 letter language, then subtags (de, de-CH,
# zh-Hant-TW). Private-use and grandfathered oddities are not rule material.
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.ASCII)
MAX_TAG = 35
MAX_HEADER = 1024  # a longer header is junk: no browser sends one
MAX_ENTRIES = 32


def normalized_tag(text: str) -> str | None:
    """`de-CH` → `de-ch`; None for what is not a language tag."""
    tag = text.strip().lower().replace("_", "-")
    if len(tag) > MAX_TAG or not LANGUAGE_TAG.fullmatch(tag):
        return None
    return tag


@lru_cache(maxsize=1024)  # the same few headers come again and again
def preferred_language(header: str) -> str | None:
    """The tag with the highest quality (the first of equals), or None.

    `q=0` means "not this one"; `*` says nothing; malformed entries are skipped, and a
    malformed header as a whole is no language at all (never an error).
    """
    if not header or len(header) > MAX_HEADER:
        return None
    best, best_q = None, 0.0
    for entry in header.split(",", MAX_ENTRIES)[:MAX_ENTRIES]:
        tag_text, _, params = entry.partition(";")
        tag = normalized_tag(tag_text)
        if tag is None:
            continue
        q = quality(params)
        if q is not None and q > best_q:
            best, best_q = tag, q
    return best


def quality(params: str) -> float | None:
    """The q of `q=0.8` (1 when absent); None when malformed (RFC 9110: 0 to 1, 3 decimals)."""
    params = params.strip()
    if not params:
        return 1.0
    name, _, value = params.partition("=")
    if name.strip().lower() != "q" or not re.fullmatch(
        r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?", value.strip()
    ):
        return None
    return float(value)


def language_matches(wanted: str, tag: str | None) -> bool:
    """A rule's `de` matches `de` and `de-at`; `de-ch` matches only `de-ch` and below."""
    return tag is not None and (tag == wanted or tag.startswith(wanted + "-"))
