"""RateLimitMiddleware: counts every request against its group's rate and refuses the excess."""

import logging
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve

from config.metrics.counting import cache_failed, rate_limit_refused
from config.ratelimit import gcra
from config.ratelimit.fields import Usage, add_fields
from config.ratelimit.groups import (
    Check,
    address_of,
    checks_for,
    digest,
    user_or_address,
    webhook_source,
)
from config.ratelimit.rates import Rate
from config.ratelimit.responses import for_machines, limiter_unavailable, too_many_requests
from hypermedia.context import UNKNOWN, context_of

logger = logging.getLogger(__name__)
# Its own logger, which settings.LOGGING throttles to a line a minute: a down cache
# cannot de-duplicate its own log lines, as the rejections above are through it.
outage_logger = logging.getLogger("config.ratelimit.outage")

# Seconds a fail-closed group tells clients to wait while the cache is down.
UNAVAILABLE_RETRY_AFTER = 30


class CacheUnavailable(Exception):
    pass


def match_of(request: HttpRequest) -> ResolverMatch | None:
    # Resolved here rather than in process_view, which never runs for a path
    # that resolves to nothing: 404 scans are counted like any other request.
    return resolved(request.path_info, getattr(request, "urlconf", None) or settings.ROOT_URLCONF)


@lru_cache(maxsize=4096)  # resolving shows in a redirect's profile; short-link paths repeat
def resolved(path: str, urlconf: str) -> ResolverMatch | None:
    try:
        return resolve(path, urlconf)
    except Resolver404:
        return None


def is_static_path(path: str) -> bool:
    """Under STATIC_URL, or one of whitenoise's root files (/favicon.ico)."""
    return path.startswith(settings.STATIC_URL) or path in root_files(settings.WHITENOISE_ROOT)


@lru_cache(maxsize=4)
def root_files(root) -> frozenset[str]:
    return frozenset("/" + entry.name for entry in Path(root).iterdir() if entry.is_file())


def bucket_key(check: Check, rate: Rate) -> str:
    """The key's GCRA state for this rate: another rate (a changed setting) starts afresh,
    as django-ratelimit's windows did, rather than inheriting a TAT measured in the old
    rate's intervals."""
    # Keys are short by construction (groups.py hashes what comes from the client);
    # hashed here too past what every cache backend takes.
    name = f"rl:{check.policy}:{rate.limit}/{rate.seconds}:{check.key}"
    if len(name) <= 100:
        return name
    return f"rl:{check.policy}:{rate.limit}/{rate.seconds}:{digest(check.key)}"


def count(
    request: HttpRequest, check: Check, cost: int = 1, mode: str | None = None
) -> Usage | None:
    """One atomic GCRA check-and-update of the check's bucket in the `counters` cache;
    None when rate limiting is switched off (RATELIMIT_ENABLE)."""
    if not settings.RATELIMIT_ENABLE:
        return None
    rate = settings.RATE_LIMITS[check.group]
    interval = gcra.interval_of(rate.limit, rate.seconds)
    mode = mode or gcra.SPEND
    try:
        counters = caches[settings.RATELIMIT_USE_CACHE]
        decision, now = counters.update_gcra(
            bucket_key(check, rate), interval, rate.limit, cost, mode
        )
    except Exception as error:  # each cache backend raises its own connection errors
        raise CacheUnavailable(repr(error)) from error
    remaining, reset = gcra.state(decision.tat, now, interval, rate.limit)
    return Usage(check.policy, rate.limit, rate.seconds, remaining, reset, not decision.allowed)


def log_rejection_once(request: HttpRequest, check: Check, usage: Usage) -> None:
    """One log line per key per window's length (the rate's seconds), however hard the key
    hammers: refused, it is admitted again one request an interval, and refused again."""
    log_key = f"rl:logged:{digest(f'{check.policy}|{check.key}')}"
    try:
        first = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")].add(
            log_key, 1, timeout=usage.window
        )
    except Exception:
        first = False
    if first:
        logger.warning(
            "Rate limit %s exceeded by %s: %s %s refused for the next %ds (limit %d per %ds)",
            check.policy,
            check.key,
            request.method,
            request.path_info[:200],
            usage.reset,
            usage.limit,
            usage.window,
        )


def log_cache_failure(error: CacheUnavailable, failing_open: bool) -> None:
    cache_failed(settings.RATELIMIT_USE_CACHE)
    outcome = "letting requests through" if failing_open else "refusing fail-closed groups"
    outage_logger.error("Rate limiting cache unavailable (%s): %s", error, outcome)


class RateLimitMiddleware:
    """Counts each request once, against the checks of its group.

    Runs after authentication, so per-user keys work. `EarlyRateLimitMiddleware`
    counts the groups that need no user before sessions and auth run; this one
    then counts only what the early one left.
    """

    # Groups this instance leaves to a later one (their keys need request.user).
    deferred: frozenset[str] = frozenset()

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counted = self.admit(request)
        if isinstance(counted, HttpResponse):
            return counted
        return self.report(request, self.get_response(request), counted)

    def admit(self, request: HttpRequest) -> HttpResponse | list[Usage] | None:
        """Count the request: its refusal (429, or 503 for a fail-closed group while the
        cache is down), or the usages to report on its answer; None when this instance
        leaves it (or the cache is down and its groups fail open). Also the WSGI fast
        path's limiter (config/fast_redirects.py), so both paths count alike."""
        context = context_of(request)
        if self.leaves(request) or context.rate_limits is not None:
            return None
        match = context.route
        if match is UNKNOWN:
            match = context.route = match_of(request)
        checks = checks_for(request, match)
        if any(check.group in self.deferred for check in checks):
            return None
        context.rate_limits = ViewLimits(request)
        try:
            counted = [(check, usage) for check in checks if (usage := count(request, check))]
        except CacheUnavailable as error:
            fail_open = all(check.group in settings.RATE_LIMIT_FAIL_OPEN for check in checks)
            log_cache_failure(error, fail_open)
            if fail_open:
                return None
            return limiter_unavailable(request, UNAVAILABLE_RETRY_AFTER)

        usages = [usage for _, usage in counted]
        if any(usage.exceeded for usage in usages):
            for check, usage in counted:
                if usage.exceeded:
                    rate_limit_refused(check.group)
                    log_rejection_once(request, check, usage)
            return too_many_requests(request, usages)
        return usages

    def report(
        self, request: HttpRequest, response: HttpResponse, usages: list[Usage] | None
    ) -> HttpResponse:
        """The RateLimit fields on a machine's answer, with the buckets its view spent."""
        if usages is None:
            return response
        reported = usages + context_of(request).rate_limits.usages
        if reported and for_machines(request):
            add_fields(response, reported)
        return response

    def leaves(self, request: HttpRequest) -> bool:
        """Requests this instance does not count. The late one counts all that reach it:
        whitenoise, above it, has served the static files that exist."""
        return False


class EarlyRateLimitMiddleware(RateLimitMiddleware):
    """The same counting near the top of the stack, for every group whose key needs no
    signed-in user, so the redirect fast path below it is limited too."""

    deferred = frozenset({"create"})

    def leaves(self, request: HttpRequest) -> bool:
        # Whitenoise, below, serves the files that exist, unlimited; a static path that
        # is no file goes on to the 404 page and is counted by the late instance.
        return is_static_path(request.path_info)


class ViewLimits:
    """Buckets a view spends itself, once it knows what the middleware cannot.

    A webhook's source is the sender only once the receiver has checked the signature:
    before that a delivery is a stranger's, counted against the stranger's address and
    only when it fails; one whose signature holds never meets that bucket, so strangers
    failing from the sender's address (a NAT, an office proxy) cannot lock it out. The
    middleware sets one on every request it counts (`request.torii.rate_limits`,
    hypermedia/context.py), so views,
    which never import config, spend buckets and get the site's own refusals back.
    """

    def __init__(self, request: HttpRequest):
        self.request = request
        self.usages: list[Usage] = []  # the middleware reports them on the response

    def webhook_verified(self, source: str) -> HttpResponse | None:
        """Spend the verified source's bucket: None to go on, or the refusal to answer."""
        return self.spend(Check("webhook", "webhook", webhook_source(source)))

    def authentication_failed(self) -> HttpResponse | None:
        """Count a failed signature or an unknown sender against the client's address."""
        address = address_of(self.request)
        return self.spend(Check("auth-failures", "auth-failures", address))

    def links_created(self, made: int) -> None:
        """Spend `count` more of the requester's `create` bucket: a batch counts by the
        links it made. The batch was admitted while the bucket had room; what it made
        is counted even past the limit (one update of `made`), so the next create waits
        until the bucket has room again."""
        if made <= 0 or settings.RATE_LIMITS.get("create") is None:
            return
        check = Check("create", "create", user_or_address(self.request))
        try:
            usage = count(self.request, check, cost=made, mode=gcra.FORCE)
        except CacheUnavailable as error:
            log_cache_failure(error, "create" in settings.RATE_LIMIT_FAIL_OPEN)
            return
        if usage is not None:
            self.usages = [u for u in self.usages if u.policy != "create"] + [usage]

    def spend(self, check: Check) -> HttpResponse | None:
        if settings.RATE_LIMITS.get(check.group) is None:
            return None
        try:
            usage = count(self.request, check)
        except CacheUnavailable as error:
            fail_open = check.group in settings.RATE_LIMIT_FAIL_OPEN
            log_cache_failure(error, fail_open)
            return None if fail_open else limiter_unavailable(self.request, UNAVAILABLE_RETRY_AFTER)
        if usage is None:
            return None
        self.usages.append(usage)
        if not usage.exceeded:
            return None
        rate_limit_refused(check.group)
        log_rejection_once(self.request, check, usage)
        return too_many_requests(self.request, [usage])
