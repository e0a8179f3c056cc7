"""The hot path, GET/HEAD /<slug>: lookup cache, state, visit hand-off, status codes.

A live redirect is answered by `RedirectMiddleware` near the top of the stack: no
session, no authentication, no template, no database write. Everything else about a
slug path (unknown, disabled, quarantined, expired, used up) falls through to the `follow` view,
which renders the 404 or 410 page in the site's look.

A slug is looked up on the request's domain (`shortener.domains`): the key is
(domain, slug), so the same slug on two domains is two links and a host never reaches
another domain's link. Each process keeps a small lookup cache (LOOKUP_TTL seconds,
LOOKUP_SIZE entries, unknown slugs included) in front of one indexed query, so an edit,
a disable or a delete takes effect everywhere within LOOKUP_TTL seconds. The links a
block or unblock switches (`shortener.links.blocking.links_switched`) are forgotten at
once in the process that switched them.

**Through a database outage** a worker keeps answering the links whose last known state
it holds (`_known`), for at most OUTAGE_STALE_SECONDS after it last saw the database. A
known state stays only while nothing has changed the link: every LOOKUP_TTL seconds, on a
miss, the worker asks which links changed since it last asked (`updated_at`, the change
feed) and forgets those. So a state is served through an outage only when the feed was
read less than FEED_GAP seconds before the first failure: what was disabled or blocked
before the outage is never redirected from a stale state (a change in the last FEED_GAP
seconds before it is the one window). Unknown slugs are never guessed: they fail as before.

The known states are **shared** through the `default` cache (Redis, or the disk cache
every worker of a machine opens), so a worker serves through an outage the links any
worker answered, not only its own: each worker writes the state it read with the time
it read it (once a SHARE_EVERY per link while unchanged), and with each look at the feed
deletes the shared states read before their link's latest change. A shared state is
trusted only if it was read after this worker began to follow the feed (its first look
reaches back OUTAGE_STALE_SECONDS): every change since then has passed through its feed.
With the cache away too (Redis and the database together), only the worker's own states
are served.

After a failed lookup the database is asked again only a LOOKUP_TTL later (`Feed.retry_at`):
a database that times out (config/database_waits.py) costs one request its wait, not
every miss.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cachetools import LRUCache, TTLCache
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, OperationalError, connection
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from shortener.domains import served
from shortener.links.blocking import links_switched
from shortener.links.models import Link, LinkState, state_of
from shortener.policy.redirect_rules import from_stored
from shortener.policy.slugs import is_reserved
from shortener.redirect import metrics
from shortener.redirect.decision import SmartLink, smart_link

logger = logging.getLogger(__name__)  # one line a minute (settings.LOGGING)

LOOKUP_TTL = 2.0
LOOKUP_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the redirect needs to know about a link, read in one query."""

    pk: int
    domain_id: int
    target: str
    redirect_code: int
    is_active: bool
    deleted: bool
    expires_at: float | None
    max_visits: int | None
    visit_count: int
    smart: SmartLink | None = None  # password, rules, forwarding; None: the plain path
    quarantined: bool = False  # never redirected here: the warning page answers
    changed_at: float = 0.0  # the row's updated_at: when the shared state may be trusted

    def state(self, now: float) -> LinkState:
        return state_of(
            deleted=self.deleted,
            active=self.is_active,
            expired=self.expires_at is not None and self.expires_at <= now,
            used_up=self.max_visits is not None and self.visit_count >= self.max_visits,
            quarantined=self.quarantined,
        )


_UNKNOWN = object()
_lookups: TTLCache = TTLCache(maxsize=LOOKUP_SIZE, ttl=LOOKUP_TTL)
_lookups_lock = threading.Lock()
# Last known states, kept past LOOKUP_TTL for an outage; forgotten when the feed says so.
_known: LRUCache = LRUCache(maxsize=LOOKUP_SIZE)
# Seconds the feed may be older than the first failure for the known states to hold; and
# how far back each look reaches before the last one (clocks of several servers).
FEED_GAP = 2 * LOOKUP_TTL + 1
FEED_MARGIN = 5.0


class Feed:
    """When this process began to read the change feed and last read it, since when the
    database fails, and when a lookup may ask it again (one try a LOOKUP_TTL: a database
    that times out, rather than refuses, costs one request the wait, not every miss)."""

    watching_since: float | None = None
    checked = float("-inf")
    failing_since: float | None = None
    retry_at = float("-inf")


# --- the known states every worker shares (the `default` cache) ------------------------

SHARE_EVERY = 60.0  # seconds between writes of one link's unchanged state
_shared: LRUCache = LRUCache(maxsize=LOOKUP_SIZE)  # key -> (when written, its changed_at)


def shared_key(key: tuple[int, str]) -> str:
    return f"known:{key[0]}:{key[1]}"


def share(key: tuple[int, str], state: "Snapshot", now: float) -> None:
    """Write the state this worker read for the others, unless written lately as is.
    Called without `_lookups_lock` (the cache may be a round trip away), as `unshare` is."""
    if settings.OUTAGE_STALE_SECONDS <= 0:
        return
    with _lookups_lock:
        last = _shared.get(key)
        # Unchanged: the same row as last written (visits move only its visit_count), and
        # written late enough after its change to be trusted (stale_shares).
        same = last is not None and last[1] == state.changed_at
        if same and last[0] >= state.changed_at + FEED_MARGIN and now - last[0] < SHARE_EVERY:
            return
        _shared[key] = (now, state.changed_at)
    timeout = settings.OUTAGE_STALE_SECONDS + SHARE_EVERY
    caches["default"].set(shared_key(key), (now, state), timeout=timeout)


def unshare(keys: list[tuple[int, str]]) -> None:
    with _lookups_lock:
        for key in keys:
            _shared.pop(key, None)
    if keys:
        caches["default"].delete_many([shared_key(key) for key in keys])


def shared(key: tuple[int, str]) -> "Snapshot | None":
    """Another worker's state of the link, if read after this one began to follow the feed."""
    if Feed.watching_since is None:
        return None
    entry = caches["default"].get(shared_key(key))  # None while the cache is away too
    if entry is None or entry[0] < Feed.watching_since:
        return None
    return entry[1]


@lru_cache(maxsize=1)
def changes_sql() -> str:
    quote = connection.ops.quote_name
    meta = Link._meta
    domain, slug, updated = (
        quote(meta.get_field(name).column) for name in ("domain", "slug", "updated_at")
    )
    table = quote(meta.db_table)
    return f"SELECT {domain}, {slug}, {updated} FROM {table} WHERE {updated} >= %s"  # noqa: S608


def follow_changes(now: float) -> None:
    """At most once a LOOKUP_TTL: forget the states of links changed since the last look,
    and unshare those shared before their change. The first look of a process reaches
    back OUTAGE_STALE_SECONDS, so the states other workers shared in that time are trusted.
    When more than LOOKUP_SIZE links changed, this worker forgets every state it knows and
    trusts only the states shared from now on."""
    if now - Feed.checked < LOOKUP_TTL:
        return
    first = Feed.watching_since is None
    since = now - settings.OUTAGE_STALE_SECONDS if first else Feed.checked - FEED_MARGIN
    with connection.cursor() as cursor:
        cursor.execute(changes_sql(), [datetime.fromtimestamp(since, UTC)])
        rows = cursor.fetchmany(LOOKUP_SIZE + 1)
    if len(rows) > LOOKUP_SIZE:
        with _lookups_lock:
            _known.clear()
            _lookups.clear()
            _shared.clear()
        Feed.watching_since = now
    else:
        with _lookups_lock:
            for domain, slug, _ in rows:
                _known.pop((domain, slug), None)
                _lookups.pop((domain, slug), None)
        unshare(stale_shares(rows))
        if first:
            Feed.watching_since = since + FEED_MARGIN
    Feed.checked = now
    Feed.failing_since = None


def stale_shares(rows) -> list[tuple[int, str]]:
    """Of the links changed (domain, slug, when), those whose shared state was read
    before their change (or less than FEED_MARGIN after it: the clocks of two servers)."""
    keys = {shared_key((domain, slug)): (domain, slug, timestamp(at)) for domain, slug, at in rows}
    found = caches["default"].get_many(list(keys)) if keys else {}
    return [
        (domain, slug)
        for name, (domain, slug, at) in keys.items()
        if name in found and found[name][0] < at + FEED_MARGIN
    ]


def last_known(key: tuple[int, str], now: float) -> "Snapshot | None":
    """The link's state from before the outage, if it still holds (see the module's doc)."""
    if Feed.failing_since is None:
        Feed.failing_since = now
    confirmed = Feed.checked
    if Feed.failing_since - confirmed > FEED_GAP:
        return None  # the database went away unseen: what changed meanwhile is unknown
    if now - confirmed > settings.OUTAGE_STALE_SECONDS:
        return None
    with _lookups_lock:
        known = _known.get(key)
    return known if known is not None else shared(key)


@lru_cache(maxsize=1)  # the quoted names never change in a process
def lookup_sql() -> str:
    quote = connection.ops.quote_name
    meta = Link._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    fields = ["id", "target", "redirect_code", "is_active", "deleted_at", "expires_at"]
    fields += ["max_visits", "visit_count", "quarantined_at", "updated_at"]
    fields += ["password", "rules", "forward_query"]
    return (
        f"SELECT {', '.join(column(f) for f in fields)} "  # noqa: S608 - names from _meta
        f"FROM {quote(meta.db_table)} WHERE {column('domain')} = %s AND {column('slug')} = %s"
    )


def timestamp(value) -> float | None:
    """A stored datetime as a Unix time; SQLite hands raw queries text in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def read(domain_id: int, slug: str) -> Snapshot | None:
    """One indexed query, written out: the ORM's lookup cost many times more, on a
    miss the hot path makes often (docs/performance.md)."""
    with connection.cursor() as cursor:
        cursor.execute(lookup_sql(), [domain_id, slug])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, target, code, active, deleted_at, expires_at, max_visits, visits, quarantined_at, *rest = (
        row
    )
    changed_at, *smart = rest
    return Snapshot(
        pk,
        domain_id,
        target,
        code,
        bool(active),
        deleted_at is not None,
        timestamp(expires_at),
        max_visits,
        visits,
        smart_of(*smart),
        quarantined_at is not None,
        timestamp(changed_at) or 0.0,
    )


def smart_of(password: str, rules, forwarding: str) -> SmartLink | None:
    """The smart part of a row; the JSON column comes as text from some drivers."""
    if isinstance(rules, str | bytes):
        rules = json.loads(rules) if rules not in ("[]", b"[]") else []
    return smart_link(password or "", from_stored(rules) if rules else (), forwarding)


def lookup(domain_id: int, slug: str) -> Snapshot | None:
    key = (domain_id, slug)
    with _lookups_lock:
        found = _lookups.get(key)
    if found is None:
        now = time.time()
        try:
            if now < Feed.retry_at:
                raise OperationalError("The database failed a moment ago; asked again soon")
            follow_changes(now)
            found = read(domain_id, slug) or _UNKNOWN
        except DatabaseError:
            # A broken connection is dropped, so the next try connects afresh.
            connection.close_if_unusable_or_obsolete()
            if now >= Feed.retry_at:
                Feed.retry_at = now + LOOKUP_TTL
            found = last_known(key, now)
            if found is None:
                raise
            metrics.LAST_KNOWN.inc()
            logger.warning(
                "Database unavailable: redirecting links from their last known state "
                "(for up to %d s since it was last seen)",
                settings.OUTAGE_STALE_SECONDS,
            )
        else:
            if found is _UNKNOWN:
                with _lookups_lock:
                    forgotten = _known.pop(key, None)
                if forgotten is not None:
                    unshare([key])
            else:
                with _lookups_lock:
                    _known[key] = found
                share(key, found, now)
        with _lookups_lock:
            _lookups[key] = found  # through an outage too: one try a key a LOOKUP_TTL
    return None if found is _UNKNOWN else found


def lookup_on(request: HttpRequest, slug: str) -> Snapshot | None:
    """The link `slug` names on the request's domain (none on an inactive domain). On the
    site's own host a reserved word is one of its pages (/healthz, /admin...), never a
    link: it is not looked up, so no link can shadow a page nor a page fail for the
    database like a link. A short domain has no pages: every slug is a link there."""
    domain = served.of_request(request)
    if domain is None or (domain.is_site and is_reserved(slug)):
        return None
    return lookup(domain.pk, slug)


def forget_lookups() -> None:
    with _lookups_lock:
        _lookups.clear()
        _known.clear()
        _shared.clear()
    Feed.watching_since, Feed.checked, Feed.failing_since = None, float("-inf"), None
    Feed.retry_at = float("-inf")


def forget_links(sender=None, *, keys=(), **kwargs) -> None:
    """Drop these (domain id, slug) entries: their next visit reads the row again."""
    with _lookups_lock:
        for key in keys:
            _lookups.pop(key, None)
            _known.pop(key, None)
    unshare(list(keys))


links_switched.connect(forget_links, dispatch_uid="forget-switched-links")
