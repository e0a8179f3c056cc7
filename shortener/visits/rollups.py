# ruff: noqa: S608 - every name in this SQL comes from _meta; every value is a parameter
"""Daily rollups of visits: added to by every flush, rebuilt and checked from raw visits.

Per link and UTC day: clicks, bots and distinct visitors (DailyStat), and one count per
value of each breakdown in DIMENSIONS (DailyCount); the same summed over every link per
day for the site-wide stats (SiteDailyStat, SiteDailyCount). `add()` runs inside visits.write()'s
transaction, so the rollups move with the visits, all or nothing. A visitor is new on its
day when its (link, day, visitor) row inserts (DailyVisitor; ON CONFLICT DO NOTHING
RETURNING says which did), so daily unique visitors stay exact without a recount.

Rebuilding them from raw visits, and checking them, is shortener/rollup_rebuild.py.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import connection


@dataclass(frozen=True)
class Dimension:
    name: str  # DailyCount.dimension
    column: str  # the Visit field counted
    heading: str  # the stats page's section for it
    label: str  # its table's column header


# A new breakdown is one line here (and its Visit column in visits.VISIT_COLUMNS).
DIMENSIONS = (
    Dimension("referrer", "referrer_host", "Referrers", "Referrer"),
    Dimension("browser", "browser", "Browsers", "Browser"),
    Dimension("os", "os", "Operating systems", "Operating system"),
    Dimension("device", "device", "Devices", "Device"),
    Dimension("country", "country", "Countries", "Country"),
)
# Rows in one multi-row VALUES insert on SQLite: 5 columns stay far inside its variable limit.
VALUES_PER_STATEMENT = 300


def tables():
    from shortener.links.models import Link
    from shortener.visits.models import DailyCount, DailyStat, DailyVisitor, Visit

    return quote, column, Link, Visit, DailyStat, DailyCount, DailyVisitor


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def column(model, name: str) -> str:
    return quote(model._meta.get_field(name).column)


def add(cursor, rows: list[tuple], days: list[date], columns: tuple[str, ...]) -> None:
    """Add visit rows (in `columns` order, as inserted) on their `days` to the rollups.

    Counts are summed here first, so a batch writes one row per link-day and per
    link-day-value, and one per distinct visitor, in a few statements."""
    quote, column, _, _, DailyStat, DailyCount, DailyVisitor = tables()
    link_at, bot_at, visitor_at = (columns.index(n) for n in ("link_id", "is_bot", "visitor"))
    dimension_at = [(d.name, columns.index(d.column)) for d in DIMENSIONS]
    stats: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    counts: Counter[tuple[int, str, date, str]] = Counter()
    visitors: set[tuple[int, date, str]] = set()
    for row, day in zip(rows, days, strict=True):
        link_id = row[link_at]
        totals = stats[link_id, day]
        totals[0] += 1
        totals[1] += bool(row[bot_at])
        visitors.add((link_id, day, row[visitor_at]))
        for name, at in dimension_at:
            counts[link_id, name, day, row[at]] += 1

    table = quote(DailyVisitor._meta.db_table)
    link, day_col = column(DailyVisitor, "link"), column(DailyVisitor, "day")
    names = [link, day_col, column(DailyVisitor, "visitor")]
    returning = f"ON CONFLICT DO NOTHING RETURNING {link}, {day_col}"
    for link_id, day in upsert(
        cursor, table, names, ("bigint", "date", "text"), visitors, returning
    ):
        stats[link_id, as_date(day)][2] += 1  # only the rows that were new

    table = quote(DailyStat._meta.db_table)
    keys = [column(DailyStat, n) for n in ("link", "day")]
    sums = [column(DailyStat, n) for n in ("clicks", "bots", "visitors")]
    upsert(
        cursor,
        table,
        keys + sums,
        ("bigint", "date", "bigint", "bigint", "bigint"),
        [(link_id, day, *totals) for (link_id, day), totals in stats.items()],
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums),
    )
    table = quote(DailyCount._meta.db_table)
    keys = [column(DailyCount, n) for n in ("link", "dimension", "day", "value")]
    n = column(DailyCount, "n")
    upsert(
        cursor,
        table,
        [*keys, n],
        ("bigint", "text", "date", "text", "bigint"),
        [(*key, count) for key, count in counts.items()],
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {n} = {table}.{n} + excluded.{n}",
    )
    site_stats: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (_, day), totals in stats.items():
        site_stats[day] = [a + b for a, b in zip(site_stats[day], totals, strict=True)]
    site_counts: Counter[tuple[str, date, str]] = Counter()
    for (_, name, day, value), count in counts.items():
        site_counts[name, day, value] += count
    add_to_site(cursor, site_stats, site_counts)


def add_to_site(
    cursor, stats: dict[date, list[int]], counts: Counter[tuple[str, date, str]]
) -> None:
    """Add (or, with negative numbers, take away) days of every link to the site's
    rollups: {day: [clicks, bots, visitors]} and {(dimension, day, value): n}."""
    from shortener.visits.models import SiteDailyCount, SiteDailyStat

    table = quote(SiteDailyStat._meta.db_table)
    key = column(SiteDailyStat, "day")
    sums = [column(SiteDailyStat, n) for n in ("clicks", "bots", "visitors")]
    upsert(
        cursor,
        table,
        [key, *sums],
        ("date", "bigint", "bigint", "bigint"),
        [(day, *totals) for day, totals in stats.items()],
        f"ON CONFLICT ({key}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums),
    )
    table = quote(SiteDailyCount._meta.db_table)
    keys = [column(SiteDailyCount, n) for n in ("dimension", "day", "value")]
    n = column(SiteDailyCount, "n")
    upsert(
        cursor,
        table,
        [*keys, n],
        ("text", "date", "text", "bigint"),
        [(*key, count) for key, count in counts.items()],
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {n} = {table}.{n} + excluded.{n}",
    )


def upsert(cursor, table: str, names: list[str], types, rows, conflict: str) -> list[tuple]:
    """Insert rows with one ON CONFLICT clause; the rows it RETURNs, if it asks.

    PostgreSQL: one statement over unnest() of one array per column, since psycopg
    composing thousands of rows on the client (Django's default) cost more CPU than the
    rest of the flush (docs/performance.md). SQLite: multi-row VALUES statements, whose
    binding in sqlite3 is cheap."""
    rows = list(rows)
    if not rows:
        return []
    columns = ", ".join(names)
    adapt = connection.ops.adapt_datefield_value
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict}",
            [list(values) for values in zip(*rows, strict=True)],
        )
        return cursor.fetchall() if "RETURNING" in conflict else []
    dates = [i for i, kind in enumerate(types) if kind == "date"]
    returned = []
    for first in range(0, len(rows), VALUES_PER_STATEMENT):
        chunk = rows[first : first + VALUES_PER_STATEMENT]
        one = f"({', '.join(['%s'] * len(names))})"
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} {conflict}",
            [adapt(v) if i in dates else v for row in chunk for i, v in enumerate(row)],
        )
        if "RETURNING" in conflict:
            returned += cursor.fetchall()
    return returned


def as_date(value) -> date:
    """A date column as a driver returns it: a date (psycopg) or ISO text (sqlite3)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
