"""While a part of the site is away, every answer says so honestly (issue 33, items 2-3).

The database is made really unreachable for the whole stack (middleware, sessions, the
domain table, the views), not one view's connection: the connection's settings point at
a file that cannot be opened (SQLite) or a port where nothing listens (PostgreSQL), and
the open connection is closed, so the next query connects and fails as in an outage.
"""

import json
import logging

import pytest
from django.db import OperationalError, connection
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from config.log_filters import Throttle
from hypermedia.problems import CONTENT_TYPE, TYPE_BASE
from shortener.models import Link
from tests.conftest import make_link, make_user
from tests.servers import free_port


def take_the_database_away(tmp_path) -> tuple[str, str]:
    """Point the connection where no database answers; what to put back."""
    connection.close()
    key = "NAME" if connection.vendor == "sqlite" else "PORT"
    before = connection.settings_dict[key]
    connection.settings_dict[key] = (
        str(tmp_path / "gone" / "db") if key == "NAME" else str(free_port())
    )
    return key, before


def bring_the_database_back(key: str, before: str) -> None:
    connection.close()
    connection.settings_dict[key] = before  # the next query connects to it again


@pytest.fixture
def database_away(known_link, tmp_path):
    """After `known_link` (whose database is flushed after the test): back before that."""
    away = take_the_database_away(tmp_path)
    yield
    bring_the_database_back(*away)


@pytest.fixture
def visitor():
    # An exception that Django turns into a response is also re-raised by the test client
    # unless told not to: a real client only ever sees the response.
    return Client(raise_request_exception=False)


@pytest.fixture
def known_link(transactional_db):
    """A link on the site's own host, and one row named like a reserved path (made
    behind the link rules' back, as old data might hold one)."""
    link = make_link(slug="known1", target="https://example.com/known")
    make_link(slug="healthz", target="https://example.com/shadow")
    return link


def test_healthz_answers_503_naming_the_database_through_the_whole_stack(
    visitor, known_link, database_away
):
    for path in ("/healthz", "/readyz"):
        response = visitor.get(path)
        assert response.status_code == 503, (path, response.content[:200])
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"status": "unavailable", "failed": ["database"]}


def test_livez_answers_200_while_the_database_is_away(visitor, known_link, database_away):
    response = visitor.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_paths_are_never_links_even_when_a_row_has_their_name(visitor, known_link):
    for path in ("/healthz", "/readyz", "/livez"):
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert response.json() == {"status": "ok"}
    assert Link.objects.get(slug="healthz").visit_count == 0


def test_a_reserved_word_on_the_site_is_never_looked_up_as_a_link(visitor, known_link):
    make_link(slug="status", target="https://example.com/shadow")
    response = visitor.get("/status")
    assert response.status_code == 404
    assert "Location" not in response


@pytest.mark.parametrize("path", ["/", "/links/", "/accounts/login/", "/nosuchlink"])
def test_pages_answer_a_branded_503_with_retry_after(visitor, known_link, database_away, path):
    response = visitor.get(path)
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<title>Temporarily unavailable" in page
    assert "Torii" in page and "Traceback" not in page


@pytest.mark.parametrize("path", ["/", "/links/", "/api/v1/links"])
def test_a_page_whose_own_query_fails_answers_503_not_500(visitor, known_link, tmp_path, path):
    """The database goes away after the site answered (the short domains known): the
    failure comes from inside the view, under every middleware, messages included."""
    from shortener.tokens.personal import issue

    user = make_user("viewer")
    visitor.force_login(user)
    token = issue(user, "outage")[1]
    assert visitor.get("/links/").status_code == 200
    away = take_the_database_away(tmp_path)
    try:
        response = visitor.get(path, headers={"Authorization": f"Bearer {token}"})
    finally:
        bring_the_database_back(*away)
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "30"


def test_a_short_link_says_it_is_safe(visitor, known_link, database_away):
    response = visitor.get("/known1")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "This short link is safe" in response.content.decode()


def test_an_htmx_request_gets_a_message_fragment(visitor, known_link, database_away):
    response = visitor.get("/links/", HTTP_HX_REQUEST="true")
    assert response.status_code == 503
    assert response["HX-Retarget"] == "#messages"
    assert "Temporarily unavailable" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/links"), ("post", "/api/v1/links"), ("post", "/webhooks/cms/")],
)
def test_the_api_and_webhooks_answer_problem_json(visitor, known_link, database_away, method, path):
    response = getattr(visitor, method)(path, HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 503
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Retry-After"] == "30"
    doc = json.loads(response.content)
    assert doc["type"] == TYPE_BASE + "service-unavailable"
    assert doc["status"] == 503 and "database" in doc["detail"]


def test_an_outage_logs_one_line_without_a_traceback_not_one_per_request(
    visitor, known_link, database_away, caplog
):
    caplog.set_level(logging.INFO)
    for path in ["/", "/known1", "/api/v1/links", "/links/"] * 10:
        assert visitor.get(path).status_code == 503
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    (line,) = errors
    assert line.name == "config.outages"
    assert line.getMessage().startswith("The database is unavailable (OperationalError: ")
    assert line.exc_info is None
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_the_database_coming_back_ends_the_503s(visitor, known_link, tmp_path):
    away = take_the_database_away(tmp_path)
    try:
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)
    response = visitor.get("/known1")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/known"
    assert visitor.get("/healthz").status_code == 200


def test_a_cache_that_cannot_be_reached_answers_503_naming_the_cache(
    visitor, known_link, monkeypatch, caplog
):
    from shortener.redirect import middleware

    def unreachable(request, slug):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(middleware, "lookup_on", unreachable)
    response = visitor.get("/known1")
    assert response.status_code == 503
    assert "Retry-After" in response
    (line,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.getMessage().startswith("The cache is unavailable (ConnectionError: Error 111")


def test_any_other_error_is_still_a_500_with_its_traceback_logged(
    visitor, known_link, monkeypatch, caplog
):
    from shortener.redirect import middleware

    def broken(request, slug):
        raise RuntimeError("a bug")

    monkeypatch.setattr(middleware, "lookup_on", broken)
    response = visitor.get("/known1")
    assert response.status_code == 500
    (line,) = [r for r in caplog.records if r.name == "django.request"]
    assert line.exc_info is not None


def test_the_throttle_lets_one_line_a_minute_through_and_counts_the_rest():
    now = [1000.0]
    throttle = Throttle(seconds=60, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, message, ("a",), None)

    assert throttle.filter(record("down %s"))
    assert not any(throttle.filter(record("down %s")) for _ in range(41))
    assert throttle.filter(record("other %s"))  # another kind has its own minute
    now[0] += 59.9
    assert not throttle.filter(record("down %s"))
    now[0] += 0.2
    passed = record("down %s")
    assert throttle.filter(passed)
    assert passed.getMessage() == "down a [42 more like this held back in the last 60 s]"
    kept = record("down %s")
    kept.unthrottled = True  # extra={"unthrottled": True}: a count of lost visits
    assert throttle.filter(kept) and kept.getMessage() == "down a"


def test_known_outage_errors():
    from config.outages import failed_part

    assert failed_part(OperationalError("gone")) == "database"
    assert failed_part(RedisConnectionError("gone")) == "cache"
    assert failed_part(RuntimeError("bug")) is None


def test_no_link_on_a_short_domain_may_be_named_like_a_health_path():
    from shortener.policy import slugs

    for word in ("healthz", "LiveZ", "readyz"):
        assert slugs.custom_slug_problem(word, reserved=False)
        assert slugs.imported_slug_problem(word, reserved=False)
    assert slugs.custom_slug_problem("admin", reserved=False) is None  # a page elsewhere only


# --- last known states through an outage (issue 33, item 1) ------------------------------


class Clock:
    """The lookup's wall clock, moved by the test."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from shortener.redirect import lookup

    lookup.forget_lookups()
    import time

    made = Clock(time.time())  # the database's clock stamps updated_at: the same time
    monkeypatch.setattr(lookup, "time", made)
    yield made
    lookup.forget_lookups()


def expire_lookups() -> None:
    """What LOOKUP_TTL does to the per-process cache; the last known states stay."""
    from shortener.redirect import lookup

    with lookup._lookups_lock:
        lookup._lookups.clear()


def figures() -> dict[str, float]:
    from config.metrics.scrape import exposition

    wanted = (
        "torii_redirect_last_known_lookups_total",
        'torii_redirects_total{answer="redirect"}',
        'torii_redirects_total{answer="unavailable"}',
        "torii_task_queue_depth",
    )
    lines = exposition().decode().splitlines()
    found = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line[0] != "#"
    }
    return {name: value for name, value in found.items() if name.startswith(wanted)}


def test_a_link_visited_just_before_the_outage_keeps_redirecting(
    visitor, known_link, clock, tmp_path
):
    from shortener.models import Visit
    from tests.conftest import flush_visits

    assert visitor.get("/known1").status_code == 302
    before = figures()
    away = take_the_database_away(tmp_path)
    try:
        for seconds in (1, 30, 3000):  # within OUTAGE_STALE_SECONDS of the last look
            clock.now += seconds
            expire_lookups()
            response = visitor.get("/known1")
            assert (response.status_code, response["Location"]) == (302, known_link.target)
        assert visitor.get("/neverseen").status_code == 503  # an unknown slug is not guessed
        clock.now += 700  # past the hour since the database was last seen
        expire_lookups()
        assert visitor.get("/known1").status_code == 503
        after = figures()  # scraped through the outage: the queue's figures left out
    finally:
        bring_the_database_back(*away)
    # /metrics says what happened: three redirects from the last known state, two 503s.
    counted = [name for name in before if not name.startswith("torii_task_queue_depth")]
    assert {name: after.get(name, 0) - before.get(name, 0) for name in counted} == {
        "torii_redirect_last_known_lookups_total": 3,
        'torii_redirects_total{answer="redirect"}': 3,
        'torii_redirects_total{answer="unavailable"}': 2,
    }
    assert not any(name.startswith("torii_task_queue_depth") for name in after)
    clock.now += 2  # a lookup asks a failed database again a LOOKUP_TTL later
    expire_lookups()
    assert visitor.get("/known1").status_code == 302
    # Every visit answered during the outage is written once the database is back.
    assert Visit.objects.filter(link=known_link).count() + flush_visits() == 5


def test_a_link_changed_before_the_outage_is_never_redirected_from_its_old_state(
    visitor, known_link, clock, tmp_path
):
    other = make_link(slug="other1", target="https://example.com/other")
    assert visitor.get("/known1").status_code == 302
    # Disabled by another process (no signal reaches this one): only the change feed says so.
    from django.utils import timezone

    Link.objects.filter(pk=known_link.pk).update(is_active=False, updated_at=timezone.now())
    clock.now += 3  # the next miss reads the feed
    expire_lookups()
    assert visitor.get(f"/{other.slug}").status_code == 302  # any miss: the feed is read
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        expire_lookups()
        assert visitor.get("/known1").status_code == 503
        assert visitor.get(f"/{other.slug}").status_code == 302
    finally:
        bring_the_database_back(*away)


def test_a_database_gone_unseen_for_a_while_is_not_trusted(visitor, known_link, clock, tmp_path):
    """No look at the feed for a minute before the first failure: what changed in that
    minute is unknown, so nothing is served from before it."""
    assert visitor.get("/known1").status_code == 302
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 60
        expire_lookups()
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_no_stale_state_when_told_so(visitor, known_link, clock, tmp_path, settings):
    settings.OUTAGE_STALE_SECONDS = 0
    assert visitor.get("/known1").status_code == 302
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        expire_lookups()
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)


# --- last known states shared by every worker (the `default` cache) ----------------------


def become_another_worker() -> None:
    """What another worker of the same server holds: none of this one's states, the same
    shared cache, its own look at the feed (as recent as this one's)."""
    from shortener.redirect import lookup

    with lookup._lookups_lock:
        lookup._lookups.clear()
        lookup._known.clear()
        lookup._shared.clear()


def test_a_link_another_worker_answered_keeps_redirecting(visitor, known_link, clock, tmp_path):
    from shortener import links

    ruled = links.create(
        {
            "target": "https://example.com/desktop",
            "rules": [{"target": "https://m.example.com/", "when": {"device": ["mobile"]}}],
        },
        actor=make_user("olga"),
    )
    phone = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile"}
    assert visitor.get("/known1").status_code == 302
    assert visitor.get(f"/{ruled.slug}", **phone).status_code == 302
    become_another_worker()
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        response = visitor.get("/known1")
        assert (response.status_code, response["Location"]) == (302, known_link.target)
        assert visitor.get(f"/{ruled.slug}", **phone)["Location"] == "https://m.example.com/"
        assert visitor.get(f"/{ruled.slug}")["Location"] == "https://example.com/desktop"
        assert visitor.get("/neverseen").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_a_link_changed_after_another_worker_shared_it_is_not_served_from_it(
    visitor, known_link, clock, tmp_path
):
    from django.utils import timezone

    assert visitor.get("/known1").status_code == 302  # shared as live
    become_another_worker()
    Link.objects.filter(pk=known_link.pk).update(is_active=False, updated_at=timezone.now())
    clock.now += 3
    assert visitor.get("/neverseen").status_code == 404  # a miss: this worker reads the feed
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_a_shared_state_older_than_this_workers_look_at_the_feed_is_not_trusted(
    visitor, known_link, clock, tmp_path
):
    """A worker started after the state was shared cannot know what changed before it
    began to read the feed: a link disabled then, with no worker reading the feed since,
    must not come back from the shared cache."""
    from shortener.redirect import lookup

    assert visitor.get("/known1").status_code == 302
    become_another_worker()
    lookup.Feed.watching_since = clock.now + 0.5  # this one started just after
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_a_link_blocked_is_unshared_at_once(visitor, known_link, clock, tmp_path):
    from shortener.links import SYSTEM, block

    assert visitor.get("/known1").status_code == 302
    block("example.com", by=SYSTEM, source="admin")
    become_another_worker()
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        assert visitor.get("/known1").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_with_the_shared_cache_away_too_only_the_workers_own_states_are_served(
    visitor, known_link, clock, tmp_path, monkeypatch
):
    from django.core.cache import caches

    other = make_link(slug="other1", target="https://example.com/other")
    assert visitor.get("/known1").status_code == 302
    become_another_worker()
    assert visitor.get("/other1").status_code == 302  # this worker's own
    monkeypatch.setattr(caches["default"], "get", lambda key, default=None, version=None: None)
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        expire_lookups()
        assert visitor.get("/known1").status_code == 503
        assert visitor.get(f"/{other.slug}")["Location"] == other.target
    finally:
        bring_the_database_back(*away)


def test_an_unchanged_state_is_written_once_a_minute_not_on_every_miss(
    visitor, known_link, clock, monkeypatch
):
    from django.core.cache import caches

    writes = []
    real_set = caches["default"].set
    monkeypatch.setattr(
        caches["default"], "set", lambda key, *a, **k: (writes.append(key), real_set(key, *a, **k))
    )
    clock.now += 10  # past the feed's margin: the link's creation is no longer news
    for _ in range(10):  # ten misses in 30 s
        clock.now += 3
        expire_lookups()
        assert visitor.get("/known1").status_code == 302
    assert [key for key in writes if key.startswith("known:")] == [
        f"known:{known_link.domain_id}:known1"
    ]
    clock.now += 60
    expire_lookups()
    visitor.get("/known1")
    assert len([key for key in writes if key.startswith("known:")]) == 2


def test_a_worker_started_later_trusts_the_hours_shared_states_but_not_what_changed_in_it(
    visitor, known_link, clock, tmp_path
):
    """Its first look at the feed reaches back OUTAGE_STALE_SECONDS and unshares what
    changed in that time, which no worker may have read from the feed yet."""
    from datetime import UTC, datetime

    from shortener.redirect import lookup

    other = make_link(slug="other1", target="https://example.com/other")
    clock.now += 10  # (a state read just after its link changed is not trusted)
    for slug in ("known1", "other1"):
        assert visitor.get(f"/{slug}").status_code == 302  # both shared
    clock.now += 1
    changed_at = datetime.fromtimestamp(clock.now, UTC)  # the database's clock, as the lookup's
    Link.objects.filter(pk=other.pk).update(is_active=False, updated_at=changed_at)
    clock.now += 600
    lookup.forget_lookups()  # a worker started ten minutes later, the shared cache as it was
    assert visitor.get("/neverseen").status_code == 404  # its first miss: its first look
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        response = visitor.get("/known1")
        assert (response.status_code, response["Location"]) == (302, known_link.target)
        assert visitor.get("/other1").status_code == 503
    finally:
        bring_the_database_back(*away)


def test_a_failed_database_is_asked_again_a_lookup_ttl_later_not_on_every_miss(
    visitor, known_link, clock, tmp_path, monkeypatch
):
    """A database that times out rather than refuses costs one request its wait in each
    LOOKUP_TTL, not every miss: the misses meanwhile are answered from known states."""
    from shortener.redirect import lookup

    other = make_link(slug="other1", target="https://example.com/other")
    for slug in ("known1", "other1"):
        assert visitor.get(f"/{slug}").status_code == 302
    asked = []
    real_follow = lookup.follow_changes
    monkeypatch.setattr(lookup, "follow_changes", lambda now: (asked.append(now), real_follow(now)))
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        expire_lookups()
        assert visitor.get("/known1").status_code == 302  # asked, failed: known state
        assert visitor.get(f"/{other.slug}").status_code == 302  # not asked
        assert visitor.get("/neverseen").status_code == 503  # not asked either
        assert len(asked) == 1
        clock.now += 2
        expire_lookups()
        assert visitor.get("/known1").status_code == 302
        assert len(asked) == 2
    finally:
        bring_the_database_back(*away)
    clock.now += 2
    expire_lookups()
    assert visitor.get("/neverseen").status_code == 404  # back: asked, and answered


def test_a_database_that_comes_back_and_goes_away_again(visitor, known_link, clock, tmp_path):
    """Each return is read from the feed on the next miss; each outage after it is served
    from the states confirmed then, and a change made while it was back is not."""
    from datetime import UTC, datetime

    other = make_link(slug="other1", target="https://example.com/other")
    clock.now += 10
    for slug in ("known1", "other1"):
        assert visitor.get(f"/{slug}").status_code == 302
    for round_number in range(3):
        away = take_the_database_away(tmp_path)
        try:
            clock.now += 1
            expire_lookups()
            assert visitor.get("/known1").status_code == 302, round_number
        finally:
            bring_the_database_back(*away)
        if round_number == 1:  # changed while the database is back (its clock: the lookup's)
            changed_at = datetime.fromtimestamp(clock.now, UTC)
            Link.objects.filter(pk=other.pk).update(is_active=False, updated_at=changed_at)
        clock.now += 2
        expire_lookups()
        assert visitor.get("/known1").status_code == 302  # back: read afresh, feed followed
    away = take_the_database_away(tmp_path)
    try:
        clock.now += 1
        expire_lookups()
        assert visitor.get(f"/{other.slug}").status_code == 503
    finally:
        bring_the_database_back(*away)
