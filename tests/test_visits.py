"""Visits: what is recorded per click, what is never stored, and exact counts after a flush."""

from datetime import date

import pytest
from django.test import RequestFactory

from shortener.models import Link, Visit
from shortener.policy import user_agents
from shortener.visits import recording
from tests.conftest import flush_visits, make_link

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (IPHONE, ("Mobile Safari", "iOS", "mobile", False)),
        (IPAD, ("Mobile Safari", "iOS", "tablet", False)),
        (LINUX_FIREFOX, ("Firefox", "Linux", "desktop", False)),
        (GOOGLEBOT, ("Googlebot", "Other", "bot", True)),
        ("curl/8.5.0", ("curl", "Other", "bot", True)),
        ("", ("", "", "other", False)),
    ],
)
def test_user_agents_are_classified(agent, expected):
    browser, system, device, is_bot = user_agents.classify(agent)
    assert (device, is_bot) == expected[2:]
    assert browser.startswith(expected[0]) and system == expected[1]


@pytest.mark.parametrize(
    ("referrer", "host"),
    [
        ("https://News.Example.com/story?id=1", "news.example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("not a url", ""),
        ("http://[::1/broken", ""),
        ("https://exa\x00mple.com/", "example.com"),
        ("", ""),
    ],
)
def test_only_the_referrer_host_is_kept(referrer, host):
    assert recording.referrer_host(referrer) == host


def test_the_visitor_key_changes_with_the_day_and_hides_the_address(db):
    today = recording.visitor_key("203.0.113.9", LINUX_FIREFOX, date(2026, 11, 27))
    again = recording.visitor_key("203.0.113.9", LINUX_FIREFOX, date(2026, 11, 27))
    tomorrow = recording.visitor_key("203.0.113.9", LINUX_FIREFOX, date(2026, 11, 28))
    other = recording.visitor_key("203.0.113.10", LINUX_FIREFOX, date(2026, 11, 27))
    assert today == again and today != tomorrow and today != other
    assert "203.0.113" not in today and len(today) == 32


@pytest.mark.django_db
def test_one_browser_counts_once_a_day_whatever_happens_to_the_caches(client):
    """A Redis restart, an eviction or a cleared cache, and a restarted worker, between
    every visit: the day's salt is the database's, so five visits are one visitor."""
    from django.core.cache import caches

    from shortener.models import DailyVisitor

    link = make_link()
    for _ in range(5):
        client.get(f"/{link.slug}", REMOTE_ADDR="198.51.100.7", headers={"User-Agent": IPHONE})
        flush_visits()
        for cache in caches.all():
            cache.clear()
        recording._salts.clear()  # what a restarted worker remembers: nothing
    assert Visit.objects.filter(link=link).values("visitor").distinct().count() == 1
    assert DailyVisitor.objects.filter(link=link).count() == 1
    assert Link.objects.get(pk=link.pk).visit_count == 5


@pytest.mark.django_db(transaction=True)
def test_a_new_process_computes_the_same_visitor_key_even_with_another_secret_key(tmp_path):
    """A restart onto empty caches (a data directory of its own, no Redis) and another
    SECRET_KEY: the same browser has the same key that day."""
    from django.utils import timezone

    from tests.conftest import run_manage, test_database_url

    today = timezone.now().date()
    here = recording.visitor_key("198.51.100.7", IPHONE, today)
    code = (
        "from datetime import date; from shortener.visits.recording import visitor_key; "
        f"print(visitor_key('198.51.100.7', {IPHONE!r}, date.fromisoformat('{today}')))"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        env={
            "DATABASE_URL": test_database_url(),
            "DATA_DIR": str(tmp_path / "fresh"),
            "REDIS_URL": "",
            "SECRET_KEY": "another-" + "k" * 50,
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == here


@pytest.mark.django_db
def test_a_days_salt_is_made_once_and_deleted_after_two_days():
    from datetime import timedelta

    from shortener.models import VisitorSalt

    first = date(2026, 11, 27)
    for offset in range(4):
        recording.visitor_key("203.0.113.9", LINUX_FIREFOX, first + timedelta(days=offset))
    recording._salts.clear()
    recording.visitor_key("203.0.113.9", LINUX_FIREFOX, first + timedelta(days=3))  # again
    days = sorted(VisitorSalt.objects.values_list("day", flat=True))
    assert days == [first + timedelta(days=2), first + timedelta(days=3)]
    salts = VisitorSalt.objects.values_list("salt", flat=True)
    assert len(set(salts)) == 2 and all(len(salt) == 32 for salt in salts)


@pytest.mark.django_db
def test_n_redirects_make_n_visits_and_a_total_of_n(client):
    link = make_link()
    for _ in range(25):
        assert client.get(f"/{link.slug}", headers={"User-Agent": IPHONE}).status_code == 302
    assert Visit.objects.count() == 0  # nothing is written on the request path
    assert flush_visits() == 25
    assert Visit.objects.filter(link=link).count() == 25
    assert Link.objects.get(pk=link.pk).visit_count == 25


@pytest.mark.django_db
def test_flushed_visits_are_found_by_day_and_time(client):
    from django.utils import timezone

    from shortener.visits import analytics, ranges

    link = make_link()
    client.get(f"/{link.slug}")
    flush_visits()
    visit = Visit.objects.get()
    assert abs((timezone.now() - visit.at).total_seconds()) < 60
    today = ranges.last_days(1, timezone.now().date())
    assert analytics.daily_of(analytics.day_rows(link, today), today)[-1][1] == 1
    assert Visit.objects.filter(at__date=timezone.now().date()).count() == 1


@pytest.mark.django_db
def test_a_visit_stores_no_ip_address(client):
    link = make_link()
    client.get(
        f"/{link.slug}",
        REMOTE_ADDR="198.51.100.77",
        headers={"User-Agent": IPHONE, "Referer": "https://news.example.com/a?b=c"},
    )
    flush_visits()
    visit = Visit.objects.get()
    stored = " ".join(str(getattr(visit, f.attname)) for f in Visit._meta.fields)
    assert "198.51.100.77" not in stored
    assert (visit.referrer_host, visit.browser, visit.os, visit.device, visit.is_bot) == (
        "news.example.com",
        "Mobile Safari",
        "iOS",
        "mobile",
        False,
    )


@pytest.mark.django_db
def test_visitors_behind_the_proxy_are_told_apart_by_the_address_the_limiter_chose(
    client, settings
):
    # The proxy is every request's REMOTE_ADDR; the limiter's choice (request.torii) is
    # the client's, and the visitor key must be made of that one.
    settings.TRUSTED_PROXY_COUNT = 1
    link = make_link()
    for forwarded in ("203.0.113.1", "203.0.113.2", "203.0.113.2"):
        client.get(f"/{link.slug}", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    flush_visits()
    keys = list(Visit.objects.order_by("pk").values_list("visitor", flat=True))
    assert len(keys) == 3 and keys[0] != keys[1] and keys[1] == keys[2]


@pytest.mark.django_db
def test_huge_and_broken_headers_are_truncated_never_a_500(client):
    link = make_link()
    junk = "\udcff" * 10 + "é" * 10_000
    response = client.get(
        f"/{link.slug}",
        headers={"User-Agent": "Mozilla/" + "x" * 10_000, "Referer": "https://" + junk},
    )
    assert response.status_code == 302
    flush_visits()
    visit = Visit.objects.get()
    assert len(visit.browser) <= 50 and len(visit.referrer_host) <= 253


@pytest.mark.django_db
def test_a_failed_write_keeps_the_visits_for_the_next_flush(client, monkeypatch):
    link = make_link()
    client.get(f"/{link.slug}")
    client.get(f"/{link.slug}")

    def broken(raws):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(recording, "write", broken)
    assert recording.buffer.flush() == 0
    assert recording.buffer.pending() == 2
    monkeypatch.undo()
    assert recording.buffer.flush() == 2
    assert Link.objects.get(pk=link.pk).visit_count == 2


@pytest.mark.django_db
def test_head_requests_are_not_visits(client):
    link = make_link()
    client.head(f"/{link.slug}")
    assert flush_visits() == 0


def test_the_buffer_keeps_every_visit_added_until_a_flush():
    request = RequestFactory().get("/x", headers={"User-Agent": IPHONE})
    buffer = recording.VisitBuffer()
    for _ in range(1000):
        buffer.add(1, request.META)
    assert buffer.pending() == 1000


def test_a_user_agent_that_is_not_valid_unicode_is_classified_as_other_not_an_error():
    from shortener.policy.user_agents import classify

    assert classify("Mozilla/5.0 \ud800") == ("Other", "Other", "other", False)
