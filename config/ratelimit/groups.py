"""Which limits a request counts against: its group from the URL name, and the key within it."""

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import ResolverMatch

from config.ratelimit.client_address import address_key, client_address

API_PREFIX = "/api/"
# Creating links and signing in are POSTs; a GET to the same URL is browsing.
POST_ONLY = frozenset({"create", "login"})
_READABLE_SOURCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a request increments: `policy` names it in the RateLimit fields."""

    policy: str
    group: str
    key: str


CLIENT_ADDRESS_META = "torii.client_address"


def digest(value: str) -> str:
    # Keys may come from headers and form fields: hash them to a fixed, safe length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def address_of(request: HttpRequest) -> str:
    meta = request.META
    address = client_address(
        meta.get("REMOTE_ADDR", ""),
        meta.get("HTTP_X_FORWARDED_FOR", ""),
        settings.TRUSTED_PROXY_COUNT,
    )
    # Visits hash the same address the limits count (shortener/visits.py).
    meta[CLIENT_ADDRESS_META] = address
    return "ip:" + address_key(address)


def user_or_address(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return address_of(request)


def token_or_address(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        return "token:" + digest(token)
    return address_of(request)


def username_of(request: HttpRequest) -> str:
    try:
        username = request.POST.get("username", "")
    except Exception:  # unreadable or oversized bodies: the view will refuse them
        username = ""
    return "username:" + digest(username.strip().casefold())


def webhook_source(match: ResolverMatch | None) -> str:
    source = str(match.kwargs.get("source", "")) if match else ""
    if _READABLE_SOURCE.fullmatch(source):
        return "source:" + source
    return "source:" + digest(source)


def checks_for(request: HttpRequest, match: ResolverMatch | None) -> list[Check]:
    """The counters this request increments; empty when it is exempt or its groups are off."""
    url_name = match.url_name if match else None
    if url_name in settings.RATE_LIMIT_EXEMPT:
        return []
    group = settings.RATE_LIMIT_GROUPS.get(url_name)
    if group in POST_ONLY and request.method != "POST":
        group = None

    checks = []
    if request.path_info.startswith(API_PREFIX):
        checks.append(Check("api", "api", token_or_address(request)))
    if group == "login":
        checks.append(Check("login", "login", address_of(request)))
        checks.append(Check("login-username", "login", username_of(request)))
    elif group == "webhook":
        checks.append(Check("webhook", "webhook", webhook_source(match)))
    elif group == "create":
        checks.append(Check("create", "create", user_or_address(request)))
    elif group == "redirect":
        checks.append(Check("redirect", "redirect", address_of(request)))
    if not checks:
        checks.append(Check("default", "default", address_of(request)))
    rates = settings.RATE_LIMITS
    return [check for check in checks if rates.get(check.group) is not None]
