"""A link's stats page: totals, the daily SVG chart, breakdowns, CSV, behind link_analytics."""

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener import analytics
from shortener.models import Visit
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = make_user("olga")
    client.force_login(user)
    return user


def add_visits(link, count, *, days_ago=0, **fields):
    at = timezone.now() - timedelta(days=days_ago)
    defaults = {"browser": "Firefox", "os": "Linux", "device": "desktop", "visitor": "v1"}
    Visit.objects.bulk_create(
        Visit(link=link, at=at, **{**defaults, **fields}) for _ in range(count)
    )


def test_stats_show_totals_chart_and_breakdowns(client, owner):
    link = make_link(owner=owner)
    add_visits(link, 3, referrer_host="news.example.com", visitor="a")
    add_visits(link, 2, days_ago=3, is_bot=True, device="bot", browser="Googlebot", visitor="b")
    with override_flag("link_analytics", active=True):
        response = client.get(reverse("link-stats", args=[link.slug]))
    body = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'stat-value">(\d+)', body) == ["5", "2", "3", "2"]
    assert (
        '<svg class="chart"' in body
        and '<title id="chart-title">Clicks per day, last 30 days' in body
    )
    assert body.count('<rect class="bar"') == 30
    assert "news.example.com" in body and "Googlebot" in body
    assert f"<td>{timezone.now().date():%Y-%m-%d}</td><td>3</td>" in body


def test_ninety_days_and_junk_periods(client, owner):
    link = make_link(owner=owner)
    with override_flag("link_analytics", active=True):
        ninety = client.get(reverse("link-stats", args=[link.slug]), {"days": "90"})
        junk = client.get(reverse("link-stats", args=[link.slug]), {"days": "-5"})
    assert ninety.content.decode().count('<rect class="bar"') == 90
    assert junk.content.decode().count('<rect class="bar"') == 30


def test_htmx_refresh_answers_only_the_totals(client, owner):
    link = make_link(owner=owner)
    add_visits(link, 4)
    with override_flag("link_analytics", active=True):
        response = client.get(
            reverse("link-stats", args=[link.slug]),
            headers={"HX-Request": "true", "HX-Target": "stats-totals"},
        )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="stats-totals"')
    assert 'hx-trigger="every 5s"' in body and "data-poll-visible" in body
    assert "<svg" not in body
    assert "HX-Request" in response["Vary"]


def test_csv_download_lists_every_visit(client, owner):
    link = make_link(owner=owner)
    add_visits(link, 3, referrer_host="a.example")
    with override_flag("link_analytics", active=True):
        response = client.get(reverse("link-visits-csv", args=[link.slug]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "time",
        "referrer_host",
        "browser",
        "os",
        "device",
        "bot",
        "visitor",
        "country",
    ]
    assert len(rows) == 4 and rows[1][1] == "a.example"
    assert datetime.fromisoformat(rows[1][0])


def test_stats_are_404_when_the_flag_is_off(client, owner):
    link = make_link(owner=owner)
    with override_flag("link_analytics", active=False):
        assert client.get(reverse("link-stats", args=[link.slug])).status_code == 404
        assert client.get(reverse("link-visits-csv", args=[link.slug])).status_code == 404
        assert ">Stats<" not in client.get(link.get_absolute_url()).content.decode()
    with override_flag("link_analytics", active=True):
        assert ">Stats<" in client.get(link.get_absolute_url()).content.decode()


def test_other_peoples_stats_are_404(client, owner):
    link = make_link(owner=make_user("someone"))
    with override_flag("link_analytics", active=True):
        assert client.get(reverse("link-stats", args=[link.slug])).status_code == 404
        assert client.get(reverse("link-visits-csv", args=[link.slug])).status_code == 404


def test_daily_series_is_zero_filled_oldest_first():
    link = make_link()
    add_visits(link, 2, days_ago=1)
    today = timezone.now().date()
    series = analytics.daily(link, 7, today)
    assert [d for d, _ in series] == [today - timedelta(days=6 - i) for i in range(7)]
    assert dict(series)[today - timedelta(days=1)] == 2 and sum(n for _, n in series) == 2


def test_the_chart_is_accessible_and_escapes_text():
    svg = analytics.bar_chart([(date(2026, 1, 1), 3)], "<b>Title</b>", "Desc & more")
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert "&lt;b&gt;Title&lt;/b&gt;" in svg and "Desc &amp; more" in svg
