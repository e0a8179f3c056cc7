"""Exporting links as CSV or JSON Lines, streamed a row at a time.

Every link the person may see, tombstones included (state `deleted`), as
`links.access.exportable()` decides. Links are read in chunks with their tags and
destination history prefetched per chunk, so an export of a million links never holds
them all. CSV goes through `spreadsheet_csv.csv_lines`, so no cell is ever a formula.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch

from shortener.links import access
from shortener.links.models import DestinationChange, LinkQuerySet
from shortener.portability.formats import COLUMNS
from shortener.portability.spreadsheets import csv_lines

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
CHUNK = 2000


def listed(actor, choices: dict[str, str]) -> LinkQuerySet:
    """The links the list shows with its filters (`choices`), of those `actor` may export."""
    return access.exportable(actor, choices.get("workspace") or None).matching(
        text=choices.get("q", ""),
        tag=choices.get("tag", ""),
        state=choices.get("state", ""),
        domain=choices.get("domain", ""),
    )


def command_host() -> str:
    hosts = [host for host in settings.CONFIGURED_HOSTS if host not in ("*", "")]
    return hosts[0].lstrip(".") if hosts else "localhost"


def records(links: LinkQuerySet) -> Iterator[dict[str, Any]]:
    """Each link as an export row: its domain and short URL are its own (`Domain.url_for`),
    whichever host the export was asked on."""
    history = Prefetch(
        "destination_changes",
        queryset=DestinationChange.objects.select_related("changed_by").order_by(
            "changed_at", "pk"
        ),
    )
    rows = (
        links.select_related("owner", "domain")
        .prefetch_related("tags", history)
        .order_by("pk")
        .iterator(chunk_size=CHUNK)
    )
    for link in rows:
        yield {
            "domain": link.domain.host,
            "slug": link.slug,
            "short_url": link.short_url,
            "target": link.target,
            "title": link.title,
            "notes": link.notes,
            "tags": sorted(tag.name for tag in link.tags.all()),
            "redirect_code": link.redirect_code,
            "expires_at": when(link.expires_at),
            "max_visits": link.max_visits,
            "state": str(link.state),
            "created_at": when(link.created_at),
            "updated_at": when(link.updated_at),
            "visit_count": link.visit_count,
            "owner": link.owner.get_username() if link.owner_id else "",
            # The hash only, never the password: restored, the same password opens it.
            "protected": bool(link.password),
            "password_hash": link.password,
            "rules": link.rules,
            "forward_query": link.forward_query,
            "history": [
                {
                    "at": when(change.changed_at),
                    "from": change.old_target,
                    "to": change.new_target,
                    "by": change.changed_by.get_username() if change.changed_by_id else "",
                }
                for change in link.destination_changes.all()
            ],
        }


def when(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def csv_export(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    def cells(item: dict[str, Any]) -> list:
        row = dict(item)
        row["tags"] = " ".join(item["tags"])
        row["history"] = json.dumps(item["history"], ensure_ascii=False)
        row["rules"] = json.dumps(item["rules"], ensure_ascii=False) if item["rules"] else ""
        row["protected"] = "true" if item["protected"] else "false"
        row["max_visits"] = "" if item["max_visits"] is None else item["max_visits"]
        return [row[name] for name in COLUMNS]

    return csv_lines(COLUMNS, (cells(item) for item in items))


def jsonl_export(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False) + "\n"


def lines(kind: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    return csv_export(items) if kind == "csv" else jsonl_export(items)
