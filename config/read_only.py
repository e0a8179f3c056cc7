"""Maintenance mode: while the waffle switch `read_only` is on, writes are refused with 503.

`ReadOnlyMiddleware` refuses every unsafe-method request site-wide, except the few views
staff need to sign in and turn maintenance off again (named in EXEMPT_URL_NAMES).
"""

import waffle
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from config.ratelimit import responses
from hypermedia.context import UNKNOWN, context_of

READ_ONLY_SWITCH = "read_only"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETRY_AFTER_SECONDS = 300
# Views that stay writable, by URL name: signing in and out, the places where staff
# turn maintenance off again (the flag board, the switch and flag admin), and a protected
# link's password form, which follows a link as a GET does (visits go on being recorded).
EXEMPT_URL_NAMES = frozenset(
    {
        "follow",
        "login",
        "logout",
        "admin:login",
        "admin:logout",
        "admin:waffle_switch_changelist",
        "admin:waffle_switch_change",
        "admin:flags_featureflag_changelist",
        "admin:flags_featureflag_change",
    }
)
EXEMPT_NAMESPACES = frozenset({"flags"})
DETAIL = (
    "Torii is in maintenance and read-only for now: nothing can be changed. Please try again later."
)


def site_is_read_only() -> bool:
    return waffle.switch_is_active(READ_ONLY_SWITCH)


def banner(request: HttpRequest) -> dict:
    """Context processor: every page says the site is read-only while the switch is on,
    before anyone fills a form in only to have it refused.

    Only for a request that got past DomainMiddleware, as `site_links`: a page rendered
    before it (a 429 refused early) or while the database is away (a 503) must render
    without asking waffle, whose switch may need the database.
    """
    if context_of(request).domain is UNKNOWN:
        return {"read_only_notice": ""}
    try:
        active = site_is_read_only()
    except DatabaseError:  # the page that says so is more use than a 500
        active = False
    return {"read_only_notice": DETAIL if active else ""}


def is_write(method: str) -> bool:
    return method.upper() not in SAFE_METHODS


def is_exempt(url_name: str | None, namespaces: list[str] | tuple[str, ...] = ()) -> bool:
    return url_name in EXEMPT_URL_NAMES or any(ns in EXEMPT_NAMESPACES for ns in namespaces)


def refusal(request: HttpRequest) -> HttpResponse:
    """The 503 a refused write gets: problem+json for API and webhooks, a message for
    htmx, else the maintenance page."""
    return responses.refusal(
        request, 503, "read-only", RETRY_AFTER_SECONDS, DETAIL, {"maintenance": True}
    )


class ReadOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        # The switch is only looked up for writes: reads and redirects pay nothing.
        if not is_write(request.method):
            return None
        match = request.resolver_match
        if match and is_exempt(match.view_name, match.namespaces):
            return None
        if site_is_read_only():
            return refusal(request)
        return None
