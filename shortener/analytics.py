"""Aggregations over a link's visits for the stats page and the API."""

from datetime import date, timedelta

from django.utils import timezone

from shortener.models import Link


def daily_visits(link: Link, days: int) -> dict[date, int]:
    """Visits per UTC day for the last `days` days, oldest first, every day present.

    Visits are not yet recorded one by one (only `Link.visit_count`), so every day
    counts 0 for now. When the Visit model lands, fill `counts` from it, e.g.
    Visit.objects.filter(link=link, at__date__gte=first).values("at__date").annotate(n=Count("id")).
    """
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    counts: dict[date, int] = {}
    return {first + timedelta(n): counts.get(first + timedelta(n), 0) for n in range(days)}
