"""Answers for refused requests: a page, an htmx fragment for #messages, or problem+json."""

import logging

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django_htmx.http import reswap, retarget

from config.ratelimit.fields import Usage, add_fields, retry_after
from hypermedia.fragments import wants_fragment
from hypermedia.problems import problem

# Machine clients: these paths get application/problem+json (RFC 9457) and,
# under the limit too, the RateLimit fields.
MACHINE_PREFIXES = ("/api/", "/webhooks/")
MESSAGES_TARGET = "#messages"
TITLES = {429: "Too Many Requests", 503: "Service Unavailable"}
PLAIN_PAGE = (
    "<!doctype html><title>{status} {title}</title><h1>{title}</h1>"
    "<p>Try again in {seconds} seconds.</p>"
)
logger = logging.getLogger(__name__)
_unrenderable: set[int] = set()


def for_machines(request: HttpRequest) -> bool:
    return request.path_info.startswith(MACHINE_PREFIXES)


def page(request: HttpRequest, status: int, seconds: int, context: dict) -> str:
    try:
        return render_to_string(f"{status}.html", context, request)
    except Exception:
        # The site page needs the static manifest, the session, the templates; a
        # refusal must not become a 500 when one of them is missing.
        if status not in _unrenderable:  # once per process: refusals come in floods
            _unrenderable.add(status)
            logger.exception("Could not render %s.html; sending a plain page instead", status)
        return PLAIN_PAGE.format(status=status, title=TITLES[status], seconds=seconds)


def refusal(
    request: HttpRequest,
    status: int,
    kind: str,
    seconds: int,
    detail: str,
    context: dict | None = None,
) -> HttpResponse:
    """A 429 or 503 in the form the client reads, with Retry-After and never cached.

    `kind` is the problem type machine clients get (hypermedia.problems.TYPES)."""
    context = {"retry_after": seconds, **(context or {})}
    if for_machines(request):
        response = problem(status, kind, detail)
    elif wants_fragment(request):
        html = render_to_string(f"{status}.html#message", context, request)
        response = reswap(retarget(HttpResponse(html, status=status), MESSAGES_TARGET), "innerHTML")
    else:
        response = HttpResponse(page(request, status, seconds, context), status=status)
    response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    patch_vary_headers(response, ["HX-Request"])
    return response


def too_many_requests(request: HttpRequest, usages: list[Usage]) -> HttpResponse:
    seconds = retry_after(usages)
    over = ", ".join(u.policy for u in usages if u.exceeded)
    detail = f"Rate limit exceeded ({over}); retry in {seconds} seconds."
    return add_fields(refusal(request, 429, "rate-limited", seconds, detail), usages)


def limiter_unavailable(request: HttpRequest, seconds: int) -> HttpResponse:
    detail = f"Rate limiting is unavailable, so this is refused; retry in {seconds} seconds."
    return refusal(request, 503, "rate-limiter-unavailable", seconds, detail)
