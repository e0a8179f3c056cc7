"""Rate-limit benchmark: the middleware's own cost per request, in process.

Redirect throughput with limits on and off is measured end to end, with wrk against
the production server, in bench/redirects.py.
"""

import statistics
import time

from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from config.ratelimit.middleware import RateLimitMiddleware
from config.ratelimit.rates import Rate

REQUESTS = 5000
ROUNDS = 5
HIGH = Rate(10**9, 60)  # on, but never reached


def rates(rate: Rate | None) -> dict:
    from django.conf import settings

    return dict.fromkeys(settings.RATE_LIMITS, rate)


def per_call_us(call, make_request, count: int) -> list[float]:
    """Timings of `call` on fresh requests (a request is counted once, so none is reused)."""
    timings = []
    for _ in range(count):
        request = make_request()
        started = time.perf_counter_ns()
        call(request)
        timings.append((time.perf_counter_ns() - started) / 1000)
    return timings


def middleware_cost():
    """Median µs per request: the middleware around a trivial view, against the bare view."""

    def view(request):
        return HttpResponse("ok")

    middleware = RateLimitMiddleware(view)
    factory = RequestFactory()

    def request():
        return factory.get("/abc123", REMOTE_ADDR="192.0.2.1")

    with override_settings(ROOT_URLCONF="bench.urls", RATE_LIMITS=rates(HIGH)):
        per_call_us(middleware, request, 200)  # warm the cache file and the resolver
        bare = per_call_us(view, request, REQUESTS)
        on = per_call_us(middleware, request, REQUESTS)
    with override_settings(ROOT_URLCONF="bench.urls", RATE_LIMITS=rates(None)):
        off = per_call_us(middleware, request, REQUESTS)
    median_on, median_off, median_bare = (statistics.median(t) for t in (on, off, bare))
    p90_on = statistics.quantiles(on, n=10)[-1]
    return [
        ("bare view, median", median_bare, "µs"),
        ("middleware, limits off (classify only), median", median_off, "µs"),
        ("middleware, limits on, median", median_on, "µs"),
        ("middleware, limits on, p90", p90_on, "µs"),
        ("middleware cost (on - bare), median  [target ≤100]", median_on - median_bare, "µs"),
    ]
