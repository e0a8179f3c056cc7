"""The slow path of a slug: the 404 and 410 pages, the 503 of an uncountable claim, the
password page of a protected link and its form, and the preview page (`/<slug>+`).

The password form (POST) answers with the redirect and a cookie for this link, or 403
and the form again. No session, no sign-in; guesses are limited per address and per
link by the `link-password` rate-limit group, and every wrong one is counted on the link."""

import logging
import time

from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from hypermedia.context import context_of
from shortener.links import passwords
from shortener.links.models import Link, LinkState
from shortener.redirect.claims import Claim
from shortener.redirect.decision import AskPassword, Gone
from shortener.redirect.lookup import Snapshot, lookup_on
from shortener.redirect.middleware import live_redirect, smart_redirect

# Seconds a visitor of a limited link is asked to wait while the counters are down.
UNCOUNTABLE_RETRY_AFTER = 30
UNCOUNTABLE_REASON = (
    "This short link allows a limited number of visits, and visits cannot be counted "
    "right now, so it cannot be followed for the moment."
)
logger = logging.getLogger(__name__)

GONE_REASONS = {
    LinkState.DISABLED: "This short link has been disabled by its owner.",
    LinkState.EXPIRED: "This short link has expired.",
    LinkState.EXHAUSTED: "This short link has reached its maximum number of visits.",
    LinkState.DELETED: "This short link has been deleted.",
}


def gone(request: HttpRequest, state: LinkState) -> HttpResponse:
    return render(request, "410.html", {"reason": GONE_REASONS[state], "state": state}, status=410)


def uncountable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the visit limit cannot be checked while the counters are down."""
    seconds = UNCOUNTABLE_RETRY_AFTER
    context = {"retry_after": seconds, "reason": UNCOUNTABLE_REASON}
    try:
        response = render(request, "503.html", context, status=503)
    except Exception:
        # The site's page may need the very cache that is down (the flags in the
        # header on Redis): a refusal must not become a 500. settings.LOGGING throttles
        # this logger to a line a minute.
        logger.exception("Could not render 503.html; sending a plain page instead")
        response = HttpResponse(
            f"<!doctype html><title>503 Service Unavailable</title>"
            f"<h1>Temporarily unavailable</h1><p>{UNCOUNTABLE_REASON}</p>"
            f"<p>Try again in {seconds} seconds.</p>",
            status=503,
        )
    response["Retry-After"] = str(seconds)
    # No line from django.request for each refused click: the counters' logger says it
    # once a minute (config/log_filters.ExplainedRefusals, in settings.LOGGING).
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def follow(request: HttpRequest, slug: str) -> HttpResponse:
    """The slow path: 404 and 410 pages, the password page and its form (and live
    redirects if the middleware is absent)."""
    link = lookup_on(request, slug)
    if link is None:
        raise Http404
    if request.method == "POST":
        return submitted(request, link)
    context = context_of(request)
    if context.claim is None and context.answer is None:
        state = link.state(time.time())
        if state != LinkState.ACTIVE:
            return gone(request, state)
        response = live_redirect(request, slug)
        if response is not None:
            return response
    return refusal(request, link)


def refusal(request: HttpRequest, link: Snapshot) -> HttpResponse:
    """The answer when the redirect said no: the password page, gone, or uncountable."""
    context = context_of(request)
    answer = context.answer
    if isinstance(answer, AskPassword):
        return asked(request, link)
    if isinstance(answer, Gone):
        return gone(request, answer.state)
    if context.claim is Claim.UNCOUNTABLE:
        return uncountable(request)
    return gone(request, LinkState.EXHAUSTED)


@require_safe
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    link = lookup_on(request, slug)
    if link is None:
        raise Http404
    state = link.state(time.time())
    if state != LinkState.ACTIVE:
        return gone(request, state)
    full = Link.objects.get(pk=link.pk)
    user = getattr(request, "user", None)
    shows_target = not full.is_protected or (
        user is not None and user.is_authenticated and (user.is_staff or user.pk == full.owner_id)
    )
    context = {"link": full, "shows_target": shows_target, "has_rules": bool(full.rules)}
    return render(request, "links/preview.html", context)


def asked(request: HttpRequest, link: Snapshot, *, wrong: bool = False) -> HttpResponse:
    """The form; 403 after a wrong password. It never says where the link leads."""
    response = render(
        request, "links/password.html", {"wrong": wrong}, status=403 if wrong else 200
    )
    response["Cache-Control"] = "private, no-store"
    return response


def submitted(request: HttpRequest, link: Snapshot) -> HttpResponse:
    smart = link.smart
    if smart is None or not smart.password:
        return HttpResponseNotAllowed(["GET", "HEAD"])  # an open link has no form
    state = link.state(time.time())
    if state != LinkState.ACTIVE:
        return gone(request, state)
    password = request.POST.get("password", "")
    if not passwords.is_right(password, smart.password):
        Link.objects.filter(pk=link.pk).update(password_failures=F("password_failures") + 1)
        return asked(request, link, wrong=True)
    response = smart_redirect(request, link, shown_password=True)
    if response is None:  # used up, or visits cannot be counted now
        return refusal(request, link)
    response.set_cookie(
        passwords.COOKIE_NAME,
        passwords.cookie_value(link.pk, smart.password),
        max_age=passwords.COOKIE_SECONDS,
        path=request.path,  # this short link only
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response
