"""Live redirects answered beneath Django's request cycle (docs/performance.md).

`FastRedirects` is Django's own WSGI handler with one more step in front: a GET or HEAD
whose path is a slug is answered here by the same functions, in the same order, as the
middleware that answer it inside Django (the Host check, SecurityMiddleware, the health
paths, the early rate limiter, `RedirectMiddleware`), with the same lookup cache, limiter,
visit buffer and journal, and SecurityMiddleware's own headers. What those do not answer
with a redirect or a refusal (an unknown, disabled or used-up link, the password page, a
bad host, an error) goes on into Django unchanged, carrying what was worked out (the
counted rate limit among it) in the request's context, so nothing is counted twice.

What it leaves out is Django's generic machinery around a request (the request signals,
the middleware chain's wrappers, the script prefix), which is most of what a redirect
cost; `tests/test_fast_redirects.py` sends every kind and state of link, and bad input,
through both and compares status, headers and body byte for byte.
"""

import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIHandler, get_script_name
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware
from django.urls import set_script_prefix

from config import access_log
from config.health import VIEWS as HEALTH_PATHS
from config.metrics.counting import redirect_served
from config.ratelimit.middleware import EarlyRateLimitMiddleware
from hypermedia.context import ENVIRON_KEY, context_of
from shortener.domains.served import checked_host
from shortener.redirect.middleware import SLUG_PATH, live_redirect


def unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("the fast path calls its middleware's parts, not their chain")


class FastRedirects(WSGIHandler):
    def __init__(self):
        super().__init__()
        self.security = SecurityMiddleware(unused)
        self.limiter = EarlyRateLimitMiddleware(unused)
        self.logged = settings.ACCESS_LOG

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            # PATH_INFO as the server gives it (Latin-1 text); the slug pattern is ASCII,
            # so a match is the same string Django's path_info would decode.
            match = SLUG_PATH.match(environ.get("PATH_INFO", ""))
            if match is not None:
                started = time.perf_counter()
                request = self.request_class(environ)
                response = self.answer(request, match.group(1))
                if response is not None:
                    elapsed = time.perf_counter() - started
                    redirect_served(response.status_code, elapsed)
                    if self.logged:
                        access_log.record(request, response.status_code, elapsed)
                    status = f"{response.status_code} {response.reason_phrase}"
                    start_response(status, list(response.items()))
                    return [response.content]
                environ[ENVIRON_KEY] = context_of(request)
        return super().__call__(environ, start_response)

    def answer(self, request: HttpRequest, slug: str) -> HttpResponse | None:
        """The live redirect, or the limiter's refusal, with the headers the outer
        middleware would add; None: Django answers."""
        try:
            checked_host(request)  # HostMiddleware
            if self.security.process_request(request) is not None:  # the HTTPS redirect
                return None
            if request.path_info in HEALTH_PATHS:  # HealthMiddleware
                return None
            counted = self.limiter.admit(request)
            if isinstance(counted, HttpResponse):
                set_script_prefix(get_script_name(request.environ))  # the page's links
                response = counted
            else:
                response = live_redirect(request, slug)  # RedirectMiddleware
                if response is None:
                    return None
                response = self.limiter.report(request, response, counted)
            return self.security.process_response(request, response)
        except DisallowedHost:
            return None  # Django's 400, logged as it logs it
        except Exception:  # Django answers it again: its 503 page and its log
            return None
