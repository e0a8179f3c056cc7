"""What the stack counts: each request's time by route group, each answer on a slug's path,
rate-limit refusals and cache failures.

Both ways a request is answered count here, once: the WSGI fast path
(config/fast_redirects.py) calls `redirect_served` for what it answers, and
`MetricsMiddleware`, outermost in MIDDLEWARE, counts everything Django answers (the fast
path's fall-throughs among it).

A request adds to plain integers under one lock (`Tally`); a thread hands them to
prometheus-client's files once every PUBLISH_SECONDS, and the process that answers a
scrape hands its own over first. Three locked writes into the memory-mapped files on each
redirect (the answer, a bucket, the sum) take four times as long (docs/performance.md,
"Metrics"); the price is that another worker's last second may be missing from a scrape,
and is in the next one.
"""

import atexit
import logging
import os
import re
import threading
import time
from bisect import bisect_left

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram, values

from hypermedia.context import context_of
from shortener.policy.slugs import SLUG_PATTERN, is_reserved
from shortener.redirect.decision import AskPassword

if not values.ValueClass._multiprocess:  # pragma: no cover - a wiring mistake
    raise RuntimeError(
        "prometheus_client was imported before config/settings.py set "
        "PROMETHEUS_MULTIPROC_DIR: each process would count alone"
    )

logger = logging.getLogger(__name__)

# A short link's path, as the redirect matches it; no model is imported from here, so the
# caches and the rate limiter, loaded before the apps, may count too.
SLUG_PATH = re.compile(rf"/({SLUG_PATTERN})\Z")
# Route groups of the latency histogram.
REDIRECT, PAGES, API, OTHER = "redirect", "pages", "api", "other"
# Paths of the stack's own (files, admin, health, machines): neither a page nor the API.
OTHER_PREFIXES = ("/static/", "/admin/", "/webhooks/", "/flags/")
OTHER_PATHS = frozenset({"/livez", "/healthz", "/readyz", "/metrics", "/robots.txt"})

# A redirect takes well under a millisecond; a page or an export can take seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BUCKETS_WITH_INF = (*BUCKETS, float("inf"))  # as the histogram holds them

REQUEST_SECONDS = Histogram(
    "torii_request_duration_seconds",
    "Time the stack took to answer a request, by route group (redirect, pages, api, other).",
    ["group"],
    buckets=BUCKETS,
)
REDIRECTS = Counter(
    "torii_redirects",
    "Answers to requests for a short link, by answer (redirect, not_found, gone, password, "
    "warning, rate_limited, unavailable, other).",
    ["answer"],
)
RATE_LIMIT_REFUSALS = Counter(
    "torii_rate_limit_refusals",
    "Requests refused (429) because a rate-limit group's bucket was empty, by group.",
    ["group"],
)
CACHE_FAILURES = Counter(
    "torii_cache_failures",
    "Operations on a shared cache that failed because its store could not be reached, by cache.",
    ["cache"],
)

GROUPS = {group: REQUEST_SECONDS.labels(group) for group in (REDIRECT, PAGES, API, OTHER)}
ANSWERS = {
    answer: REDIRECTS.labels(answer)
    for answer in (
        "redirect",
        "not_found",
        "gone",
        "password",
        "warning",
        "rate_limited",
        "unavailable",
        "other",
    )
}
ANSWER_OF_STATUS = {
    301: "redirect",
    302: "redirect",
    303: "redirect",
    307: "redirect",
    308: "redirect",
    403: "password",  # a wrong password, or a stale form: the form again
    404: "not_found",
    410: "gone",
    429: "rate_limited",
    503: "unavailable",
}
PUBLISH_SECONDS = 1.0


class Tally:
    """Answers and times counted in plain integers, handed to prometheus-client in sums.

    A histogram's sum of n observations in one bucket is one write to that bucket's
    value: prometheus-client's `Histogram.observe` is the same two writes (`_sum`, the
    bucket in `_buckets`), made here with the amounts added up first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._clear()
        os.register_at_fork(after_in_child=self._forget_parent)

    def _clear(self) -> None:
        self._answers = dict.fromkeys(ANSWERS, 0)
        self._buckets = {group: [0] * len(BUCKETS_WITH_INF) for group in GROUPS}
        self._sums = dict.fromkeys(GROUPS, 0.0)

    def count(self, group: str, answer: str | None, seconds: float) -> None:
        bucket = bisect_left(BUCKETS_WITH_INF, seconds)
        with self._lock:
            if answer is not None:
                self._answers[answer] += 1
            self._buckets[group][bucket] += 1
            self._sums[group] += seconds

    def publish(self) -> None:
        """Hand what was counted since the last time to the metrics files."""
        with self._lock:
            answers, buckets, sums = self._answers, self._buckets, self._sums
            self._clear()
        for answer, count in answers.items():
            if count:
                ANSWERS[answer].inc(count)
        for group, counts in buckets.items():
            if not any(counts):
                continue
            histogram = GROUPS[group]
            histogram._sum.inc(sums[group])  # see the class's docstring
            for bucket, count in enumerate(counts):
                if count:
                    histogram._buckets[bucket].inc(count)

    def start(self) -> None:
        """The thread that publishes every PUBLISH_SECONDS, for a server's workers
        (config/wsgi.py); elsewhere (tests, `runserver`) a scrape publishes its own."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
            self._thread.start()
        atexit.register(self.publish)  # granian's graceful stop: the last second too

    def _run(self) -> None:
        while True:
            time.sleep(PUBLISH_SECONDS)
            try:
                self.publish()
            except Exception:  # the counts are lost, the thread must not be
                logger.exception("Could not write this process's metrics")

    def _forget_parent(self) -> None:
        """In a forked child: its own lock, no thread, none of the parent's counts."""
        self._lock = threading.Lock()
        self._thread = None
        self._clear()


tally = Tally()


def redirect_served(status: int, seconds: float) -> None:
    """A slug answered on the WSGI fast path: a redirect, or the limiter's refusal."""
    tally.count(REDIRECT, ANSWER_OF_STATUS.get(status, "other"), seconds)


def group_of(path: str) -> str:
    if SLUG_PATH.match(path):
        return OTHER if is_reserved(path[1:]) else REDIRECT
    if path.startswith("/api/"):
        return API
    if path in OTHER_PATHS or path.startswith(OTHER_PREFIXES):
        return OTHER
    return PAGES


def answer_of(request: HttpRequest, status: int) -> str:
    """What a slug's request was answered, from its status and the redirect's verdict."""
    if status == 200:  # the password form, or a quarantined link's warning
        return "password" if isinstance(context_of(request).answer, AskPassword) else "warning"
    return ANSWER_OF_STATUS.get(status, "other")


def answered(request: HttpRequest, status: int, seconds: float) -> None:
    group = group_of(request.path_info)
    tally.count(group, answer_of(request, status) if group == REDIRECT else None, seconds)


def rate_limit_refused(group: str) -> None:
    RATE_LIMIT_REFUSALS.labels(group).inc()


def cache_failed(cache: str) -> None:
    CACHE_FAILURES.labels(cache).inc()


class MetricsMiddleware:
    """Outermost: the time of every answer Django gives, and each slug's answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        answered(request, response.status_code, time.perf_counter() - started)
        return response
