"""The site-wide stats page for staff: every link's clicks added up from the site's own
rollups (kept by every flush and every rebuild), the top links, the visits to no link,
the same ranges as a link's stats and a CSV of days."""

import csv
import io
import random
import re
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import DailyCount, DailyStat, SiteDailyCount, SiteDailyStat, Visit
from shortener.visits import rebuild
from tests.conftest import flush_visits, make_domain, make_link, make_user, make_visits
from tests.test_rollups import send

pytestmark = pytest.mark.django_db


def summed_links() -> tuple[dict, Counter]:
    """The links' rollups added up per day: what the site's must hold."""
    stats = defaultdict(lambda: [0, 0, 0])
    for row in DailyStat.objects.all():
        for i, n in enumerate((row.clicks, row.bots, row.visitors)):
            stats[row.day][i] += n
    counts = Counter()
    for row in DailyCount.objects.all():
        counts[row.dimension, row.day, row.value] += row.n
    return {day: tuple(v) for day, v in stats.items()}, +counts


def site_rows() -> tuple[dict, Counter]:
    stats = {r.day: (r.clicks, r.bots, r.visitors) for r in SiteDailyStat.objects.all()}
    counts = Counter({(r.dimension, r.day, r.value): r.n for r in SiteDailyCount.objects.all()})
    return {day: v for day, v in stats.items() if any(v)}, +counts


def test_the_site_rollups_are_the_links_added_up_through_flushes_and_rebuilds(monkeypatch):
    rng = random.Random(29)
    link_ids = [make_link().pk for _ in range(4)]
    for _ in range(3):
        send(link_ids, 120, rng, monkeypatch)
        assert flush_visits() == 120
    assert site_rows() == summed_links()
    assert sum(c for c, _, _ in site_rows()[0].values()) == 360
    # A rebuild of one link (after its visits were changed behind the rollups' back)
    # moves the site's rows with it.
    Visit.objects.filter(link_id=link_ids[0]).delete()
    rebuild.rebuild_locked(rebuild.Scope((link_ids[0],)))
    assert site_rows() == summed_links()
    rebuild.rebuild_locked(rebuild.Scope())
    assert site_rows() == summed_links()


@pytest.fixture
def staff(client):
    user = make_user("stan", is_staff=True)
    client.force_login(user)
    return user


def site_stats(client, path="site-stats", **params):
    with override_flag("link_analytics", active=True):
        return client.get(reverse(path), params)


def totals_shown(response) -> list[str]:
    return re.findall(r'stat-value">(\d+)', response.content.decode())


def test_staff_see_every_links_clicks_added_up_and_the_top_links(client, staff):
    olga, otto = make_user("olga"), make_user("otto")
    busy = make_link(owner=olga, slug="busy")
    quiet = make_link(owner=otto, slug="quiet", domain=make_domain("ex.co"))
    make_visits(busy, 5, referrer_host="news.example.com", country="DE")
    make_visits(busy, 2, days_ago=3, is_bot=True, device="bot", browser="Googlebot", visitor="b")
    make_visits(quiet, 3, referrer_host="t.co", country="FR", visitor="q")
    make_visits(quiet, 4, days_ago=60, visitor="old")  # outside the last 30 days

    response = site_stats(client)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Stats for the whole site" in body
    # clicks, unique visitors (the links' daily visitors added up), humans, bots
    assert totals_shown(response) == ["10", "3", "8", "2"]
    assert "news.example.com" in body and "t.co" in body and "Googlebot" in body
    assert "Germany" in body and "France" in body
    top = body[body.index('id="top-links-heading"') :]
    assert top.index("busy") < top.index("quiet")
    assert f"<td>{timezone.now().date():%Y-%m-%d}</td><td>8</td>" in body
    # The link's own page agrees with its share of the site's.
    with override_flag("link_analytics", active=True):
        own = client.get(reverse("link-stats", args=["busy"]))
    assert totals_shown(own) == ["7", "2", "5", "2"]
    # The 90 days include the old visits.
    assert totals_shown(site_stats(client, days="90")) == ["14", "4", "12", "2"]


def test_the_site_page_reads_a_fixed_number_of_queries_however_many_links(client, staff):
    for n in range(3):
        make_visits(make_link(slug=f"l{n}"), 2, visitor=f"v{n}")
    site_stats(client)  # warm the per-process caches (domains, flags)
    with CaptureQueriesContext(connection) as few:
        site_stats(client)
    for n in range(3, 12):
        make_visits(make_link(slug=f"l{n}"), 2, visitor=f"v{n}")
    with CaptureQueriesContext(connection) as many:
        response = site_stats(client)
    assert totals_shown(response)[0] == "24"

    def stats_queries(captured):  # not the per-process caches' reads, which expire in seconds
        return [q["sql"] for q in captured if 'FROM "shortener_domain"' not in q["sql"]]

    assert len(stats_queries(many.captured_queries)) == len(stats_queries(few.captured_queries))
    # Never the raw visits.
    assert not any(Visit._meta.db_table in q["sql"] for q in many.captured_queries)


def test_the_csv_has_a_row_a_day_of_the_range(client, staff):
    link = make_link(slug="busy")
    make_visits(link, 3, visitor="a")
    make_visits(link, 1, days_ago=2, is_bot=True, visitor="b")
    response = site_stats(client, "site-stats-csv", days="7")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "day",
        "clicks",
        "humans",
        "bots",
        "unique_visitors",
        "orphan_root",
        "orphan_unknown",
        "orphan_invalid",
    ]
    assert len(rows) == 1 + 7
    today = timezone.now().date()
    assert rows[-1] == [today.isoformat(), "3", "3", "0", "1", "0", "0", "0"]
    assert rows[-3][1:5] == ["1", "0", "1", "1"]
    # The page's CSV button asks for the range the page shows.
    page = site_stats(client, days="7").content.decode()
    assert f'href="{reverse("site-stats-csv")}?days=7"' in page


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"days": "0"}, "days must be a whole number from 1 to 366."),
        ({"days": "abc"}, "days must be a whole number from 1 to 366."),
        ({"from": "2026-13-01", "to": "2026-12-01"}, "from must be a date written YYYY-MM-DD."),
        ({"from": "2026-12-01"}, "A custom range needs both from and to."),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "to must not be before from."),
        ({"days": "7", "from": "2026-12-01", "to": "2026-12-02"}, "Ask for either days"),
    ],
)
def test_a_bad_range_is_a_400_that_says_why_on_the_page_and_the_csv(
    client, staff, params, sentence
):
    page = site_stats(client, **params)
    assert page.status_code == 400 and sentence in page.content.decode()
    file = site_stats(client, "site-stats-csv", **params)
    assert file.status_code == 400 and sentence in file.content.decode()
    assert not file.has_header("Content-Disposition")


def test_the_totals_fragment_refreshes_the_site_totals(client, staff):
    make_visits(make_link(), 2)
    with override_flag("link_analytics", active=True):
        response = client.get(
            reverse("site-stats"),
            {"days": "7"},
            headers={"HX-Request": "true", "HX-Target": "stats-totals"},
        )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="stats-totals"')
    assert f'hx-get="{reverse("site-stats")}?days=7"' in body
    assert totals_shown(response)[0] == "2"


def test_only_staff_see_the_page_and_its_header_link(client):
    make_visits(make_link(), 1)
    for user in (None, make_user("olga")):
        if user is not None:
            client.force_login(user)
        assert site_stats(client).status_code == 404
        assert site_stats(client, "site-stats-csv").status_code == 404
        with override_flag("link_analytics", active=True):
            assert reverse("site-stats") not in client.get(reverse("home")).content.decode()
    client.force_login(make_user("stan", is_staff=True))
    with override_flag("link_analytics", active=True):
        assert f'href="{reverse("site-stats")}"' in client.get(reverse("home")).content.decode()
    with override_flag("link_analytics", active=False):
        assert client.get(reverse("site-stats")).status_code == 404
        assert reverse("site-stats") not in client.get(reverse("home")).content.decode()


def test_rollup_visits_site_checks_and_adds_up_the_sites_rollups_again():
    link = make_link()
    make_visits(link, 4, referrer_host="news.example.com")
    out = io.StringIO()
    call_command("rollup_visits", "--site", "--check", stdout=out)
    assert "The site's rollups match its links'." in out.getvalue()
    SiteDailyStat.objects.all().delete()  # as after a restore of an older backup
    SiteDailyCount.objects.filter(dimension="referrer").delete()
    with pytest.raises(CommandError, match=r"difference\(s\) between the site's rollups"):
        call_command("rollup_visits", "--site", "--check", stdout=out)
    assert "the site's clicks, bots, visitors is [0, 0, 0], the links' add up to [4, 0, 1]" in (
        out.getvalue()
    )
    call_command("rollup_visits", "--site", stdout=out)
    assert site_rows() == summed_links()
    call_command("rollup_visits", "--site", "--check", stdout=out)
