"""Starting a sign-in at the provider, and its answer coming back (the authorization code flow).

The start is a POST from the sign-in page's button (with Django's CSRF token), so no other
site can start a sign-in on a visitor's behalf; it keeps a state, a nonce and a PKCE
verifier in the session (the library's helper) and sends the browser to the provider.
The callback takes its state out of the session whatever happens next, so no answer can be
used twice, and refuses with a status and a sentence (`SignInRefused`), writing nothing.
"""

import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.crypto import get_random_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.utils import (
    add_state_and_verifier_and_nonce_to_session,
    generate_code_challenge,
)

from shortener.oidc import provider
from shortener.oidc.refusal import SignInRefused

logger = logging.getLogger(__name__)

STATES = "oidc_states"  # the library's session key: state → nonce, verifier, added_on
NEXT = "oidc_login_next"
# The provider's errors that say it is unwell rather than that it refuses the person.
PROVIDER_TROUBLE = {"server_error", "temporarily_unavailable"}
# A sign-in's state is good this long after the button was pressed: a person at the
# provider's page takes a minute, an answer kept for later is not taken.
STATE_SECONDS = 600


@require_POST
def start(request: HttpRequest) -> HttpResponse:
    try:
        endpoints = provider.endpoints()
    except SignInRefused as refusal:
        return refused(request, refusal)
    state, verifier = get_random_string(32), get_random_string(64)
    params = {
        "response_type": "code",
        "scope": settings.OIDC_RP_SCOPES,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "redirect_uri": provider.redirect_uri(),
        "state": state,
        "nonce": get_random_string(32),
        "code_challenge": generate_code_challenge(verifier, "S256"),
        "code_challenge_method": "S256",
    }
    add_state_and_verifier_and_nonce_to_session(request, state, params, verifier)
    wanted = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[NEXT] = wanted if safe else None
    joiner = "&" if "?" in endpoints.authorization else "?"
    response = HttpResponseRedirect(endpoints.authorization + joiner + urlencode(params))
    response.status_code = 303
    return response


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    try:
        user = signed_in_user(request)
    except SignInRefused as refusal:
        return refused(request, refusal)
    next_url = request.session.pop(NEXT, None)
    auth.login(request, user)  # a new session key, as for a password sign-in
    messages.success(request, f"Signed in with {settings.OIDC_NAME} as {user.username}.")
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def signed_in_user(request: HttpRequest, now: Callable[[], float] = time.time):
    name = settings.OIDC_NAME
    state = request.GET.get("state", "")
    states = request.session.get(STATES)
    started = states.pop(state, None) if state and isinstance(states, dict) else None
    if started is None:
        raise SignInRefused(
            400,
            "This sign-in answer was not started from this browser, or was used already: "
            "start again from the sign-in page.",
        )
    request.session[STATES] = states  # the state is spent, whatever happens next:
    request.session.save()  # saved now, as SessionMiddleware saves no 5xx answer's session
    if now() - float(started.get("added_on") or 0) > STATE_SECONDS:
        raise SignInRefused(
            400,
            f"This sign-in was started more than {STATE_SECONDS // 60} minutes ago: "
            "start again from the sign-in page.",
        )
    if error := request.GET.get("error"):
        said = error[:100]
        if description := request.GET.get("error_description", "")[:300]:
            said += f": {description}"
        status = 502 if error in PROVIDER_TROUBLE else 403
        raise SignInRefused(status, f"{name} refused the sign-in ({said}).")
    if not request.GET.get("code"):
        raise SignInRefused(400, f"{name}'s answer carried no sign-in code: start again.")
    user = auth.authenticate(
        request,
        oidc_nonce=started.get("nonce") or "",
        oidc_code_verifier=started.get("code_verifier"),
    )
    if user is None:  # not reached while ProviderBackend is configured: it raises instead
        raise SignInRefused(403, f"{name} did not sign anyone in.")
    return user


def refused(request: HttpRequest, refusal: SignInRefused) -> HttpResponse:
    logger.warning("OIDC sign-in refused (%s): %s", refusal.status, refusal.sentence)
    context = {"status": refusal.status, "reason": refusal.sentence, "name": settings.OIDC_NAME}
    return render(request, "registration/oidc_refused.html", context, status=refusal.status)


def sign_in_button(request: HttpRequest) -> dict:
    """The sign-in page draws "Sign in with <name>" only when a provider is configured."""
    if not settings.OIDC_ENABLED:
        return {}
    return {"oidc_name": settings.OIDC_NAME}
