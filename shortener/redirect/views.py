"""The slow path of a slug: the 404 and 410 pages, the 503 of an uncountable claim, the
password page of a protected link and its form, and the preview page (`/<slug>+`).

The password form (POST) answers with the redirect and a cookie for this link, or 403
and the form again. No session, no sign-in, and no cookie needed: the form carries a
signed token of its own (shortener/links/passwords.py) in place of Django's CSRF token,
since it opens one link and changes nothing else. Guesses are limited per address and
per link by the `link-password` rate-limit group, which counts every post before this
view (a forged token too), and every wrong password is counted on the link."""

import dataclasses
import logging
import time

from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from hypermedia.context import context_of
from shortener.links import access, passwords
from shortener.links.models import Link, LinkState, ReportReason, StateChange
from shortener.redirect.claims import Claim
from shortener.redirect.decision import AskPassword, Gone
from shortener.redirect.lookup import Snapshot, lookup_on
from shortener.redirect.middleware import live_redirect, redirect_to, smart_redirect

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


# Not which domain: a protected link's page never says where it leads, nor does this.
BLOCKED_REASON = (
    "This short link has been disabled because it leads to a domain that is blocked on this site."
)


def gone(request: HttpRequest, state: LinkState, link: Snapshot | None = None) -> HttpResponse:
    if state == LinkState.QUARANTINED and link is not None:
        return quarantined(request, link)
    reason = GONE_REASONS[state]
    if state == LinkState.DISABLED and link is not None and disabled_by_block(link.pk):
        reason = BLOCKED_REASON
    # Anyone may still report a gone link (its slug on another page, say): not a tombstone.
    slug = slug_of(link) if link is not None and state != LinkState.DELETED else None
    context = {"reason": reason, "state": state, "report_slug": slug}
    return render(request, "410.html", context, status=410)


def slug_of(link: Snapshot) -> str:
    return Link.objects.only("slug").get(pk=link.pk).slug


WARNED_AS = {
    ReportReason.PHISHING: "phishing",
    ReportReason.MALWARE: "malware",
    ReportReason.SPAM: "spam",
    ReportReason.ILLEGAL: "illegal content",
    ReportReason.OTHER: "harmful",
}


def quarantined(request: HttpRequest, link: Snapshot) -> HttpResponse:
    """The warning page: where the link leads as text, never as a link, and a button to
    continue only where staff allow it. A protected link's destination stays hidden."""
    full = Link.objects.select_related("domain").get(pk=link.pk)
    context = {
        "link": full,
        "reported_as": WARNED_AS.get(full.quarantine_reason, "harmful"),
        "shows_target": access.may_see_destination(getattr(request, "user", None), full),
        "passable": full.quarantine_passable,
    }
    response = render(request, "links/quarantined.html", context)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_safe
def go_on(request: HttpRequest, slug: str) -> HttpResponse:
    """`/<slug>+continue`: past a quarantined link's warning, only where staff allow it;
    any other link is followed (or refused) as usual at its own short URL."""
    link = lookup_on(request, slug)
    if link is None:
        raise Http404
    state = link.state(time.time())
    if state == LinkState.QUARANTINED:
        passable = Link.objects.filter(pk=link.pk, quarantine_passable=True).exists()
        if not passable:
            return quarantined(request, link)
        response = redirect_to(request, dataclasses.replace(link, quarantined=False))
        return response if response is not None else refusal(request, link)
    return follow(request, slug)


def disabled_by_block(pk: int) -> bool:
    """Did the blocklist disable the link (its latest state change names an entry)?
    One query on the slow path only: a live redirect never comes here."""
    latest = StateChange.objects.filter(link_id=pk).order_by("-id").first()
    return latest is not None and bool(latest.blocked_domain)


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
@csrf_exempt  # its only form, the password's, carries its own token: see `submitted`
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
            return gone(request, state, link)
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
        return gone(request, answer.state, link)
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
        return gone(request, state, link)
    full = Link.objects.get(pk=link.pk)
    shows_target = access.may_see_destination(getattr(request, "user", None), full)
    context = {
        "link": full,
        "shows_target": shows_target,
        "has_rules": bool(full.rules),
        "report_slug": full.slug,
    }
    return render(request, "links/preview.html", context)


STALE_FORM = "This form was open too long, or did not come from this page. Type the password again."


def asked(
    request: HttpRequest, link: Snapshot, *, wrong: bool = False, stale: bool = False
) -> HttpResponse:
    """The form; 403 after a wrong password or a form token that does not hold. It never
    says where the link leads."""
    context = {
        "wrong": wrong,
        "stale": STALE_FORM if stale else "",
        "form_token": passwords.form_token(link.pk, link.smart.password),
        "token_field": passwords.FORM_TOKEN_FIELD,
    }
    status = 403 if wrong or stale else 200
    response = render(request, "links/password.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def submitted(request: HttpRequest, link: Snapshot) -> HttpResponse:
    smart = link.smart
    if smart is None or not smart.password:
        return HttpResponseNotAllowed(["GET", "HEAD"])  # an open link has no form
    state = link.state(time.time())
    if state != LinkState.ACTIVE:
        return gone(request, state, link)
    # Before the password is looked at: a post that did not come from the page is no
    # guess (the rate limit has counted it all the same).
    token = request.POST.get(passwords.FORM_TOKEN_FIELD)
    if not passwords.form_token_holds(token, link.pk, smart.password):
        return asked(request, link, stale=True)
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
