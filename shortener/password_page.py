"""The password page of a protected link, on the short URL itself: the form (GET, HEAD),
and the answer to it (POST): the redirect with a cookie for this link, or 403 and the
form again. No session, no sign-in; guesses are limited per address and per link by the
`link-password` rate-limit group, and every wrong one is counted on the link."""

import time

from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from shortener import link_passwords
from shortener.models import Link, LinkState
from shortener.redirects import Snapshot, gone, refusal, smart_redirect


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
    if not link_passwords.is_right(password, smart.password):
        Link.objects.filter(pk=link.pk).update(password_failures=F("password_failures") + 1)
        return asked(request, link, wrong=True)
    response = smart_redirect(request, link, shown_password=True)
    if response is None:  # used up, or visits cannot be counted now
        return refusal(request, link)
    response.set_cookie(
        link_passwords.COOKIE_NAME,
        link_passwords.cookie_value(link.pk, smart.password),
        max_age=link_passwords.COOKIE_SECONDS,
        path=request.path,  # this short link only
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response
