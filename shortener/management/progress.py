"""The terminal progress bar of the commands that go table by table (backup, restore)."""

import sys
from collections.abc import Callable

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
