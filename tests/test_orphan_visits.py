"""Visits to no link: a short domain's root, unknown slugs and paths that are no slug,
counted per day, domain and kind in memory and written with the visit flush; nothing of
the path or the visitor is kept, and a live redirect pays nothing for it."""

import csv
import io

import pytest
from django.db import DatabaseError, InterfaceError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.domains.models import Domain
from shortener.models import OrphanVisit
from shortener.visits import orphans
from tests.conftest import flush_visits, make_domain, make_link, make_user
from tests.test_fast_redirects import apps, call, environ  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_counts_left():
    orphans.flush()  # what an earlier test's requests counted is not this test's
    OrphanVisit.objects.all().delete()


def counted() -> dict[tuple[str, str], int]:
    return {(o.domain.host, o.kind): o.n for o in OrphanVisit.objects.select_related("domain")}


def site_host() -> str:
    return Domain.objects.site().host


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/nosuchlink", "unknown"),
        ("/nosuchlink+", "unknown"),  # the preview of a link that is not there
        ("/" + "a" * 65, "invalid"),  # longer than any slug
        ("/" + "a" * 5000, "invalid"),
        ("/%FF%FE%00", "invalid"),  # odd bytes
        ("/caf\u00e9", "invalid"),
        ("/wp-login.php", "invalid"),
        ("/a%20b", "invalid"),  # a space
    ],
)
def test_each_miss_is_counted_by_kind_and_nothing_of_its_path_is_kept(client, path, kind):
    assert client.get(path).status_code == 404
    assert not OrphanVisit.objects.exists()  # nothing written by the request itself
    flush_visits()
    assert counted() == {(site_host(), kind): 1}
    row = OrphanVisit.objects.get()
    assert row.day == timezone.now().date()
    # Every column of the row: a day, a domain, a kind and a count.
    assert {f.name for f in OrphanVisit._meta.concrete_fields} == {
        "day",
        "domain",
        "kind",
        "n",
    }


def test_a_request_writes_nothing_and_a_flush_writes_one_row_per_day_domain_and_kind(client):
    ex = make_domain("ex.co")
    with CaptureQueriesContext(connection) as during:
        for _ in range(5):
            client.get("/gone-missing")
        client.get("/", HTTP_HOST="ex.co")
        client.get("/other", HTTP_HOST="ex.co")
    table = OrphanVisit._meta.db_table
    assert not any(table in q["sql"] for q in during.captured_queries)
    flush_visits()
    assert counted() == {(site_host(), "unknown"): 5, (ex.host, "root"): 1, (ex.host, "unknown"): 1}
    client.get("/gone-missing")
    flush_visits()
    assert counted()[site_host(), "unknown"] == 6  # added to the day's row


def test_roots_count_on_short_domains_not_the_sites_own_home_page(client):
    make_domain("ex.co", root_redirect="https://example.com/")
    assert client.get("/", HTTP_HOST="ex.co").status_code == 302
    assert client.head("/", HTTP_HOST="ex.co").status_code == 302
    assert client.get("/").status_code == 200  # the site's home page
    flush_visits()
    assert counted() == {("ex.co", "root"): 2}


def test_an_unknown_slug_sent_to_the_domains_unknown_redirect_still_counts(client):
    make_domain("ex.co", unknown_redirect="https://example.com/sorry")
    response = client.get("/nosuch", HTTP_HOST="ex.co")
    assert response.status_code == 302 and response["Location"] == "https://example.com/sorry"
    flush_visits()
    assert counted() == {("ex.co", "unknown"): 1}


def test_links_and_the_sites_own_pages_count_nothing(client):
    link = make_link(slug="live")
    gone = make_link(slug="gone")
    gone.is_active = False
    gone.save()
    assert client.get(f"/{link.slug}").status_code == 302
    assert client.get("/gone").status_code == 410
    assert client.get("/links/nosuch/").status_code in (302, 404)  # a page, not a visit
    assert client.post("/nosuch").status_code in (403, 404, 405)
    flush_visits()
    assert counted() == {}


def test_through_the_wsgi_fast_path_a_redirect_counts_nothing_and_a_miss_counts(apps):  # noqa: F811
    fast, _ = apps
    link = make_link(slug="fastone")
    status, _, _ = call(fast, environ(f"/{link.slug}"))
    assert status.startswith("302")
    status, _, _ = call(fast, environ("/nosuch"))
    assert status.startswith("404")
    status, _, _ = call(fast, environ("/\xff\xfe" + "x" * 300))
    assert status.startswith("404")
    flush_visits()
    assert counted() == {(site_host(), "unknown"): 1, (site_host(), "invalid"): 1}


def test_counts_wait_in_memory_while_the_database_refuses_them(client, monkeypatch):
    client.get("/nosuch")
    real = orphans.write

    def refuse(counts):
        raise DatabaseError("the database is away")

    def closed(counts):
        raise InterfaceError("connection already closed")

    link = make_link(slug="stillcounted")
    for failure in (refuse, closed):
        monkeypatch.setattr(orphans, "write", failure)
        assert client.get(f"/{link.slug}").status_code == 302
        assert flush_visits() == 1  # the visits are written all the same
    assert not OrphanVisit.objects.exists() and orphans.pending() == 1
    client.get("/nosuch")
    monkeypatch.setattr(orphans, "write", real)
    flush_visits()
    assert counted() == {(site_host(), "unknown"): 2} and orphans.pending() == 0


def test_staff_see_the_counts_per_domain_on_the_site_page_and_in_its_csv(client):
    make_domain("ex.co")
    for _ in range(3):
        client.get("/", HTTP_HOST="ex.co")
    client.get("/nope", HTTP_HOST="ex.co")
    client.get("/%FF")
    flush_visits()
    client.force_login(make_user("stan", is_staff=True))
    with override_flag("link_analytics", active=True):
        body = client.get(reverse("site-stats")).content.decode()
        file = client.get(reverse("site-stats-csv"), {"days": "1"})
    section = body[body.index('id="orphans-heading"') :]
    assert "ex.co" in section and site_host() in section
    assert section.index("ex.co") < section.index(site_host())  # the busiest first
    assert '<td data-label="Domain root" class="number">3</td>' in section
    rows = list(csv.reader(io.StringIO(b"".join(file.streaming_content).decode())))
    assert rows[1][-3:] == ["3", "1", "1"]
