"""A web page's title from the first bytes of it, for a link whose owner asked Torii to
fill an empty title. Pure: bytes and the Content-Type in, one line of text out."""

import html
import re

MAX_LENGTH = 200  # Link.title
TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)
HEADER_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.IGNORECASE)


def charset_of(body: bytes, content_type: str) -> str:
    for found in (HEADER_CHARSET.search(content_type or ""), META_CHARSET.search(body[:4096])):
        if found:
            name = found.group(1)
            name = name.decode("ascii") if isinstance(name, bytes) else name
            try:
                "".encode(name)
            except LookupError:
                continue
            return name
    return "utf-8"


def title_of(body: bytes, content_type: str = "") -> str:
    """The page's `<title>` as one line of at most MAX_LENGTH printable characters, or ""
    (not HTML, no title, or only whitespace and control characters)."""
    if content_type and "html" not in content_type.lower():
        return ""
    found = TITLE.search(body)
    if not found:
        return ""
    text = html.unescape(found.group(1).decode(charset_of(body, content_type), "replace"))
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > MAX_LENGTH:
        text = text[: MAX_LENGTH - 1].rstrip() + "…"
    return text
