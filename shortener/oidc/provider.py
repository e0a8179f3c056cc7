"""The provider's endpoints (from settings, or its discovery document) and this site's
redirect URI, which the provider's client must list exactly.

The provider is the operator's choice and often sits on a private network (Keycloak or
Authentik beside Torii), so its requests do not go through the safe fetcher, which exists
to refuse exactly those addresses for URLs that others choose; they are bounded by
OIDC_TIMEOUT instead (docs/design-decisions.md).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.urls import reverse

from shortener.oidc.refusal import SignInRefused

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# A provider rotates keys and endpoints rarely; its keys are read on every sign-in anyway.
DISCOVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str


_discovered: dict[str, tuple[float, Endpoints]] = {}
_lock = threading.Lock()


def redirect_uri() -> str:
    """Where the provider sends the browser back: SITE_URL's origin, never the request's Host."""
    return settings.SITE_URL.rstrip("/") + reverse("oidc-callback")


def endpoints(clock: Callable[[], float] = time.monotonic) -> Endpoints:
    if getattr(settings, "OIDC_OP_AUTHORIZATION_ENDPOINT", None):
        return Endpoints(
            settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
            settings.OIDC_OP_TOKEN_ENDPOINT,
            settings.OIDC_OP_JWKS_ENDPOINT,
        )
    issuer = settings.OIDC_ISSUER
    with _lock:
        known = _discovered.get(issuer)
    if known and clock() - known[0] < DISCOVERY_SECONDS:
        return known[1]
    found = discover(issuer)
    with _lock:
        _discovered[issuer] = (clock(), found)
    return found


def forget() -> None:
    """Drop what discovery learnt (tests, and a provider whose endpoints moved)."""
    with _lock:
        _discovered.clear()


def discover(issuer: str) -> Endpoints:
    url = issuer.rstrip("/") + DISCOVERY_SUFFIX
    name = settings.OIDC_NAME
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise SignInRefused(
            502, f"{name} could not be asked how to sign in ({url}: {type(error).__name__})."
        ) from error
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        said = document.get("issuer") if isinstance(document, dict) else None
        raise SignInRefused(
            502,
            f"{name}'s discovery document names the issuer {said!r}, not {issuer!r}: "
            "OIDC_ISSUER must be the provider's issuer exactly.",
        )
    try:
        return Endpoints(
            str(document["authorization_endpoint"]),
            str(document["token_endpoint"]),
            str(document["jwks_uri"]),
        )
    except KeyError as missing:
        raise SignInRefused(502, f"{name}'s discovery document has no {missing.args[0]}.") from None
