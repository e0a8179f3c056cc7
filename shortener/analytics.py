"""Aggregations for a link's stats page, and its bar chart drawn as SVG on the server."""

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from shortener.models import Link, Visit

PERIODS = (30, 90)
TOP = 8


@dataclass(frozen=True)
class Totals:
    clicks: int
    unique_visitors: int
    humans: int
    bots: int


def totals(link: Link) -> Totals:
    counts = link.visits.aggregate(
        clicks=Count("id"),
        bots=Count("id", filter=Q(is_bot=True)),
        # The visitor hash is salted per day, so this counts visitor-days.
        unique_visitors=Count("visitor", distinct=True),
    )
    return Totals(
        clicks=counts["clicks"],
        unique_visitors=counts["unique_visitors"],
        humans=counts["clicks"] - counts["bots"],
        bots=counts["bots"],
    )


def daily(link: Link, days: int, today: date) -> list[tuple[date, int]]:
    """Clicks per day for the last `days` days up to `today`, zero-filled, oldest first."""
    start = today - timedelta(days=days - 1)
    rows = (
        link.visits.filter(at__date__gte=start)
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    by_day = dict(rows)
    return [
        (start + timedelta(days=i), by_day.get(start + timedelta(days=i), 0)) for i in range(days)
    ]


def top(link: Link, field: str, limit: int = TOP) -> list[tuple[str, int]]:
    rows = (
        link.visits.values_list(field)
        .annotate(n=Count("id"))
        .order_by("-n", field)
        .values_list(field, "n")[:limit]
    )
    return [(value or "(none)", n) for value, n in rows]


def breakdowns(link: Link) -> dict[str, list[tuple[str, int]]]:
    return {
        "Referrers": top(link, "referrer_host"),
        "Browsers": top(link, "browser"),
        "Operating systems": top(link, "os"),
        "Devices": top(link, "device"),
    }


def countries(link: Link, limit: int | None = None) -> list[tuple[str, int]]:
    """(ISO code or "" for unknown, visits), most first; every country unless `limit`."""
    rows = (
        link.visits.values_list("country")
        .annotate(n=Count("id"))
        .order_by("-n", "country")
        .values_list("country", "n")
    )
    return list(rows if limit is None else rows[:limit])


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
