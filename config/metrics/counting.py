"""What the stack counts: each request's time by route group, each answer on a slug's path,
rate-limit refusals and cache failures.

Both ways a request is answered count here, once: the WSGI fast path
(config/fast_redirects.py) calls `redirect_served` for what it answers, and
`MetricsMiddleware`, outermost in MIDDLEWARE, counts everything Django answers (the fast
path's fall-throughs among it). The children a redirect touches are looked up once, at
import, so a redirect pays two increments of a memory-mapped file and no label lookup.
"""

import re
import time

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
# The fast path's answers by status, ready to increment.
FAST_ANSWERS = {status: ANSWERS[answer] for status, answer in ANSWER_OF_STATUS.items()}
REDIRECT_SECONDS = GROUPS[REDIRECT]


def redirect_served(status: int, seconds: float) -> None:
    """A slug answered on the WSGI fast path: a redirect, or the limiter's refusal."""
    (FAST_ANSWERS.get(status) or ANSWERS["other"]).inc()
    REDIRECT_SECONDS.observe(seconds)


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
    if group == REDIRECT:
        ANSWERS[answer_of(request, status)].inc()
    GROUPS[group].observe(seconds)


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
