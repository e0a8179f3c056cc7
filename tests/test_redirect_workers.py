"""Redirects under real load from several processes against granian with two workers:
counts are exact, visit limits hold across workers, a graceful stop loses nothing."""

import http.client
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from shortener.models import Link, Visit
from shortener.redirect.lookup import LOOKUP_TTL
from tests.conftest import make_link
from tests.servers import free_port, granian, own_redis, statuses

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_every_redirect_is_a_visit_and_limits_hold_across_workers():
    free = make_link(target="https://example.com/free")
    limited = make_link(target="https://example.com/limited", max_visits=40)
    with granian(workers=2) as url:
        urls = [f"{url}/{free.slug}"] * 300 + [f"{url}/{limited.slug}"] * 120
        codes = statuses(urls, processes=4)
    # granian has stopped gracefully here: every buffered visit must be written.
    free_codes = Counter(codes[:300])
    limited_codes = Counter(codes[300:])
    assert free_codes == {302: 300}
    assert limited_codes == {302: 40, 410: 80}
    assert Visit.objects.filter(link=free).count() == 300
    assert Visit.objects.filter(link=limited).count() == 40
    assert Link.objects.get(pk=free.pk).visit_count == 300
    assert Link.objects.get(pk=limited.pk).visit_count == 40
    assert set(Visit.objects.values_list("browser", flat=True)) == {"Other"}


def test_a_disabled_link_answers_410_within_the_lookup_bound():
    import time

    link = make_link()
    with granian(workers=2) as url:
        assert set(statuses([f"{url}/{link.slug}"] * 20, processes=2)) == {302}
        link.disable()
        disabled_at = time.monotonic()
        while set(statuses([f"{url}/{link.slug}"] * 10, processes=2)) != {410}:
            assert time.monotonic() - disabled_at < 2.5, "still redirecting after the bound"
            time.sleep(0.1)


def when_stored(link, visit_count: int, timeout: float = 10) -> float:
    """The time.monotonic() by which the flush thread has stored the link's count."""
    deadline = time.monotonic() + timeout
    while Link.objects.get(pk=link.pk).visit_count != visit_count:
        assert time.monotonic() < deadline, f"visit count never reached {visit_count}"
        time.sleep(0.05)
    return time.monotonic()


def page_of(url: str) -> tuple[int, http.client.HTTPMessage, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        return response.status, response.msg, response.read().decode()
    finally:
        connection.close()


def test_with_redis_stopped_limited_links_answer_503_and_the_others_redirect():
    free = make_link(target="https://example.com/free")
    limited = make_link(target="https://example.com/limited", max_visits=30)
    disabled = make_link(target="https://example.com/off", is_active=False)
    port = free_port()
    with own_redis(port) as redis, granian(env={"REDIS_URL": f"redis://127.0.0.1:{port}/0"}) as url:
        free_url, limited_url = f"{url}/{free.slug}", f"{url}/{limited.slug}"
        assert Counter(statuses([free_url] * 10 + [limited_url] * 10)) == {302: 20}
        flushed_at = when_stored(limited, visit_count=10)

        redis.terminate()
        redis.wait(timeout=10)
        during = statuses([free_url] * 40 + [limited_url] * 40)
        assert Counter(during[:40]) == {302: 40}
        assert Counter(during[40:]) == {503: 40}
        status, headers, body = page_of(limited_url)
        assert status == 503 and headers["Retry-After"] == "30"
        assert "no-store" in headers["Cache-Control"]
        assert "visits cannot be counted right now" in body
        # Every other page renders from the database: flags are read there, never a 500.
        assert page_of(f"{url}/NoSuchSlug")[0] == 404
        status, _, body = page_of(f"{url}/{disabled.slug}")
        assert status == 410 and "disabled" in body
        assert page_of(f"{url}/")[0] == 200

        with own_redis(port):  # back, and empty: the count starts again from the database,
            # from each worker's lookup of the link: those made before the flush are gone
            # LOOKUP_TTL after it (by now, mostly).
            time.sleep(max(0.0, flushed_at + LOOKUP_TTL - time.monotonic()))
            after = Counter(statuses([limited_url] * 40))
    assert after == {302: 20, 410: 20}
    assert Link.objects.get(pk=free.pk).visit_count == 50
    assert Link.objects.get(pk=limited.pk).visit_count == 30
