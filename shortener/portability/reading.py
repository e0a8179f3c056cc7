"""Bytes into numbered rows: CSV (any of , ; or tab), JSON Lines, or one JSON document.

A row is its number as a person finds it (a CSV's line, counting the header as 1; a
JSON item's position) and its fields, or a sentence saying why that row cannot be read.
What makes the whole file unreadable (binary data, not UTF-8, no header, not JSON)
raises `Unreadable` before any row is handed on. Lines are read one at a time and
bounded, so a 10 MB line or a million rows never sit in memory (pure: no ORM).
"""

import codecs
import csv
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

MAX_LINE = 64 * 1024  # bytes; a link's longest field (notes) is 2,000 characters
MAX_DOCUMENT = 50 * 1024 * 1024  # one JSON document (a peer's API answer) is read whole
SNIFF = 64 * 1024
DELIMITERS = (",", ";", "\t")
BOM = codecs.BOM_UTF8

csv.field_size_limit(MAX_LINE)


class Unreadable(ValueError):
    """The file as a whole cannot be read; the sentence says why and what to do."""


@dataclass
class Row:
    number: int
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def column_name(name: str) -> str:
    """A header as every format's table names it: `Long URL`, `long_url`, `longUrl` alike."""
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.strip().lstrip("\ufeff"))
    return re.sub(r"[\s\-]+", "_", name).lower()


def check_text(head: bytes) -> None:
    """Refuse binary data and text that is not UTF-8, from the file's first bytes."""
    if b"\x00" in head:
        raise Unreadable(
            "This is not a text file (it holds binary data). Export your links as CSV "
            "or JSON and try again."
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not merely a character cut at the sniff's end
            line = head[: error.start].count(b"\n") + 1
            raise Unreadable(
                f"The file is not UTF-8 text (line {line} holds the byte "
                f"0x{head[error.start]:02X}). Save it as UTF-8 (in Excel: CSV UTF-8) "
                "and try again."
            ) from None


def peek(stream: IO[bytes]) -> bytes:
    """The first bytes, left in the stream (which must be seekable or buffered)."""
    if hasattr(stream, "peek"):
        return stream.peek(SNIFF)[:SNIFF]
    position = stream.tell()
    head = stream.read(SNIFF)
    stream.seek(position)
    return head


def lines(stream: IO[bytes]) -> Iterator[tuple[int, str | None, str | None]]:
    """(number, text, None) for each line, or (number, None, why) for one that is not."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # skip to the end of the long line without holding it
            yield number, None, f"Row {number} is longer than {MAX_LINE:,} bytes; skipped."
            continue
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError:
            yield number, None, f"Row {number} is not UTF-8 text; skipped."


def delimiter_of(header: str) -> str:
    return max(DELIMITERS, key=header.count)


def csv_rows(stream: IO[bytes]) -> tuple[list[str], Iterator[Row]]:
    """The header's column names, and the rows as dicts keyed by them."""
    check_text(peek(stream))
    skipped: deque[Row] = deque()
    last = [0]
    source = lines(stream)
    header_line = None
    for number, text, problem in source:
        if problem:
            raise Unreadable(f"The header (line {number}) cannot be read: {problem}")
        if text.strip():
            header_line, last[0] = text, number
            break
    if header_line is None:
        raise Unreadable("The file is empty: it has no header and no rows.")
    delimiter = delimiter_of(header_line)
    try:
        header = [
            column_name(name) for name in next(csv.reader([header_line], delimiter=delimiter))
        ]
    except csv.Error as error:
        raise Unreadable(f"The header cannot be read as CSV: {error}.") from None

    def feed() -> Iterator[str]:
        for number, text, problem in source:
            if problem:
                skipped.append(Row(number, problem=problem))
                continue
            last[0] = number
            yield text

    def rows() -> Iterator[Row]:
        reader = csv.reader(feed(), delimiter=delimiter)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                yield from drain(skipped)
                yield Row(last[0], problem=f"Row {last[0]} cannot be read as CSV: {error}.")
                continue
            yield from drain(skipped)
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                yield Row(
                    last[0],
                    problem=f"Row {last[0]} has {len(cells)} cells but the header names "
                    f"{len(header)} columns; quote cells that hold a {describe(delimiter)}.",
                )
                continue
            yield Row(last[0], dict(zip(header, cells, strict=False)))
        yield from drain(skipped)

    return header, rows()


def drain(queue: deque) -> Iterator[Row]:
    while queue:
        yield queue.popleft()


def describe(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]


def jsonl_rows(stream: IO[bytes]) -> Iterator[Row]:
    """JSON Lines: one object a line; blank lines are skipped."""
    check_text(peek(stream))
    for number, text, problem in lines(stream):
        if problem:
            yield Row(number, problem=problem)
            continue
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError as error:
            yield Row(number, problem=f"Row {number} is not JSON: {error}.")
            continue
        if not isinstance(item, dict):
            yield Row(number, problem=f"Row {number} is not a JSON object.")
            continue
        yield Row(number, {column_name(key): value for key, value in item.items()})


def json_items(stream: IO[bytes], items_of: Callable[[Any], list | None]) -> Iterator[Row]:
    """One JSON document (a peer's API answer), its items picked out by `items_of`."""
    check_text(peek(stream))
    raw = stream.read(MAX_DOCUMENT + 1)
    if len(raw) > MAX_DOCUMENT:
        raise Unreadable(
            f"The JSON document is larger than {MAX_DOCUMENT // 1024 // 1024} MB; "
            "split it into several files."
        )
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise Unreadable("The file is not UTF-8 text. Save it as UTF-8 and try again.") from None
    except ValueError as error:
        raise Unreadable(f"The file is not JSON: {error}.") from None
    items = items_of(document)
    if items is None:
        raise Unreadable("The JSON document does not hold a list of links where expected.")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            yield Row(number, problem=f"Item {number} is not a JSON object.")
            continue
        yield Row(number, {column_name(key): value for key, value in item.items()})


def starts_with_brace(stream: IO[bytes]) -> bool:
    """Torii's own JSON Lines start with `{`; its CSV with a header."""
    head = peek(stream).lstrip(BOM).lstrip()
    return head.startswith(b"{")
