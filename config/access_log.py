"""The access log: one line per request, on the `torii.access` logger, when ACCESS_LOG is on.

    GET /abc1234 302 0.41ms 203.0.113.7

Method, path without the query (a query may carry someone's token or e-mail address),
status, the time the stack took to answer (a streamed body's own time is not in it), and
the client's address as the rate limiter trusts it (REMOTE_ADDR, or X-Forwarded-For
behind TRUSTED_PROXY_COUNT proxies). Outermost in MIDDLEWARE, so every answer is logged,
the redirect's and the limiter's 429 too; not installed at all when ACCESS_LOG is off,
so then it costs nothing.
"""

import logging
import time
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.ratelimit.client_address import client_address
from hypermedia.context import context_of

logger = logging.getLogger("torii.access")
# Characters a path keeps as they are; the rest (controls, spaces, line breaks) are
# percent-encoded, so no path can forge a second log line.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def line(method: str, path: str, status: int, seconds: float, address: str) -> str:
    return f"{method} {quote(path, safe=_PATH_SAFE)} {status} {seconds * 1000:.2f}ms {address}"


class AccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        record(request, response.status_code, time.perf_counter() - started)
        return response


def record(request: HttpRequest, status: int, elapsed: float) -> None:
    """The request's line; the redirect fast path (config/fast_redirects.py) writes its
    answers' lines here too."""
    meta = request.META
    # The limiter has worked it out already for every request it counted.
    address = context_of(request).client_address or client_address(
        meta.get("REMOTE_ADDR", ""),
        meta.get("HTTP_X_FORWARDED_FOR", ""),
        settings.TRUSTED_PROXY_COUNT,
    )
    method = quote(request.method or "", safe="")
    logger.info(line(method, request.path, status, elapsed, address))
