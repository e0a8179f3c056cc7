"""Following short links: GET/HEAD /<slug>, the 404 and 410 pages, the preview page."""

import logging
from datetime import timedelta

import pytest
from django.core.cache.backends.base import BaseCache
from django.urls import reverse
from django.utils import timezone

from shortener.models import Link
from shortener.redirect import views
from tests.conftest import flush_visits, make_link

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_live_link_answers_its_redirect_code(client, code):
    link = make_link(target="https://example.com/landing?utm=1#top", redirect_code=code)
    response = client.get(f"/{link.slug}")
    assert response.status_code == code
    assert response["Location"] == "https://example.com/landing?utm=1#top"
    assert response.content == b""


def test_head_redirects_too_and_counts_nothing(client):
    link = make_link()
    response = client.head(f"/{link.slug}")
    assert response.status_code == 302 and response["Location"] == link.target
    assert Link.objects.get(pk=link.pk).visit_count == 0


def test_a_redirect_sets_no_cookie_and_is_not_cached(client):
    link = make_link()
    response = client.get(f"/{link.slug}")
    assert not response.cookies
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_an_unknown_slug_is_the_404_page(client):
    response = client.get("/NoSuchSlug")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.parametrize("path", ["/no%20such", "/a.b", "/" + "x" * 65, "/%00"])
def test_impossible_slugs_are_404(client, path):
    assert client.get(path).status_code == 404


def test_slugs_are_case_sensitive_when_followed(client):
    make_link(slug="Promo")
    assert client.get("/Promo").status_code == 302
    assert client.get("/promo").status_code == 404


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: make_link(is_active=False), "has been disabled"),
        (lambda: make_link(expires_at=timezone.now() - timedelta(minutes=1)), "has expired"),
        (lambda: make_link(max_visits=1, visit_count_to=1), "maximum number of visits"),
        (lambda: make_link(delete=True), "has been deleted"),
    ],
)
def test_gone_links_are_410_and_say_why(client, make, reason, monkeypatch):
    link = make()
    for method in (client.get, client.head):
        response = method(f"/{link.slug}")
        assert response.status_code == 410
        assert "Location" not in response
    assert reason in client.get(f"/{link.slug}").content.decode()


def test_max_visits_stops_exactly_at_the_limit(client):
    link = make_link(max_visits=3)
    codes = [client.get(f"/{link.slug}").status_code for _ in range(5)]
    assert codes == [302, 302, 302, 410, 410]
    assert flush_visits() == 3
    assert Link.objects.get(pk=link.pk).visit_count == 3


def test_the_preview_page_shows_where_a_link_leads(client):
    link = make_link(title="Quarterly report", target="https://example.com/q3.pdf")
    response = client.get(f"/{link.slug}+")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Quarterly report" in body and "https://example.com/q3.pdf" in body
    assert 'href="https://example.com/q3.pdf"' in body
    assert link.created_at.strftime("%Y") in body
    assert Link.objects.get(pk=link.pk).visit_count == 0


def test_the_preview_of_a_gone_link_is_410(client):
    link = make_link(is_active=False)
    assert client.get(f"/{link.slug}+").status_code == 410


def test_preview_and_follow_urls_come_from_reverse(client):
    link = make_link()
    assert reverse("follow", args=[link.slug]) == f"/{link.slug}"
    assert reverse("preview", args=[link.slug]) == f"/{link.slug}+"


def test_a_link_expiring_later_still_redirects(client):
    link = make_link(expires_at=timezone.now() + timedelta(minutes=5))
    assert client.get(f"/{link.slug}").status_code == 302


# --- The counters cache down: limited links answer 503, the others keep redirecting ------


class DownCounters(BaseCache):
    """A counters cache that cannot be reached, as a stopped Redis or a broken LMDB."""

    def __init__(self, location, params):
        super().__init__(params)

    def add(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    get = set = incr = delete = add

    def clear(self):
        pass


class CountLosingCounters(DownCounters):
    """Answers without raising but keeps nothing, as a cache that evicts at once."""

    def add(self, *args, **kwargs):
        return False

    def incr(self, *args, **kwargs):
        return None


@pytest.fixture(params=[DownCounters, CountLosingCounters])
def counters_down(request, settings, monkeypatch):
    backend = f"{__name__}.{request.param.__name__}"
    settings.CACHES = {**settings.CACHES, "counters": {"BACKEND": backend}}


def test_a_limited_link_answers_503_while_the_counters_are_down(client, counters_down):
    link = make_link(max_visits=5)
    response = client.get(f"/{link.slug}")
    assert response.status_code == 503
    assert "Location" not in response
    assert response["Retry-After"] == "30"
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Temporarily unavailable" in page
    assert "visits cannot be counted right now" in page
    assert "Go to the home page" in page  # the site's page, not a bare body
    assert flush_visits() == 0
    assert Link.objects.get(pk=link.pk).visit_count == 0


def test_links_without_a_limit_keep_redirecting_while_the_counters_are_down(client, counters_down):
    link = make_link()
    assert [client.get(f"/{link.slug}").status_code for _ in range(3)] == [302, 302, 302]
    assert flush_visits() == 3
    assert Link.objects.get(pk=link.pk).visit_count == 3


def test_a_head_needs_no_counter_and_still_redirects(client, counters_down):
    link = make_link(max_visits=5)
    response = client.head(f"/{link.slug}")
    assert response.status_code == 302 and response["Location"] == link.target


def test_the_counters_being_down_is_logged_once_a_minute(client, counters_down, caplog):
    limited = make_link(max_visits=5)
    with caplog.at_level(logging.WARNING):
        codes = {client.get(f"/{limited.slug}").status_code for _ in range(10)}
    assert codes == {503}
    lines = [r.getMessage() for r in caplog.records if r.name == "shortener.redirect.claims"]
    assert len(lines) == 1
    assert not [r for r in caplog.records if r.name == "django.request"]  # not one a click
    assert "Counters cache unavailable" in lines[0]
    assert "links with a visit limit answer 503" in lines[0]


def test_the_log_line_comes_again_after_the_interval_with_what_it_held_back(
    client, counters_down, caplog, monkeypatch, log_throttles
):
    now = [1000.0]
    for throttle in log_throttles:
        monkeypatch.setattr(throttle, "clock", lambda: now[0])
    limited = make_link(max_visits=5)
    with caplog.at_level(logging.ERROR, logger="shortener.redirect.claims"):
        client.get(f"/{limited.slug}")
        client.get(f"/{limited.slug}")
        client.get(f"/{limited.slug}")
        now[0] += 59.9
        client.get(f"/{limited.slug}")
        now[0] += 0.1
        client.get(f"/{limited.slug}")
    lines = [r.getMessage() for r in caplog.records if r.name == "shortener.redirect.claims"]
    assert len(lines) == 2
    assert "held back" not in lines[0]
    assert lines[1].endswith("[3 more like this held back in the last 60 s]")


def test_a_503_page_that_cannot_render_is_still_a_503(client, counters_down, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("the flags live in the cache that is down")

    monkeypatch.setattr(views, "render", broken)
    link = make_link(max_visits=5)
    response = client.get(f"/{link.slug}")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "visits cannot be counted right now" in response.content.decode()


def test_the_count_continues_when_the_counters_are_back(client, settings):
    link = make_link(max_visits=3)
    follow = lambda: client.get(f"/{link.slug}").status_code  # noqa: E731
    assert follow() == 302
    real = settings.CACHES
    settings.CACHES = {**real, "counters": {"BACKEND": f"{__name__}.DownCounters"}}
    assert [follow(), follow()] == [503, 503]  # refused, and nothing claimed
    settings.CACHES = real
    assert [follow(), follow(), follow(), follow()] == [302, 302, 410, 410]
    assert flush_visits() == 3
    assert Link.objects.get(pk=link.pk).visit_count == 3


def test_a_counter_that_vanishes_between_add_and_incr_is_seeded_again(client, monkeypatch):
    from django.core.cache import caches

    link = make_link(max_visits=2)
    counters = caches["counters"]
    real_incr = counters.incr
    vanished = []

    def incr_once_missing(key, *args, **kwargs):
        if not vanished:
            vanished.append(key)
            counters.delete(key)  # evicted or flushed just now
        return real_incr(key, *args, **kwargs)

    monkeypatch.setattr(counters, "incr", incr_once_missing)
    codes = [client.get(f"/{link.slug}").status_code for _ in range(3)]
    assert vanished and codes == [302, 302, 410]
