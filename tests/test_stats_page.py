"""A link's stats page: totals, the daily SVG chart, breakdowns, CSV, behind link_analytics."""

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import Visit
from shortener.visits import analytics, ranges
from shortener.visits.recording import MAX_REFERRER, MAX_USER_AGENT
from tests.conftest import flush_visits, make_link, make_user, make_visits

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = make_user("olga")
    client.force_login(user)
    return user


def test_stats_show_totals_chart_and_breakdowns(client, owner):
    link = make_link(owner=owner)
    make_visits(link, 3, referrer_host="news.example.com", visitor="a")
    make_visits(link, 2, days_ago=3, is_bot=True, device="bot", browser="Googlebot", visitor="b")
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


def stats(client, link, **params):
    with override_flag("link_analytics", active=True):
        return client.get(reverse("link-stats", args=[link.slug]), params)


def totals_shown(response) -> list[str]:
    return re.findall(r'stat-value">(\d+)', response.content.decode())


def test_periods_and_a_custom_range_in_the_query_string(client, owner):
    link = make_link(owner=owner)
    make_visits(link, 2)
    make_visits(link, 5, days_ago=40, visitor="old")
    body = stats(client, link).content.decode()
    assert 'href="?days=7"' in body and 'href="?days=90"' in body
    assert '<strong aria-current="true">Last 30 days</strong>' in body
    assert '<form method="get"' in body and 'name="from"' in body and 'name="to"' in body
    assert stats(client, link, days="7").content.decode().count('<rect class="bar"') == 7
    assert stats(client, link, days="90").content.decode().count('<rect class="bar"') == 90
    assert totals_shown(stats(client, link)) == ["2", "1", "2", "0"]
    assert totals_shown(stats(client, link, days="90")) == ["7", "2", "7", "0"]
    old = (timezone.now() - timedelta(days=40)).date()
    custom = stats(client, link, **{"from": f"{old}", "to": f"{old + timedelta(days=1)}"})
    body = custom.content.decode()
    assert custom.status_code == 200 and totals_shown(custom) == ["5", "1", "5", "0"]
    assert body.count('<rect class="bar"') == 2
    assert f'hx-get="/links/{link.slug}/stats/?from={old}&amp;to={old + timedelta(days=1)}"' in body
    assert f"{old} to {old + timedelta(days=1)}" in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days": "-5"}, "days must be a whole number from 1 to 366."),
        ({"days": "100000"}, "days must be a whole number from 1 to 366."),
        ({"days": "ten"}, "days must be a whole number from 1 to 366."),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to must not be before from."),
        ({"from": "2026-02-31", "to": "2026-03-01"}, "from must be a date written YYYY-MM-DD."),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "A range may span at most 366 days."),
        ({"from": "2026-01-01"}, "A custom range needs both from and to."),
        ({"days": "7", "from": "2026-01-01", "to": "2026-01-02"}, "Ask for either days or"),
    ],
)
def test_a_range_that_cannot_be_answered_is_a_400_that_says_why(client, owner, params, message):
    link = make_link(owner=owner)
    make_visits(link, 3)
    response = stats(client, link, **params)
    body = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" role="alert">' in body and message in body
    assert "Showing the last 30 days instead." in body
    assert totals_shown(response) == ["3", "1", "3", "0"]  # the default range, still correct
    with override_flag("link_analytics", active=True):
        fragment = client.get(
            reverse("link-stats", args=[link.slug]),
            params,
            headers={"HX-Request": "true", "HX-Target": "stats-totals"},
        )
    assert fragment.status_code == 400


def test_a_range_outside_the_data_and_a_link_without_visits_show_zeros(client, owner):
    link = make_link(owner=owner)
    empty = make_link(owner=owner)
    make_visits(link, 3)
    for response in (
        stats(client, link, **{"from": "1990-01-01", "to": "1990-12-31"}),
        stats(client, link, **{"from": "2090-01-01", "to": "2090-01-07"}),
        stats(client, empty),
        stats(client, empty, days="1"),
    ):
        assert response.status_code == 200
        assert totals_shown(response) == ["0", "0", "0", "0"]
        # four breakdowns and the countries table
        assert response.content.decode().count("No visits on these days.") == 5


def test_a_day_with_a_single_bot_visit(client, owner):
    link = make_link(owner=owner)
    client.get(f"/{link.slug}", headers={"User-Agent": "curl/8.5.0"})
    assert flush_visits() == 1
    response = stats(client, link, days="1")
    body = response.content.decode()
    assert totals_shown(response) == ["1", "1", "0", "1"]
    assert breakdown_row("bot", 1) in body and breakdown_row("curl", 1) in body
    assert breakdown_row("(none)", 1) in body  # no referrer


def test_agents_and_referrers_at_their_length_limits(client, owner):
    link = make_link(owner=owner)
    host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 " + "z" * MAX_USER_AGENT
    referrer = f"https://{host}/" + "p" * MAX_REFERRER
    for _ in range(2):
        client.get(f"/{link.slug}", headers={"User-Agent": agent, "Referer": referrer})
    assert flush_visits() == 2
    response = stats(client, link)
    assert response.status_code == 200 and totals_shown(response) == ["2", "1", "2", "0"]
    assert breakdown_row(host, 2) in response.content.decode()


def test_the_page_the_totals_and_the_api_never_read_raw_visits(client, owner):
    link = make_link(owner=owner)
    make_visits(link, 3)
    raw = connection.ops.quote_name(Visit._meta.db_table)
    with CaptureQueriesContext(connection) as page:
        assert stats(client, link, days="90").status_code == 200
    with (
        CaptureQueriesContext(connection) as fragment,
        override_flag("link_analytics", active=True),
    ):
        client.get(
            reverse("link-stats", args=[link.slug]),
            headers={"HX-Request": "true", "HX-Target": "stats-totals"},
        )
    sql = [q["sql"] for q in page.captured_queries + fragment.captured_queries]
    assert not [q for q in sql if raw in q]
    stat_reads = [q for q in fragment.captured_queries if "dailystat" in q["sql"]]
    assert len(stat_reads) == 1  # the refresh: one read of the daily rows


def test_htmx_refresh_answers_only_the_totals(client, owner):
    link = make_link(owner=owner)
    make_visits(link, 4)
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
    make_visits(link, 3, referrer_host="a.example")
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
    make_visits(link, 2, days_ago=1)
    today = timezone.now().date()
    period = ranges.last_days(7, today)
    series = analytics.daily_of(analytics.day_rows(link, period), period)
    assert [d for d, _ in series] == [today - timedelta(days=6 - i) for i in range(7)]
    assert dict(series)[today - timedelta(days=1)] == 2 and sum(n for _, n in series) == 2


def test_the_chart_is_accessible_and_escapes_text():
    svg = analytics.bar_chart([(date(2026, 1, 1), 3)], "<b>Title</b>", "Desc & more")
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert "&lt;b&gt;Title&lt;/b&gt;" in svg and "Desc &amp; more" in svg


def breakdown_row(value: str, clicks: int) -> str:
    """A breakdown table's row as the page draws it (cells labelled for phone cards)."""
    return f'class="destination">{value}</td><td data-label="Clicks" class="number">{clicks}</td>'
