"""The per-process lookup cache in front of the slug query, and the fast-path middleware."""

import time

import pytest
from cachetools import TTLCache
from django.http import HttpResponse
from django.test import RequestFactory

from shortener.domains import served
from shortener.redirect import lookup, middleware
from tests.conftest import flush_visits, make_link, per_day

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(
        lookup,
        "_lookups",
        TTLCache(maxsize=lookup.LOOKUP_SIZE, ttl=lookup.LOOKUP_TTL, timer=clock),
    )
    return clock


def test_a_disable_takes_effect_within_the_lookup_ttl(client, clock):
    link = make_link()
    assert client.get(f"/{link.slug}").status_code == 302
    link.disable()
    clock.now += lookup.LOOKUP_TTL - 0.5
    assert client.get(f"/{link.slug}").status_code == 302  # still cached: the documented bound
    clock.now += 0.6
    assert client.get(f"/{link.slug}").status_code == 410


def test_one_query_per_slug_per_ttl(client, clock, django_assert_num_queries):
    link = make_link()
    served.table()  # the domains are read once per process and TTL as well, not per slug
    lookup.follow_changes(time.time())  # and so is the change feed (its first look too)
    with django_assert_num_queries(1):
        for _ in range(20):
            client.get(f"/{link.slug}")


def test_unknown_slugs_cannot_fill_the_cache_without_bound(client, monkeypatch):
    monkeypatch.setattr(lookup, "_lookups", TTLCache(maxsize=50, ttl=2))
    for n in range(300):
        assert client.get(f"/unknown{n}").status_code == 404
    assert len(lookup._lookups) <= 50


def test_the_middleware_answers_live_links_without_calling_the_rest():
    link = make_link(redirect_code=307)
    calls = []

    def rest(request):
        calls.append(request.path)
        return HttpResponse("slow path")

    answer = middleware.RedirectMiddleware(rest)
    response = answer(RequestFactory().get(f"/{link.slug}"))
    assert (response.status_code, response["Location"], calls) == (307, link.target, [])
    assert flush_visits() == 1


@pytest.mark.parametrize("path", ["/", "/links/", "/NoSuchLink", "/abc+", "/static/x.css"])
def test_the_middleware_passes_everything_else_on(path):
    answer = middleware.RedirectMiddleware(lambda request: HttpResponse("rest"))
    assert answer(RequestFactory().get(path)).content == b"rest"


def test_the_middleware_passes_gone_links_on_to_the_410_page(client):
    link = make_link(is_active=False)
    answer = middleware.RedirectMiddleware(lambda request: HttpResponse("rest"))
    assert answer(RequestFactory().get(f"/{link.slug}")).content == b"rest"
    assert "disabled" in client.get(f"/{link.slug}").content.decode()


def test_post_to_a_slug_is_not_a_redirect(client):
    link = make_link()
    response = client.post(f"/{link.slug}")
    assert response.status_code == 405
    assert flush_visits() == 0


@pytest.mark.parametrize(
    "path", ["/%ff%fe", "/" + "a" * 5000, "/caf%C3%A9", "/..%2f..%2fetc", "/a%00b"]
)
def test_junk_paths_get_the_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_live_redirects_on_the_fast_path_are_rate_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "redirect": per_day(3)}
    link = make_link()
    codes = [client.get(f"/{link.slug}").status_code for _ in range(5)]
    assert codes == [302, 302, 302, 429, 429]
    refused = client.get(f"/{link.slug}")
    assert refused["Retry-After"] and "RateLimit" in refused
    assert flush_visits() == 3  # refused requests are not visits
