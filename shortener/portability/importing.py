"""Importing a file: its rows through the format's mapper, then the link core a chunk at
a time (`shortener.links.create_many`), each row reported: created, already there, or
refused with the row number and the core's sentence. One bad row never stops the rest.
"""

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from shortener import links
from shortener.audit.models import Via
from shortener.audit.recording import through
from shortener.domains.models import Domain
from shortener.policy import targets
from shortener.portability import formats, reading
from shortener.portability.reading import Row, Unreadable

CHUNK = 1000
OTHER_OWNER = (
    "This link belongs to “{}”, and only staff can import links for another person "
    "(with `manage.py import_links`); remove the owner column to import it as yours."
)
CREATED, EXISTING, REFUSED = "created", "already there", "refused"


@dataclass
class RowResult:
    number: int
    status: str
    slug: str = ""
    target: str = ""
    reason: str = ""
    link_id: int | None = None  # the link made or found: its short URL is on its domain


@dataclass
class Summary:
    created: int = 0
    existing: int = 0
    refused: int = 0
    rows: int = 0
    first_refusals: list[RowResult] = field(default_factory=list)

    def count(self, result: RowResult) -> None:
        self.rows += 1
        if result.status == CREATED:
            self.created += 1
        elif result.status == EXISTING:
            self.existing += 1
        else:
            self.refused += 1

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows: {self.created:,} created, {self.existing:,} already there, "
            f"{self.refused:,} refused."
        )


def rows_of(stream: IO[bytes], fmt: formats.Format) -> Iterator[Row]:
    """The file's rows as the format reads them; `Unreadable` for the whole file."""
    if not hasattr(stream, "peek") and not stream.seekable():
        stream = io.BufferedReader(stream)
    reads = fmt.reads
    if reads == "torii":
        reads = "jsonl" if reading.starts_with_brace(stream) else "csv"
    elif reads == "csv-or-json":
        reads = "json" if reading.starts_with_brace(stream) else "csv"
    elif reads == "lines":
        return pasted_rows(stream)
    if reads == "jsonl":
        return reading.jsonl_rows(stream)
    if reads == "json":
        return reading.json_items(stream, fmt.items_of)
    header, rows = reading.csv_rows(stream)
    problem = formats.missing_columns(fmt, header)
    if problem:
        raise Unreadable(problem)
    return rows


def pasted_rows(stream: IO[bytes]) -> Iterator[Row]:
    """Pasted lines: CSV when the first line is a header naming `url` or `target`."""
    reading.check_text(reading.peek(stream))
    head = reading.peek(stream).lstrip(reading.BOM).split(b"\n", 1)[0].decode("utf-8", "replace")
    names = [reading.column_name(name) for name in head.split(reading.delimiter_of(head))]
    if "://" not in head and ({"url", "target"} & set(names)):
        yield from reading.csv_rows(stream)[1]
        return
    for number, text, problem in reading.lines(stream):
        if problem:
            yield Row(number, problem=problem)
        elif text.strip():
            yield Row(number, {"_line": text})


def values_of(row: Row, fmt: formats.Format, hosts: set[str]) -> dict[str, Any]:
    if "_line" in row.fields:
        return formats.line_values(row.fields["_line"])
    values = fmt.to_values(row.fields)
    # Torii's own files and pasted lines name Torii's domains: the core judges them as
    # on create. A peer's domain (bit.ly, the old shortener's host) is kept when this
    # Torii has it; otherwise the link goes on the default domain, as without one.
    named = values.get("domain")
    if named is not None and fmt.to_values is not formats.torii_values:
        verdict = targets.domain_host(named)
        if not verdict.ok or verdict.url not in hosts:
            del values["domain"]
    return values


def import_rows(
    rows: Iterator[Row],
    fmt: formats.Format,
    *,
    actor,
    owner: Any = ...,
    owner_named: Callable[[str], Any] | None = None,
    ignore_owners: bool = False,
    own_host: str | None = None,
    dry_run: bool = False,
    restoring: bool = True,
    report: Callable[[RowResult], None] = lambda result: None,
    chunk_size: int = CHUNK,
    after_chunk: Callable[[], None] = lambda: None,
) -> Summary:
    """Import every row; `report` hears each row's result as its chunk is written.

    `owner_named` (staff only) turns a row's `owner` column into a user, or None to
    leave the row to `owner`. Without it, a row naming someone other than the actor is
    refused (a file cannot give links to another person), unless `ignore_owners` (the
    operator chose the owner of every row: `import_links --owner`).
    """
    summary = Summary()
    chunk: list[tuple[Row, dict[str, Any] | None, str]] = []
    hosts = set(Domain.objects.values_list("host", flat=True))

    def flush() -> None:
        items = [values for _, values, _ in chunk if values is not None]
        with through(Via.IMPORT):  # whichever page, job or command runs it
            outcomes = iter(
                links.create_many(
                    items,
                    actor=actor,
                    owner=owner,
                    own_host=own_host,
                    restoring=restoring,
                    dry_run=dry_run,
                )
                if items
                else []
            )
        for row, values, problem in chunk:
            if values is None:
                result = RowResult(row.number, REFUSED, reason=problem)
            else:
                result = result_of(row.number, values, next(outcomes))
            summary.count(result)
            if result.status == REFUSED and len(summary.first_refusals) < 20:
                summary.first_refusals.append(result)
            report(result)
        chunk.clear()
        after_chunk()

    def write_chunk() -> None:
        # The chunk's links and what `after_chunk` records of them commit together, so a
        # job run again after a crash knows exactly which rows are done.
        with transaction.atomic():
            flush()

    for row in rows:
        if row.problem:
            chunk.append((row, None, row.problem))
        else:
            try:
                values = values_of(row, fmt, hosts)
            except formats.RowRefused as refusal:
                chunk.append((row, None, f"Row {row.number}: {refusal}"))
            else:
                username = row.fields.get("owner")
                named = isinstance(username, str) and username.strip() != ""
                if owner_named is not None and named:
                    user = owner_named(username)
                    if user is not None:
                        values["owner"] = user
                elif named and not ignore_owners and username != actor_name(actor):
                    chunk.append((row, None, f"Row {row.number}: " + OTHER_OWNER.format(username)))
                    continue
                chunk.append((row, values, ""))
        if len(chunk) >= chunk_size:
            write_chunk()
    if chunk:
        write_chunk()
    return summary


def actor_name(actor) -> str | None:
    return actor.get_username() if actor is not None and actor.is_authenticated else None


def result_of(number: int, values: dict[str, Any], outcome: links.Outcome) -> RowResult:
    given_slug = values.get("slug") if isinstance(values.get("slug"), str) else ""
    if outcome.refusal is not None:
        errors = outcome.refusal.errors
        reason = " ".join(
            sentence if name in ("__all__", "target", "slug") else f"{name}: {sentence}"
            for name, sentence in errors.items()
        )
        return RowResult(
            number,
            REFUSED,
            slug=given_slug,
            target=str(values.get("target") or ""),
            reason=f"Row {number}: {reason}",
        )
    link = outcome.link
    return RowResult(
        number,
        EXISTING if outcome.existing else CREATED,
        slug=link.slug,
        target=link.target,
        link_id=link.pk,
    )
