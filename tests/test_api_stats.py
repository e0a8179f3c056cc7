"""The API's stats: ranges as on the stats page, refusals as problems, rollups only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import Visit
from tests.api_client import ApiClient, assert_problem
from tests.conftest import flush_visits, make_link, make_visits

pytestmark = pytest.mark.django_db
LINKS = "/api/v1/links"


@pytest.fixture
def api(client):
    with override_flag("api_v1", active=True), override_flag("link_analytics", active=True):
        yield ApiClient(client)


def test_days_and_custom_ranges_sum_their_days(api):
    link = make_link(owner=api.user)
    make_visits(link, 2, browser="Firefox", referrer_host="news.example.com")
    make_visits(link, 4, days_ago=40, browser="Chrome", visitor="old")
    today = timezone.now().date()
    body = api.get(f"{LINKS}/{link.slug}/stats").json()
    assert (body["from"], body["to"]) == (f"{today - timedelta(days=29)}", f"{today}")
    assert (body["clicks"], body["unique_visitors"], body["humans"], body["bots"]) == (2, 1, 2, 0)
    assert body["breakdowns"]["referrer"] == [{"value": "news.example.com", "visits": 2}]
    assert set(body["breakdowns"]) == {"referrer", "browser", "os", "device"}
    ninety = api.get(f"{LINKS}/{link.slug}/stats", days=90).json()
    assert (ninety["clicks"], ninety["unique_visitors"], len(ninety["daily"])) == (6, 2, 90)
    assert ninety["breakdowns"]["browser"] == [
        {"value": "Chrome", "visits": 4},
        {"value": "Firefox", "visits": 2},
    ]
    old = today - timedelta(days=40)
    custom = api.get(f"{LINKS}/{link.slug}/stats", **{"from": f"{old}", "to": f"{old}"}).json()
    assert custom["clicks"] == 4 and custom["daily"] == [{"date": f"{old}", "visits": 4}]
    assert custom["_links"]["html"]["href"].endswith(f"/stats/?from={old}&to={old}")


def test_an_empty_parameter_is_one_not_sent(api):
    """`?to=` is a value the OpenAPI description allows: the default range, not a 400."""
    link = make_link(owner=api.user)
    today = timezone.now().date()
    for params in ({"to": ""}, {"from": "", "to": ""}, {"days": "", "from": "", "to": ""}):
        response = api.get(f"{LINKS}/{link.slug}/stats", **params)
        assert response.status_code == 200, params
        assert response.json()["from"] == f"{today - timedelta(days=29)}"
    week = api.get(f"{LINKS}/{link.slug}/stats", days="7", to="").json()
    assert week["from"] == f"{today - timedelta(days=6)}"


@pytest.mark.parametrize(
    ("params", "field", "detail"),
    [
        ({"days": "0"}, "days", "days must be a whole number from 1 to 366."),
        ({"days": "100000"}, "days", "days must be a whole number from 1 to 366."),
        ({"days": "1e3"}, "days", "days must be a whole number from 1 to 366."),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to", "to must not be before from."),
        ({"from": "yesterday", "to": "2026-02-01"}, "from", "from must be a date written"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to", "A range may span at most 366 days."),
        ({"to": "2026-01-01"}, "from", "A custom range needs both from and to."),
        ({"days": "7", "from": "2026-01-01", "to": "2026-01-02"}, "days", "Ask for either"),
    ],
)
def test_a_range_that_cannot_be_answered_is_a_400_problem(api, params, field, detail):
    link = make_link(owner=api.user)
    doc = assert_problem(api.get(f"{LINKS}/{link.slug}/stats", **params), 400, "malformed-request")
    assert doc["detail"].startswith(detail) and doc["errors"][field][0].startswith(detail)


def test_outside_the_data_without_visits_and_a_single_bot(api):
    link = make_link(owner=api.user)
    far = api.get(f"{LINKS}/{link.slug}/stats", **{"from": "1990-01-01", "to": "1990-01-02"})
    assert far.status_code == 200
    assert (far.json()["clicks"], far.json()["daily"][0]["visits"]) == (0, 0)
    assert all(rows == [] for rows in far.json()["breakdowns"].values())
    api.client.get(f"/{link.slug}", headers={"User-Agent": "Googlebot/2.1"})
    flush_visits()
    body = api.get(f"{LINKS}/{link.slug}/stats", days=1).json()
    assert (body["clicks"], body["unique_visitors"], body["humans"], body["bots"]) == (1, 1, 0, 1)
    assert body["breakdowns"]["device"] == [{"value": "bot", "visits": 1}]


def test_the_api_never_reads_raw_visits(api):
    link = make_link(owner=api.user)
    make_visits(link, 3)
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"{LINKS}/{link.slug}/stats", days=366).status_code == 200
    raw = connection.ops.quote_name(Visit._meta.db_table)
    assert not [q for q in queries.captured_queries if raw in q["sql"]]
