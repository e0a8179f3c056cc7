"""Aggregations for a link's stats page and the whole site's, and their bar chart drawn
as SVG on the server. Each reads only rollups: a link's (DailyStat, DailyCount) or the
site's (SiteDailyStat, SiteDailyCount, and DailyStat's day index for the top links)."""

from dataclasses import dataclass
from datetime import date
from html import escape

from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce

from shortener.links.models import Link
from shortener.visits.models import (
    DailyCount,
    DailyStat,
    OrphanKind,
    OrphanVisit,
    SiteDailyCount,
    SiteDailyStat,
    Visit,
)
from shortener.visits.ranges import DateRange
from shortener.visits.rollups import DIMENSIONS

TOP = 8


class WholeSite:
    """What the site-wide stats are of: every link (`SITE`), where a link's are of one."""

    def __repr__(self) -> str:
        return "SITE"


SITE = WholeSite()
Subject = Link | WholeSite


@dataclass(frozen=True)
class Totals:
    clicks: int
    # Distinct visitors of each day, summed over the range: the visitor key is salted
    # per day, so one person on three days counts three times (visitor-days).
    unique_visitors: int
    humans: int
    bots: int


def _days(of: Subject, period: DateRange):
    span = (period.start, period.end)
    if of is SITE:
        return SiteDailyStat.objects.filter(day__range=span)
    return DailyStat.objects.filter(link=of, day__range=span)


def totals(of: Subject, period: DateRange) -> Totals:
    """One indexed read of at most a range's worth of daily rows (the htmx refresh)."""
    sums = _days(of, period).aggregate(
        clicks=Coalesce(Sum("clicks"), 0),
        bots=Coalesce(Sum("bots"), 0),
        visitors=Coalesce(Sum("visitors"), 0),
    )
    return _totals(sums["clicks"], sums["bots"], sums["visitors"])


def _totals(clicks: int, bots: int, visitors: int) -> Totals:
    return Totals(clicks=clicks, unique_visitors=visitors, humans=clicks - bots, bots=bots)


DayRow = tuple[date, int, int, int]  # (day, clicks, bots, visitors)


def day_rows(of: Subject, period: DateRange) -> list[DayRow]:
    """The range's daily rows in one read, for both the totals and the chart."""
    return list(_days(of, period).values_list("day", "clicks", "bots", "visitors"))


def totals_of(rows: list[DayRow]) -> Totals:
    return _totals(*(sum(row[i] for row in rows) for i in (1, 2, 3)))


def daily_of(rows: list[DayRow], period: DateRange) -> list[tuple[date, int]]:
    """Clicks per day over the range, zero-filled, oldest first."""
    by_day = {row[0]: row[1] for row in rows}
    return [(day, by_day.get(day, 0)) for day in period.dates()]


@dataclass(frozen=True)
class Breakdown:
    name: str
    heading: str
    label: str
    rows: list[tuple[str, int]]


def breakdowns(of: Subject, period: DateRange, limit: int = TOP) -> list[Breakdown]:
    """The most frequent values of every dimension over the range, in one read: summed
    per value, ranked within each dimension, the first `limit` kept."""
    quote = connection.ops.quote_name
    model = SiteDailyCount if of is SITE else DailyCount
    table = quote(model._meta.db_table)
    dimension, day, value, n = (
        quote(model._meta.get_field(name).column) for name in ("dimension", "day", "value", "n")
    )
    if of is SITE:
        whose, params = "", []
    else:
        whose, params = f"{quote(DailyCount._meta.get_field('link').column)} = %s AND ", [of.pk]
    # Countries have a table of their own (every country, flags as text): `countries()`.
    shown = [d for d in DIMENSIONS if d.name != "country"]
    names = [d.name for d in shown]
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT dimension, value, total FROM (SELECT {dimension} AS dimension, "  # noqa: S608 - names from _meta
            f"{value} AS value, SUM({n}) AS total, ROW_NUMBER() OVER (PARTITION BY "
            f"{dimension} ORDER BY SUM({n}) DESC, {value}) AS place FROM {table} "
            f"WHERE {whose}{dimension} IN ({', '.join(['%s'] * len(names))}) "
            f"AND {day} BETWEEN %s AND %s GROUP BY {dimension}, {value}) AS ranked "
            f"WHERE place <= %s ORDER BY dimension, place",
            [*params, *names, adapt(period.start), adapt(period.end), limit],
        )
        found: dict[str, list[tuple[str, int]]] = {name: [] for name in names}
        for name, found_value, total in cursor.fetchall():
            found[name].append((found_value or "(none)", int(total)))  # numeric on PostgreSQL
    return [Breakdown(d.name, d.heading, d.label, found[d.name]) for d in shown]


def countries(of: Subject, period: DateRange) -> list[tuple[str, int]]:
    """(ISO code or "" for unknown, visits) over the range, most first, every country."""
    span = (period.start, period.end)
    if of is SITE:
        counts = SiteDailyCount.objects.filter(dimension="country", day__range=span)
    else:
        counts = DailyCount.objects.filter(link=of, dimension="country", day__range=span)
    rows = (
        counts.values("value")
        .annotate(total=Sum("n"))
        .order_by("-total", "value")
        .values_list("value", "total")
    )
    return [(value, int(total)) for value, total in rows]  # SUM is numeric on PostgreSQL


TOP_LINKS_SECONDS = 60  # how long a range's ranking is reused (docs/links.md)


def top_links(period: DateRange, limit: int = TOP) -> list[tuple[Link, int]]:
    """The links clicked most over the range, most first: DailyStat's (day, link, clicks)
    index read alone, then the few links themselves. The only site-wide read that grows
    with the links (a row per link and day of the range), so its ranking is kept in the
    shared cache for TOP_LINKS_SECONDS."""
    key = f"site-top-links:{period.start}:{period.end}:{limit}"
    ranked = cache.get(key)
    if ranked is None:
        ranked = list(
            DailyStat.objects.filter(day__range=(period.start, period.end))
            .values("link")
            .annotate(total=Sum("clicks"))
            .order_by("-total", "link")
            .values_list("link", "total")[:limit]
        )
        cache.set(key, ranked, TOP_LINKS_SECONDS)
    found = Link.objects.select_related("domain").in_bulk([pk for pk, _ in ranked])
    return [(found[pk], int(total)) for pk, total in ranked if pk in found]


ORPHAN_KINDS = tuple(OrphanKind)


def orphans(period: DateRange) -> list[tuple[str, list[int]]]:
    """Per domain (its host), visits over the range to its root, to unknown slugs and to
    paths that are no slug (ORPHAN_KINDS order); the busiest first."""
    rows = (
        OrphanVisit.objects.filter(day__range=(period.start, period.end))
        .values_list("domain__host", "kind")
        .annotate(total=Sum("n"))
    )
    by_host: dict[str, list[int]] = {}
    for host, kind, total in rows:
        by_host.setdefault(host, [0] * len(ORPHAN_KINDS))[ORPHAN_KINDS.index(kind)] = int(total)
    return sorted(by_host.items(), key=lambda item: (-sum(item[1]), item[0]))


def orphans_by_day(period: DateRange) -> dict[date, list[int]]:
    """Every domain's orphan visits of each day of the range, in ORPHAN_KINDS order."""
    by_day = {day: [0] * len(ORPHAN_KINDS) for day in period.dates()}
    rows = (
        OrphanVisit.objects.filter(day__range=(period.start, period.end))
        .values_list("day", "kind")
        .annotate(total=Sum("n"))
    )
    for day, kind, total in rows:
        by_day[day][ORPHAN_KINDS.index(kind)] = int(total)
    return by_day


def visits_for_export(link: Link):
    return (
        Visit.objects.filter(link=link)
        .order_by("at", "id")
        .values_list(
            "at", "referrer_host", "browser", "os", "device", "is_bot", "visitor", "country"
        )
        .iterator(chunk_size=2000)
    )


def bar_chart(series: list[tuple[date, int]], title: str, description: str) -> str:
    """An accessible SVG bar chart (title, description, one bar per day)."""
    width, height, left, bottom, top_pad = 720, 220, 40, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    peak = max((n for _, n in series), default=0)
    scale = peak or 1
    step = plot_w / max(len(series), 1)
    bar_w = max(step * 0.75, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{width - 8}" '
        f'y2="{top_pad + plot_h}"/>',
        f'<text class="label" x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{peak}</text>',
        f'<text class="label" x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end">0</text>',
    ]
    label_every = 7 if len(series) <= 31 else 14
    for index, (day, count) in enumerate(series):
        bar_h = plot_h * count / scale
        x = left + index * step + (step - bar_w) / 2
        y = top_pad + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}">'
            f"<title>{day.isoformat()}: {count} click{'s' if count != 1 else ''}</title></rect>"
        )
        last = index == len(series) - 1
        if index % label_every == 0 or (last and index % label_every > label_every // 2):
            parts.append(
                f'<text class="label" x="{x + bar_w / 2:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{day:%b %d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
