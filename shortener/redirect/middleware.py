"""Live redirects answered near the top of the stack: no session, auth, CSRF or template.
Anything not live falls through to the views (shortener/redirect/views.py)."""

import re
import time

from django.http import HttpRequest, HttpResponse

from hypermedia.context import context_of
from shortener.links import passwords
from shortener.links.models import LinkState
from shortener.policy.slugs import SLUG_PATTERN
from shortener.redirect.claims import Claim, take_visit
from shortener.redirect.decision import AskPassword, Gone, decide
from shortener.redirect.facts import facts_of
from shortener.redirect.lookup import Snapshot, lookup_on
from shortener.visits.countries import country_of
from shortener.visits.recording import buffer

SLUG_PATH = re.compile(rf"/({SLUG_PATTERN})\Z")


def live_redirect(request: HttpRequest, slug: str) -> HttpResponse | None:
    """The redirect response for a live link, or None when the slow path must answer
    (a quarantined link among them: its state is not active)."""
    link = lookup_on(request, slug)
    if link is None or link.state(time.time()) != LinkState.ACTIVE:
        return None
    return redirect_to(request, link)


def redirect_to(request: HttpRequest, link: Snapshot) -> HttpResponse | None:
    """The redirect of a link known to be followable: counted, claimed, answered."""
    if link.smart is not None:
        return smart_redirect(request, link)
    counted = request.method == "GET"
    if counted and link.max_visits is not None:
        claim = take_visit(link)
        if claim is not Claim.TAKEN:
            context_of(request).claim = claim
            return None
    if counted:
        buffer.add(link.pk, request.META, address=context_of(request).client_address)
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
        and passwords.unlocked(request.COOKIES.get(passwords.COOKIE_NAME), link.pk, smart.password)
    )
    counted = request.method in ("GET", "POST")
    address = context_of(request).client_address
    country = country_of(request.META, address) if counted or "country" in smart.needs else ""
    facts = facts_of(request.META, time.time(), smart.needs, country)
    answer = decide(link, facts, unlocked=unlocked)
    if isinstance(answer, AskPassword | Gone):
        context_of(request).answer = answer
        return None
    if counted and link.max_visits is not None:
        claim = take_visit(link)
        if claim is not Claim.TAKEN:
            context_of(request).claim = claim
            return None
    if counted:
        buffer.add(link.pk, request.META, country, address)
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
