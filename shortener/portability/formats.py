"""Each import format: how its file is read, which columns it needs, and how one of its
rows becomes the link core's plain values (pure: no ORM, no rule of a link's own).

Column names are compared after `reading.column_name()` (`Long URL`, `long_url` and
`longUrl` are one name). A mapper raises `RowRefused` for a row the format itself
cannot carry (a Kutt link behind a password); everything else is the core's to judge.
Where each format's columns come from is in docs/import-export.md.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shortener.portability.spreadsheets import FORMULA_STARTS

# Torii's export and import columns, in the order written.
COLUMNS = (
    "domain",
    "slug",
    "short_url",
    "target",
    "title",
    "notes",
    "tags",
    "redirect_code",
    "expires_at",
    "max_visits",
    "state",
    "created_at",
    "updated_at",
    "visit_count",
    "owner",
    "protected",
    "password_hash",
    "rules",
    "forward_query",
    "history",
)
PROTECTED_WITHOUT_HASH = (
    "This link is protected by a password, but the row carries no password hash for it; "
    "it was not imported, so that it cannot become open to anyone."
)
NOT_JSON = "The {column} column must be JSON (as Torii exports it)."


class RowRefused(ValueError):
    """A row this format cannot bring over, in a sentence."""


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    # "torii": CSV or JSON Lines by content; "csv-or-json": CSV or one JSON document;
    # "json": one JSON document; "lines": pasted lines (a URL, `slug,url`, or CSV)
    reads: str
    required: tuple[tuple[str, ...], ...]  # each: one of these columns must be present
    to_values: Callable[[dict[str, Any]], dict[str, Any]]
    items_of: Callable[[Any], list | None] | None = None  # for "json"


def text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def cell(value):
    """A CSV cell Torii made safe for spreadsheets (`'=…`) read back as it was."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def first(fields: dict[str, Any], *names: str):
    for name in names:
        if name in fields and fields[name] not in (None, ""):
            return fields[name]
    return None


def tag_list(value, separators: str = " ,|") -> list[str] | Any:
    """Tags as a list: a JSON list as it is, text split on any of `separators`."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        return value  # the core refuses it in its own words
    for separator in separators[1:]:
        value = value.replace(separator, separators[0])
    return [name for name in value.split(separators[0]) if name.strip()]


def slug_of(short_url) -> str | None:
    """The slug in a short URL (`https://bit.ly/abc`, `bit.ly/abc`), or the value as given."""
    if not isinstance(short_url, str) or not short_url.strip():
        return None
    value = short_url.strip()
    if "/" not in value:
        return value
    if "://" not in value:
        value = "//" + value
    return urlsplit(value).path.strip("/") or None


def optional(values: dict[str, Any], name: str, value) -> None:
    if value not in (None, ""):
        values[name] = value


# --- Torii's own export (CSV or JSON Lines) and pasted lines -------------------------


def torii_values(fields: dict[str, Any]) -> dict[str, Any]:
    fields = {name: cell(value) for name, value in fields.items()}
    target = first(fields, "target", "url", "long_url", "destination")
    values: dict[str, Any] = {"target": target}  # a JSON number is the core's to refuse
    optional(values, "slug", first(fields, "slug", "keyword", "short_code"))
    for name in (
        "title",
        "notes",
        "redirect_code",
        "expires_at",
        "max_visits",
        "state",
        "created_at",
    ):
        optional(values, name, fields.get(name))
    optional(values, "visit_count", fields.get("visit_count"))
    optional(values, "domain", fields.get("domain"))
    values["tags"] = tag_list(fields.get("tags"))
    optional(values, "updated_at", fields.get("updated_at"))
    optional(values, "forward_query", fields.get("forward_query"))
    for column in ("rules", "history"):
        optional(values, column, json_cell(fields.get(column), column))
    password_hash = fields.get("password_hash")
    if password_hash not in (None, ""):
        values["password_hash"] = password_hash
    elif truthy(fields.get("protected")):
        raise RowRefused(PROTECTED_WITHOUT_HASH)
    return values


def json_cell(value, column: str):
    """A list as JSON Lines carries it, or the JSON text a CSV cell holds."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise RowRefused(NOT_JSON.format(column=column)) from None


def truthy(value) -> bool:
    return value is True or (
        isinstance(value, str) and value.strip().lower() in ("true", "1", "yes")
    )


# --- Bitly: the CSV export of a group's links (dashboard or the API's links_list) ------


def bitly_values(fields: dict[str, Any]) -> dict[str, Any]:
    custom = tag_list(fields.get("custom_bitlinks"), " ,|")
    short = first(fields, "bitlink", "link", "short_link", "short_url", "id")
    slug = slug_of(custom[0]) if isinstance(custom, list) and custom else slug_of(short)
    values = {
        "target": text(first(fields, "long_url", "original_url", "destination")),
        "title": text(fields.get("title")),
        "tags": tag_list(fields.get("tags"), ",|"),
    }
    optional(values, "slug", slug)
    optional(values, "visit_count", first(fields, "clicks", "total_clicks", "engagements"))
    optional(values, "created_at", first(fields, "created_at", "date_created", "created"))
    if text(fields.get("archived")).strip().lower() in ("true", "yes", "1"):
        values["state"] = "disabled"
    return values


# --- YOURLS: its `yourls_url` table as CSV, or its API's JSON (stats / url-stats) ------


def yourls_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = {
        "target": text(fields.get("url")),
        "title": text(fields.get("title")),
    }
    optional(values, "slug", first(fields, "keyword") or slug_of(fields.get("shorturl")))
    optional(values, "visit_count", text(fields.get("clicks")) or None)
    optional(values, "created_at", fields.get("timestamp"))  # the server's time, read as UTC
    return values


def yourls_items(document) -> list | None:
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("links"), dict):  # action=stats: {"links": {"link_1": {…}}}
        return list(document["links"].values())
    if isinstance(document.get("link"), dict):  # action=url-stats
        return [document["link"]]
    if isinstance(document.get("url"), dict):  # action=shorturl's answer
        return [document["url"]]
    return None


# --- Shlink: the web client's CSV export of short URLs --------------------------------


def shlink_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = {
        "target": text(fields.get("long_url")),
        "title": text(fields.get("title")),
        "tags": tag_list(fields.get("tags"), "|"),
    }
    optional(values, "slug", first(fields, "short_code") or slug_of(fields.get("short_url")))
    optional(values, "visit_count", text(fields.get("visits")) or None)
    optional(values, "created_at", fields.get("created_at"))
    optional(values, "domain", fields.get("domain"))
    return values


# --- Kutt: the API's link objects (GET /api/v2/links: {"data": [...]}) ----------------


def kutt_values(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("password") not in (None, False, "", "false"):
        raise RowRefused(
            "This Kutt link is behind a password, which Torii links cannot be; it was not imported."
        )
    values = {
        "target": text(fields.get("target")),
        "notes": text(fields.get("description")),
    }
    optional(values, "slug", fields.get("address"))
    optional(values, "expires_at", fields.get("expire_in"))
    optional(values, "visit_count", fields.get("visit_count"))
    optional(values, "created_at", fields.get("created_at"))
    optional(values, "domain", fields.get("domain"))
    if fields.get("banned") is True:
        values["state"] = "disabled"
    return values


def kutt_items(document) -> list | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return document["data"]
    if isinstance(document, dict) and "target" in document:
        return [document]
    return None


def line_values(line: str) -> dict[str, Any]:
    """A pasted line without a header: `https://…` or `slug,https://…`."""
    line = line.strip()
    head, comma, rest = line.partition(",")
    if comma and "://" not in head:
        return {"slug": head.strip(), "target": rest.strip()}
    return {"target": line}


FORMATS = {
    fmt.name: fmt
    for fmt in (
        Format("torii", "Torii (CSV or JSON Lines)", "torii", (("target", "url"),), torii_values),
        Format(
            "bitly",
            "Bitly CSV export",
            "csv",
            (("long_url", "original_url", "destination"),),
            bitly_values,
        ),
        Format(
            "yourls",
            "YOURLS links table (CSV) or API answer (JSON)",
            "csv-or-json",
            (("keyword",), ("url",)),
            yourls_values,
            items_of=yourls_items,
        ),
        Format(
            "lines", "One URL a line, slug,url, or CSV with a header", "lines", (), torii_values
        ),
        Format("shlink", "Shlink CSV export", "csv", (("long_url",),), shlink_values),
        Format("kutt", "Kutt API links (JSON)", "json", (), kutt_values, items_of=kutt_items),
    )
}


def missing_columns(fmt: Format, header: list[str]) -> str | None:
    """The sentence for a header without a column the format needs, or None."""
    for choices in fmt.required:
        if not any(name in header for name in choices):
            return (
                f"The file has no “{choices[0]}” column, which a {fmt.label} has"
                + (f" (or one of: {', '.join(choices[1:])})" if len(choices) > 1 else "")
                + f". Its columns are: {', '.join(header) or 'none'}."
            )
    return None
