"""The terminal progress bars of the commands: table by table (backup, restore), and link by
link (export_redirects). Shown on a terminal only."""

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm


def rows_bar(desc: str) -> tuple[tqdm, Callable[[str, int], None]]:
    """A bar of rows (shown on a terminal only) and the `progress(table, rows so far)`
    callback that moves it."""
    bar = tqdm(unit=" rows", disable=not sys.stderr.isatty(), desc=desc)
    done: dict[str, int] = {}

    def progress(table: str, rows: int) -> None:
        bar.update(rows - done.get(table, 0))
        done[table] = rows

    return bar, progress


def items_bar(items: Iterable[Any], total: int, desc: str, unit: str) -> Iterator[Any]:
    """`items` passed through, a bar of `total` moving as they go."""
    return iter(
        tqdm(items, total=total, unit=f" {unit}", disable=not sys.stderr.isatty(), desc=desc)
    )
