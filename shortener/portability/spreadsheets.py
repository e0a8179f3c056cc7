"""CSV that spreadsheets open as data: a cell they would run as a formula is made text.

Every CSV Torii writes goes through `csv_lines`. Visit fields come from strangers (a
Referer header's host can be `=hyperlink("…")`), and Excel, LibreOffice and Sheets
evaluate a cell that starts with one of FORMULA_STARTS. OWASP's rule: prefix such a
cell with a single quote, which the spreadsheet shows as text and does not run.
"""

import csv
from collections.abc import Iterable, Iterator

# Tab and carriage return too: some spreadsheets skip them and run what follows.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet should read it: text that would be a formula is quoted.

    Only text is changed; numbers, booleans and None are ours, never a stranger's.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file for csv.writer that hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The header, then each row, as CSV lines made safe; lazily, for a streaming response."""
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])
