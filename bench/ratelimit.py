"""Rate-limit benchmarks: the middleware's own cost, and redirect throughput with limits on/off."""

import io
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


def per_call_us(call, request, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call(request)
        timings.append((time.perf_counter_ns() - started) / 1000)
    return timings


def middleware_cost():
    """Median µs per request: the middleware around a trivial view, against the bare view."""

    def view(request):
        return HttpResponse("ok")

    middleware = RateLimitMiddleware(view)
    request = RequestFactory().get("/abc123", REMOTE_ADDR="192.0.2.1")
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


def wsgi_environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "192.0.2.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }


def requests_per_second(handler, count: int) -> float:
    def start_response(status, headers):
        assert status.startswith("302"), status

    started = time.perf_counter()
    for _ in range(count):
        response = handler(wsgi_environ("/abc123"), start_response)
        response.close()
    return count / (time.perf_counter() - started)


def redirect_throughput():
    """GET /<slug> → 302 through Django's whole middleware stack, one thread, in process."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import clear_url_caches

    with override_settings(ROOT_URLCONF="bench.urls"):
        clear_url_caches()
        handler = WSGIHandler()
        results = {"on": [], "off": []}
        for _ in range(ROUNDS):  # interleaved, so drift hits both alike
            for mode, rate in (("on", HIGH), ("off", None)):
                with override_settings(RATE_LIMITS=rates(rate)):
                    results[mode].append(requests_per_second(handler, REQUESTS // ROUNDS))
    clear_url_caches()
    on, off = statistics.median(results["on"]), statistics.median(results["off"])
    return [
        ("redirects/s, limits off", off, "req/s"),
        ("redirects/s, limits on (10^9/m, never reached)", on, "req/s"),
        ("per-request difference", (1 / on - 1 / off) * 1e6, "µs"),
    ]
