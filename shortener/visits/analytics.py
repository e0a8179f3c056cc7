"""Aggregations for a link's stats page, and its bar chart drawn as SVG on the server."""

from dataclasses import dataclass
from datetime import date
from html import escape

from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce

from shortener.links.models import Link
from shortener.visits.models import DailyCount, DailyStat, Visit
from shortener.visits.ranges import DateRange
from shortener.visits.rollups import DIMENSIONS

TOP = 8


@dataclass(frozen=True)
class Totals:
    clicks: int
    # Distinct visitors of each day, summed over the range: the visitor key is salted
    # per day, so one person on three days counts three times (visitor-days).
    unique_visitors: int
    humans: int
    bots: int


def _days(link: Link, period: DateRange):
    return DailyStat.objects.filter(link=link, day__range=(period.start, period.end))


def totals(link: Link, period: DateRange) -> Totals:
    """One indexed read of at most a range's worth of daily rows (the htmx refresh)."""
    sums = _days(link, period).aggregate(
        clicks=Coalesce(Sum("clicks"), 0),
        bots=Coalesce(Sum("bots"), 0),
        visitors=Coalesce(Sum("visitors"), 0),
    )
    return _totals(sums["clicks"], sums["bots"], sums["visitors"])


def _totals(clicks: int, bots: int, visitors: int) -> Totals:
    return Totals(clicks=clicks, unique_visitors=visitors, humans=clicks - bots, bots=bots)


DayRow = tuple[date, int, int, int]  # (day, clicks, bots, visitors)


def day_rows(link: Link, period: DateRange) -> list[DayRow]:
    """The range's daily rows in one read, for both the totals and the chart."""
    return list(_days(link, period).values_list("day", "clicks", "bots", "visitors"))


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


def breakdowns(link: Link, period: DateRange, limit: int = TOP) -> list[Breakdown]:
    """The most frequent values of every dimension over the range, in one read: summed
    per value, ranked within each dimension, the first `limit` kept."""
    quote = connection.ops.quote_name
    table = quote(DailyCount._meta.db_table)
    link_id, dimension, day, value, n = (
        quote(DailyCount._meta.get_field(name).column)
        for name in ("link", "dimension", "day", "value", "n")
    )
    # Countries have a table of their own (every country, flags as text): `countries()`.
    shown = [d for d in DIMENSIONS if d.name != "country"]
    names = [d.name for d in shown]
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT dimension, value, total FROM (SELECT {dimension} AS dimension, "  # noqa: S608 - names from _meta
            f"{value} AS value, SUM({n}) AS total, ROW_NUMBER() OVER (PARTITION BY "
            f"{dimension} ORDER BY SUM({n}) DESC, {value}) AS place FROM {table} "
            f"WHERE {link_id} = %s AND {dimension} IN ({', '.join(['%s'] * len(names))}) "
            f"AND {day} BETWEEN %s AND %s GROUP BY {dimension}, {value}) AS ranked "
            f"WHERE place <= %s ORDER BY dimension, place",
            [link.pk, *names, adapt(period.start), adapt(period.end), limit],
        )
        found: dict[str, list[tuple[str, int]]] = {name: [] for name in names}
        for name, found_value, total in cursor.fetchall():
            found[name].append((found_value or "(none)", int(total)))  # numeric on PostgreSQL
    return [Breakdown(d.name, d.heading, d.label, found[d.name]) for d in shown]


def countries(link: Link, period: DateRange) -> list[tuple[str, int]]:
    """(ISO code or "" for unknown, visits) over the range, most first, every country."""
    rows = (
        DailyCount.objects.filter(
            link=link, dimension="country", day__range=(period.start, period.end)
        )
        .values("value")
        .annotate(total=Sum("n"))
        .order_by("-total", "value")
        .values_list("value", "total")
    )
    return [(value, int(total)) for value, total in rows]  # SUM is numeric on PostgreSQL


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
