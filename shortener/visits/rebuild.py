# ruff: noqa: S608 - every name in this SQL comes from _meta; every value is a parameter
"""The daily rollups rebuilt from raw visits, and checked against them (`rollup_visits`).

Days whose raw visits were deleted (`prune_visits`, shortener/visits/retention.py) live
only in the rollups: every scope is cut to the days after them (`kept()`), so neither a
rebuild nor a check ever touches them. The site's rollups move with the links': a
rebuild takes the scope's old rows away from them and adds its new ones.

`rebuild()` replaces a `Scope`'s rollups with a GROUP BY over its raw visits (INSERT ...
SELECT); the command runs `rebuild_locked()` in batches from `plan()` while the site
serves, each batch in a transaction that first locks its links' rows, the lock every
flush takes before it writes a link's visits (see visits.write()). `check()` compares
`recount()` with `stored()` in one snapshot.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

from shortener.visits.rollups import DIMENSIONS, add_to_site, as_date, tables


def _day_sql(column: str) -> str:
    """The UTC day of a stored visit time, in this database's SQL."""
    if connection.vendor == "sqlite":  # Django stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'
        return f"date({column})"
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    raise NotImplementedError(
        f"rollups are written for SQLite and PostgreSQL, not {connection.vendor}"
    )


@dataclass(frozen=True)
class Scope:
    """Some links (all when None) on some days (all when start and end are None)."""

    link_ids: tuple[int, ...] | None = None
    start: date | None = None
    end: date | None = None

    def where(self, link: str, day: str | None = None, at: str | None = None):
        """(SQL condition, params) over rollup rows (`day`) or raw visits (`at`)."""
        parts, params = ["1 = 1"], []
        if self.link_ids is not None:
            parts.append(f"{link} IN ({', '.join(['%s'] * len(self.link_ids))})")
            params.extend(self.link_ids)
        # date.min and date.max stand for "no bound" (a split link's first and last range).
        if self.start not in (None, date.min):
            first = datetime.combine(self.start, time(), UTC)
            parts.append(f"{day} >= %s" if day else f"{at} >= %s")
            params.append(
                connection.ops.adapt_datefield_value(self.start)
                if day
                else connection.ops.adapt_datetimefield_value(first)
            )
        if self.end not in (None, date.max):
            after = datetime.combine(self.end, time(), UTC) + timedelta(days=1)
            parts.append(f"{day} <= %s" if day else f"{at} < %s")
            params.append(
                connection.ops.adapt_datefield_value(self.end)
                if day
                else connection.ops.adapt_datetimefield_value(after)
            )
        return " AND ".join(parts), params


def kept(scope: Scope) -> Scope | None:
    """The scope without the days whose raw visits were pruned; None when nothing is left."""
    from shortener.visits.models import PrunedVisits

    pruned = PrunedVisits.objects.filter(pk=1).values_list("before", flat=True).first()
    if pruned is None or (scope.start not in (None, date.min) and scope.start >= pruned):
        return scope
    if scope.end not in (None, date.max) and scope.end < pruned:
        return None
    return replace(scope, start=pruned)


def site_sums(scope: Scope) -> tuple[dict[date, list[int]], Counter]:
    """The scope's link rollups added up per day, in the database: what they give the
    site's rollups ({day: [clicks, bots, visitors]}, {(dimension, day, value): n})."""
    quote, column, _, _, DailyStat, DailyCount, _ = tables()
    stats: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    counts: Counter = Counter()
    with connection.cursor() as cursor:
        day = column(DailyStat, "day")
        where, params = scope.where(column(DailyStat, "link"), day=day)
        sums = ", ".join(f"SUM({column(DailyStat, n)})" for n in ("clicks", "bots", "visitors"))
        cursor.execute(
            f"SELECT {day}, {sums} FROM {quote(DailyStat._meta.db_table)} WHERE {where} "
            f"GROUP BY {day}",
            params,
        )
        for d, *totals in cursor.fetchall():
            stats[as_date(d)] = [int(n) for n in totals]  # SUM is numeric on PostgreSQL
        keys = ", ".join(column(DailyCount, n) for n in ("dimension", "day", "value"))
        where, params = scope.where(column(DailyCount, "link"), day=column(DailyCount, "day"))
        cursor.execute(
            f"SELECT {keys}, SUM({column(DailyCount, 'n')}) FROM "
            f"{quote(DailyCount._meta.db_table)} WHERE {where} GROUP BY {keys}",
            params,
        )
        for name, d, value, n in cursor.fetchall():
            counts[name, as_date(d), value] = int(n)
    return stats, counts


def resum_site() -> None:
    """The site's rollups made again from every link's (not from raw visits: a GROUP BY
    over the rollups), in one transaction holding every link's row lock, as a rebuild of
    every link does, so no flush commits in between."""
    from shortener.links.models import Link
    from shortener.visits.models import SiteDailyCount, SiteDailyStat

    with transaction.atomic():
        list(Link.objects.select_for_update().order_by("pk").values("pk"))
        SiteDailyStat.objects.all().delete()
        SiteDailyCount.objects.all().delete()
        stats, counts = site_sums(Scope())
        with connection.cursor() as cursor:
            add_to_site(cursor, stats, counts)


def site_differences() -> list[tuple[date, str, object, object]]:
    """Where the site's rollups are not the links' added up: (day, what, summed, stored)."""
    from shortener.visits.models import SiteDailyCount, SiteDailyStat

    with transaction.atomic():
        stats, counts = site_sums(Scope())
        stored_stats = {
            row[0]: list(row[1:])
            for row in SiteDailyStat.objects.values_list("day", "clicks", "bots", "visitors")
        }
        stored_counts = Counter(
            {
                (name, day, value): n
                for name, day, value, n in SiteDailyCount.objects.values_list(
                    "dimension", "day", "value", "n"
                )
            }
        )
    found = []
    for day in sorted(set(stats) | set(stored_stats)):
        summed, kept = stats.get(day, [0, 0, 0]), stored_stats.get(day, [0, 0, 0])
        if summed != kept:
            found.append((day, "the site's clicks, bots, visitors", summed, kept))
    for key in sorted(set(+counts) | set(+stored_counts)):
        if counts[key] != stored_counts[key]:
            name, day, value = key
            found.append((day, f"the site's {name} {value!r}", counts[key], stored_counts[key]))
    return found


def rebuild(scope: Scope) -> None:
    """Replace the scope's rollups with a recount of its raw visits (the caller's
    transaction; `rebuild_locked()` for a site that is serving). Pruned days are left as
    they are."""
    scope = kept(scope)
    if scope is None:
        return
    old_stats, old_counts = site_sums(scope)
    _rebuild(scope)
    stats, counts = site_sums(scope)
    for day, totals in old_stats.items():
        stats[day] = [new - was for new, was in zip(stats[day], totals, strict=True)]
    counts.subtract(old_counts)
    with connection.cursor() as cursor:
        add_to_site(
            cursor,
            {day: totals for day, totals in stats.items() if any(totals)},
            Counter({key: n for key, n in counts.items() if n}),
        )


def _rebuild(scope: Scope) -> None:
    quote, column, _, Visit, DailyStat, DailyCount, DailyVisitor = tables()
    visits = quote(Visit._meta.db_table)
    v_link, v_at = column(Visit, "link"), column(Visit, "at")
    day = _day_sql(v_at)
    raw_where, raw_params = scope.where(v_link, at=v_at)
    with connection.cursor() as cursor:
        for model in (DailyStat, DailyCount, DailyVisitor):
            where, params = scope.where(column(model, "link"), day=column(model, "day"))
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {where}", params)
        names = ", ".join(column(DailyVisitor, n) for n in ("link", "day", "visitor"))
        cursor.execute(
            f"INSERT INTO {quote(DailyVisitor._meta.db_table)} ({names}) "
            f"SELECT DISTINCT {v_link}, {day}, {column(Visit, 'visitor')} FROM {visits} "
            f"WHERE {raw_where}",
            raw_params,
        )
        names = ", ".join(
            column(DailyStat, n) for n in ("link", "day", "clicks", "bots", "visitors")
        )
        cursor.execute(
            f"INSERT INTO {quote(DailyStat._meta.db_table)} ({names}) "
            f"SELECT {v_link}, {day}, COUNT(*), "
            f"SUM(CASE WHEN {column(Visit, 'is_bot')} THEN 1 ELSE 0 END), "
            f"COUNT(DISTINCT {column(Visit, 'visitor')}) FROM {visits} WHERE {raw_where} "
            f"GROUP BY {v_link}, {day}",
            raw_params,
        )
        names = ", ".join(column(DailyCount, n) for n in ("link", "dimension", "day", "value", "n"))
        for dimension in DIMENSIONS:
            value = column(Visit, dimension.column)
            cursor.execute(
                f"INSERT INTO {quote(DailyCount._meta.db_table)} ({names}) "
                f"SELECT {v_link}, %s, {day}, {value}, COUNT(*) FROM {visits} "
                f"WHERE {raw_where} GROUP BY {v_link}, {day}, {value}",
                [dimension.name, *raw_params],
            )


def rebuild_locked(scope: Scope) -> None:
    """`rebuild()` in its own transaction that first locks the scope's link rows.

    A flush locks a link's row (its counter update) before it writes the link's visits
    and rollups, so a flush either commits before this recount reads, and is counted,
    or waits until it commits and then adds to the rebuilt rows. On SQLite the
    transaction's BEGIN IMMEDIATE takes the database's write lock, to the same effect."""
    from shortener.links.models import Link

    with transaction.atomic():
        if scope.link_ids is not None:
            ids = sorted(scope.link_ids)
            list(Link.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        else:
            list(Link.objects.select_for_update().order_by("pk").values("pk"))
        rebuild(scope)


@dataclass(frozen=True)
class Batch:
    scope: Scope
    visits: int


def plan(link_ids: Iterable[int] | None, visits_per_batch: int) -> Iterator[Batch]:
    """The command's batches: whole links packed up to `visits_per_batch` raw visits, and a
    link with more split into ranges of days that together cover every day."""
    quote, column, _, Visit, DailyStat, *_ = tables()
    visits, v_link = quote(Visit._meta.db_table), column(Visit, "link")
    wanted = None if link_ids is None else tuple(sorted(set(link_ids)))
    where, params = Scope(wanted).where(v_link)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {v_link}, COUNT(*) FROM {visits} WHERE {where} GROUP BY {v_link}",
            params,
        )
        sizes = dict(cursor.fetchall())
        if wanted is None:  # links with rollups and no visits left: rebuilt to nothing
            stat_link = column(DailyStat, "link")
            cursor.execute(f"SELECT DISTINCT {stat_link} FROM {quote(DailyStat._meta.db_table)}")
            wanted = tuple(sorted(set(sizes) | {row[0] for row in cursor.fetchall()}))
    packed: list[int] = []
    packed_visits = 0
    for link_id in wanted:
        size = sizes.get(link_id, 0)
        if size > visits_per_batch:
            yield from _split(link_id, visits_per_batch)
            continue
        if packed and (packed_visits + size > visits_per_batch or len(packed) >= 500):
            yield Batch(Scope(tuple(packed)), packed_visits)
            packed, packed_visits = [], 0
        packed.append(link_id)
        packed_visits += size
    if packed:
        yield Batch(Scope(tuple(packed)), packed_visits)


def _split(link_id: int, visits_per_batch: int) -> Iterator[Batch]:
    quote, column, _, Visit, *_ = tables()
    at = column(Visit, "at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_day_sql(at)}, COUNT(*) FROM {quote(Visit._meta.db_table)} "
            f"WHERE {column(Visit, 'link')} = %s GROUP BY 1 ORDER BY 1",
            [link_id],
        )
        days = [(as_date(day), n) for day, n in cursor.fetchall()]
    start, size = date.min, 0
    for index, (day, n) in enumerate(days):
        size += n
        last = index == len(days) - 1
        if last or size + days[index + 1][1] > visits_per_batch:
            yield Batch(Scope((link_id,), start, date.max if last else day), size)
            start, size = day + timedelta(days=1), 0


# What --check compares: rollup rows keyed the same way from both sides.
Rows = dict[str, dict[tuple, tuple]]


def recount(scope: Scope) -> Rows:
    """The scope's rollups as a rebuild would write them, counted from raw visits."""
    quote, column, _, Visit, *_ = tables()
    visits, v_link, v_at = quote(Visit._meta.db_table), column(Visit, "link"), column(Visit, "at")
    day = _day_sql(v_at)
    where, params = scope.where(v_link, at=v_at)
    rows: Rows = {"stat": {}, "count": {}}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {v_link}, {day}, COUNT(*), "
            f"SUM(CASE WHEN {column(Visit, 'is_bot')} THEN 1 ELSE 0 END), "
            f"COUNT(DISTINCT {column(Visit, 'visitor')}) FROM {visits} WHERE {where} "
            f"GROUP BY {v_link}, {day}",
            params,
        )
        for link_id, d, clicks, bots, visitors in cursor.fetchall():
            # The visitor rows behind the daily uniques must number the uniques.
            rows["stat"][link_id, as_date(d)] = (clicks, bots, visitors, visitors)
        for dimension in DIMENSIONS:
            value = column(Visit, dimension.column)
            cursor.execute(
                f"SELECT {v_link}, {day}, {value}, COUNT(*) FROM {visits} WHERE {where} "
                f"GROUP BY {v_link}, {day}, {value}",
                params,
            )
            for link_id, d, v, n in cursor.fetchall():
                rows["count"][link_id, dimension.name, as_date(d), v] = (n,)
    return rows


def stored(scope: Scope) -> Rows:
    """The scope's rollups as stored, in recount()'s shape."""
    quote, column, _, _, DailyStat, DailyCount, DailyVisitor = tables()
    rows: Rows = {"stat": {}, "count": {}}
    with connection.cursor() as cursor:
        link, day = column(DailyVisitor, "link"), column(DailyVisitor, "day")
        where, params = scope.where(link, day=day)
        cursor.execute(
            f"SELECT {link}, {day}, COUNT(*) FROM {quote(DailyVisitor._meta.db_table)} "
            f"WHERE {where} GROUP BY {link}, {day}",
            params,
        )
        keys = {(link_id, as_date(d)): n for link_id, d, n in cursor.fetchall()}
        names = ", ".join(
            column(DailyStat, n) for n in ("link", "day", "clicks", "bots", "visitors")
        )
        where, params = scope.where(column(DailyStat, "link"), day=column(DailyStat, "day"))
        cursor.execute(
            f"SELECT {names} FROM {quote(DailyStat._meta.db_table)} WHERE {where}",
            params,
        )
        for link_id, d, clicks, bots, visitors in cursor.fetchall():
            d = as_date(d)
            rows["stat"][link_id, d] = (clicks, bots, visitors, keys.pop((link_id, d), 0))
        for (link_id, d), n in keys.items():  # visitor rows without a day's totals
            rows["stat"][link_id, d] = (0, 0, 0, n)
        names = ", ".join(column(DailyCount, n) for n in ("link", "dimension", "day", "value", "n"))
        where, params = scope.where(column(DailyCount, "link"), day=column(DailyCount, "day"))
        cursor.execute(
            f"SELECT {names} FROM {quote(DailyCount._meta.db_table)} WHERE {where}",
            params,
        )
        for link_id, name, d, value, n in cursor.fetchall():
            rows["count"][link_id, name, as_date(d), value] = (n,)
    return rows


STAT_FIELDS = ("clicks", "bots", "unique visitors", "visitor rows")


def differences(expected: Rows, actual: Rows) -> Iterator[tuple[int, date, str, object, object]]:
    """(link id, day, what, recounted, stored) for every rollup value that differs."""
    zero_stat, zero_count = (0, 0, 0, 0), (0,)
    for key in sorted(expected["stat"].keys() | actual["stat"].keys()):
        want, have = expected["stat"].get(key, zero_stat), actual["stat"].get(key, zero_stat)
        for name, w, h in zip(STAT_FIELDS, want, have, strict=True):
            if w != h:
                yield (*key, name, w, h)
    for key in sorted(expected["count"].keys() | actual["count"].keys()):
        want, have = expected["count"].get(key, zero_count), actual["count"].get(key, zero_count)
        if want != have:
            link_id, name, day, value = key
            yield (link_id, day, f"{name} {value!r}", want[0], have[0])


def check(scope: Scope) -> list[tuple[int, date, str, object, object]]:
    """Recount and compare inside one transaction, so both sides see the same visits
    (REPEATABLE READ on PostgreSQL; SQLite's transaction is a snapshot already)."""
    outermost = not connection.in_atomic_block  # else the caller's transaction decides
    scope = kept(scope)
    if scope is None:
        return []
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return list(differences(recount(scope), stored(scope)))
