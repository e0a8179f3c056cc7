"""The hot path, GET/HEAD /<slug>: lookup cache, state, visit hand-off, status codes.

A live redirect is answered by `RedirectMiddleware` near the top of the stack: no
session, no authentication, no template, no database write. Everything else about a
slug path (unknown, disabled, expired, used up) falls through to the `follow` view,
which renders the 404 or 410 page in the site's look.

A slug is looked up on the request's domain (`shortener.domains`): the key is
(domain, slug), so the same slug on two domains is two links and a host never reaches
another domain's link. Each process keeps a small lookup cache (LOOKUP_TTL seconds,
LOOKUP_SIZE entries, unknown slugs included) in front of one indexed query, so an edit,
a disable or a delete takes effect everywhere within LOOKUP_TTL seconds.
"""

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from enum import Enum
from functools import lru_cache

from cachetools import TTLCache
from django.core.cache import caches
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from shortener import domains, link_passwords
from shortener.countries import country_of
from shortener.decisions import AskPassword, Gone, SmartLink, decide, facts_of, smart_link
from shortener.models import Link, LinkState, state_of
from shortener.redirect_rules import from_stored
from shortener.slugs import SLUG_PATTERN
from shortener.visits import buffer

LOOKUP_TTL = 2.0
LOOKUP_SIZE = 10_000
SLUG_PATH = re.compile(rf"/({SLUG_PATTERN})\Z")
# Seconds a visitor of a limited link is asked to wait while the counters are down.
UNCOUNTABLE_RETRY_AFTER = 30
# A down cache cannot de-duplicate its own log lines: one per process this often.
COUNTERS_DOWN_LOG_INTERVAL = 60.0
UNCOUNTABLE_REASON = (
    "This short link allows a limited number of visits, and visits cannot be counted "
    "right now, so it cannot be followed for the moment."
)
logger = logging.getLogger(__name__)

GONE_REASONS = {
    LinkState.DISABLED: "This short link has been disabled by its owner.",
    LinkState.EXPIRED: "This short link has expired.",
    LinkState.EXHAUSTED: "This short link has reached its maximum number of visits.",
    LinkState.DELETED: "This short link has been deleted.",
}


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

    def state(self, now: float) -> LinkState:
        return state_of(
            deleted=self.deleted,
            active=self.is_active,
            expired=self.expires_at is not None and self.expires_at <= now,
            used_up=self.max_visits is not None and self.visit_count >= self.max_visits,
        )


_UNKNOWN = object()
_lookups: TTLCache = TTLCache(maxsize=LOOKUP_SIZE, ttl=LOOKUP_TTL)
_lookups_lock = threading.Lock()


@lru_cache(maxsize=1)  # the quoted names never change in a process
def lookup_sql() -> str:
    quote = connection.ops.quote_name
    meta = Link._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    fields = ["id", "target", "redirect_code", "is_active", "deleted_at", "expires_at"]
    fields += ["max_visits", "visit_count", "password", "rules", "forward_query"]
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
    pk, target, code, active, deleted_at, expires_at, max_visits, visits, *smart = row
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
        found = read(domain_id, slug) or _UNKNOWN
        with _lookups_lock:
            _lookups[key] = found
    return None if found is _UNKNOWN else found


def lookup_on(request: HttpRequest, slug: str) -> Snapshot | None:
    """The link `slug` names on the request's domain (none on an inactive domain)."""
    domain = domains.of_request(request)
    return None if domain is None else lookup(domain.pk, slug)


def forget_lookups() -> None:
    with _lookups_lock:
        _lookups.clear()


class Claim(Enum):
    """What claiming one visit of a limited link came to."""

    TAKEN = "taken"
    USED_UP = "used up"
    UNCOUNTABLE = "uncountable"  # the counters cache is down: refuse, never guess


def take_visit(link: Snapshot) -> Claim:
    """For a link with a visit limit: claim one visit in the shared cache, exactly.

    The counter starts from the stored count the first time any worker needs it and is
    then only incremented atomically, so with any number of workers at most
    `max_visits` requests are redirected. While the cache cannot count, no visit is
    taken and the counter is left as it stands, so the count continues when it is back.
    """
    counters = caches["counters"]
    key = f"link-visits:{link.pk}"
    try:
        try:
            counters.add(key, link.visit_count, timeout=None)
            count = counters.incr(key)
        except ValueError:  # the key vanished between add and incr (evicted, flushed)
            counters.add(key, link.visit_count, timeout=None)
            count = counters.incr(key)
    except Exception as error:  # each cache backend raises its own connection errors
        log_counters_down(repr(error))
        return Claim.UNCOUNTABLE
    if count is None:  # a backend that lost the count without raising
        log_counters_down("the cache returned no count")
        return Claim.UNCOUNTABLE
    return Claim.TAKEN if count <= link.max_visits else Claim.USED_UP


_last_counters_down_log = float("-inf")
_counters_down_lock = threading.Lock()


def log_counters_down(error: str) -> None:
    global _last_counters_down_log  # a per-process throttle: the cache is what failed
    with _counters_down_lock:
        now = time.monotonic()
        if now - _last_counters_down_log < COUNTERS_DOWN_LOG_INTERVAL:
            return
        _last_counters_down_log = now
    logger.error(
        "Counters cache unavailable (%s): links with a visit limit answer 503, "
        "links without one keep redirecting",
        error,
    )


def live_redirect(request: HttpRequest, slug: str) -> HttpResponse | None:
    """The redirect response for a live link, or None when the slow path must answer."""
    link = lookup_on(request, slug)
    if link is None or link.state(time.time()) != LinkState.ACTIVE:
        return None
    if link.smart is not None:
        return smart_redirect(request, link)
    counted = request.method == "GET"
    if counted and link.max_visits is not None:
        claim = take_visit(link)
        if claim is not Claim.TAKEN:
            request.torii_claim = claim
            return None
    if counted:
        buffer.add(link.pk, request.META)
    response = HttpResponse(status=link.redirect_code)
    response["Location"] = link.target
    if link.redirect_code in (302, 307):
        response["Cache-Control"] = "private, max-age=0"  # count every click
    return response


def smart_redirect(request: HttpRequest, link: Snapshot, *, shown_password: bool = False):
    """A link with a password, rules or forwarding: `decide()` says where, then the same
    claim, visit and answer as a plain link. None: the slow path answers (the password
    page, or a refusal). `shown_password`: the visitor typed the right one just now."""
    smart = link.smart
    unlocked = shown_password or (
        bool(smart.password)
        and link_passwords.unlocked(
            request.COOKIES.get(link_passwords.COOKIE_NAME), link.pk, smart.password
        )
    )
    counted = request.method in ("GET", "POST")
    country = country_of(request.META) if counted or "country" in smart.needs else ""
    facts = facts_of(request.META, time.time(), smart.needs, country)
    answer = decide(link, facts, unlocked=unlocked)
    if isinstance(answer, AskPassword | Gone):
        request.torii_answer = answer
        return None
    if counted and link.max_visits is not None:
        claim = take_visit(link)
        if claim is not Claim.TAKEN:
            request.torii_claim = claim
            return None
    if counted:
        buffer.add(link.pk, request.META, country)
    status = 303 if request.method == "POST" else link.redirect_code
    if smart.password or smart.rules:
        # Its answer depends on the visitor: a browser must never keep it for good.
        status = TEMPORARY_OF.get(status, status)
    response = HttpResponse(status=status)
    response["Location"] = answer.url
    if smart.password or smart.rules or link.redirect_code in (302, 307):
        # Each visitor may be sent elsewhere, and a protected link's destination is the
        # visitor's only: no shared cache may keep it.
        response["Cache-Control"] = "private, max-age=0"
    if smart.password:
        response["Vary"] = "Cookie"
    return response


TEMPORARY_OF = {301: 302, 308: 307}


class RedirectMiddleware:
    """Answer live short links before sessions, auth, CSRF and templates get involved."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            match = SLUG_PATH.match(request.path_info)
            if match:
                response = live_redirect(request, match.group(1))
                if response is not None:
                    return response
        return self.get_response(request)


def gone(request: HttpRequest, state: LinkState) -> HttpResponse:
    return render(request, "410.html", {"reason": GONE_REASONS[state], "state": state}, status=410)


_unrenderable_logged = False


def uncountable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the visit limit cannot be checked while the counters are down."""
    seconds = UNCOUNTABLE_RETRY_AFTER
    context = {"retry_after": seconds, "reason": UNCOUNTABLE_REASON}
    try:
        response = render(request, "503.html", context, status=503)
    except Exception:
        # The site's page may need the very cache that is down (the flags in the
        # header on Redis): a refusal must not become a 500, nor a log line each.
        global _unrenderable_logged
        if not _unrenderable_logged:
            _unrenderable_logged = True
            logger.exception("Could not render 503.html; sending a plain page instead")
        response = HttpResponse(
            f"<!doctype html><title>503 Service Unavailable</title>"
            f"<h1>Temporarily unavailable</h1><p>{UNCOUNTABLE_REASON}</p>"
            f"<p>Try again in {seconds} seconds.</p>",
            status=503,
        )
    response["Retry-After"] = str(seconds)
    # Logged once a minute above; Django would add a line for every refused click.
    response._has_been_logged = True
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def follow(request: HttpRequest, slug: str) -> HttpResponse:
    """The slow path: 404 and 410 pages, the password page and its form (and live
    redirects if the middleware is absent)."""
    # Imported here: the password page builds on this module's answers.
    from shortener import password_page

    link = lookup_on(request, slug)
    if link is None:
        raise Http404
    if request.method == "POST":
        return password_page.submitted(request, link)
    if not hasattr(request, "torii_claim") and not hasattr(request, "torii_answer"):
        state = link.state(time.time())
        if state != LinkState.ACTIVE:
            return gone(request, state)
        response = live_redirect(request, slug)
        if response is not None:
            return response
    return refusal(request, link)


def refusal(request: HttpRequest, link: Snapshot) -> HttpResponse:
    """The answer when the redirect said no: the password page, gone, or uncountable."""
    from shortener import password_page

    answer = getattr(request, "torii_answer", None)
    if isinstance(answer, AskPassword):
        return password_page.asked(request, link)
    if isinstance(answer, Gone):
        return gone(request, answer.state)
    if getattr(request, "torii_claim", Claim.USED_UP) is Claim.UNCOUNTABLE:
        return uncountable(request)
    return gone(request, LinkState.EXHAUSTED)


@require_safe
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    link = lookup_on(request, slug)
    if link is None:
        raise Http404
    state = link.state(time.time())
    if state != LinkState.ACTIVE:
        return gone(request, state)
    full = Link.objects.get(pk=link.pk)
    user = getattr(request, "user", None)
    shows_target = not full.is_protected or (
        user is not None and user.is_authenticated and (user.is_staff or user.pk == full.owner_id)
    )
    context = {"link": full, "shows_target": shows_target, "has_rules": bool(full.rules)}
    return render(request, "links/preview.html", context)
