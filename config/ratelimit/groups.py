"""Which limits a request counts against: its group from the URL name, and the key within it."""

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import ResolverMatch

from config.ratelimit.client_address import address_key, client_address
from hypermedia.context import context_of
from shortener.tokens import personal as tokens

API_PREFIX = "/api/"
# Creating links, signing in, delivering webhooks and reporting a link are POSTs; a GET
# to the same URL is browsing.
POST_ONLY = frozenset({"create", "login", "webhook", "report"})
_READABLE_SOURCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a request increments: `policy` names it in the RateLimit fields."""

    policy: str
    group: str
    key: str


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
    # Visits hash the same address the limits count (shortener/visits/recording.py).
    context_of(request).client_address = address
    return "ip:" + address_key(address)


def has_bearer_token(request: HttpRequest) -> bool:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def token_user(request: HttpRequest) -> str | None:
    """`user:<id>` of a live bearer token, looked up as the API's gate will look it up."""
    token = tokens.from_request(request) if has_bearer_token(request) else None
    return f"user:{token.user_id}" if token is not None else None


def user_or_address(request: HttpRequest) -> str:
    """The signed-in user, by session or (under /api/) bearer token; else the address.

    This runs before the API's gate sets request.user from the token, so the token is
    resolved here: one user is one bucket, through forms and the API alike.
    """
    if request.path_info.startswith(API_PREFIX) and (user := token_user(request)):
        return user
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return address_of(request)


def api_checks(request: HttpRequest) -> list[Check]:
    """A live token counts against its user; a made-up one against the address, twice.

    Keyed by the token itself, every made-up token would be a fresh bucket.
    """
    if not has_bearer_token(request):
        return [Check("api", "api", address_of(request))]
    if user := token_user(request):
        return [Check("api", "api", user)]
    address = address_of(request)
    return [Check("api", "api", address), Check("auth-failures", "auth-failures", address)]


def normalized_username(username: str) -> str:
    """The username as sign-in looks it up: the form strips it, then NFKC-normalises it
    (UsernameField, AbstractBaseUser.normalize_username). No case folding: ModelBackend
    matches usernames case-sensitively, so `Alice` is another account than `alice`."""
    return get_user_model().normalize_username(username.strip())


def username_of(request: HttpRequest) -> str:
    """The account a sign-in or a password reset (by e-mail address) is about."""
    try:
        username = request.POST.get("username", "") or request.POST.get("email", "")
    except Exception:  # unreadable or oversized bodies: the view will refuse them
        username = ""
    return "username:" + digest(normalized_username(username))


def webhook_source(name: str) -> str:
    if _READABLE_SOURCE.fullmatch(name):
        return "source:" + name
    return "source:" + digest(name)


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
        checks.extend(api_checks(request))
    if group == "login":
        checks.append(Check("login", "login", address_of(request)))
        checks.append(Check("login-username", "login", username_of(request)))
    elif group == "webhook":
        # Nothing before the view, which alone knows whether a delivery fails: the
        # source's bucket is spent once the signature holds, a failure counts against
        # the address and is refused past its limit (middleware.ViewLimits). A bucket
        # looked at here would refuse a correct sender behind the same address (a NAT)
        # as a stranger who failed from it.
        return []
    elif group == "report":
        checks.append(Check("report", "report", address_of(request)))
    elif group == "create":
        checks.append(Check("create", "create", user_or_address(request)))
    elif group == "redirect" and request.method == "POST" and match is not None:
        # A password guess at a protected link: per address, and per link whoever guesses.
        address = address_of(request)
        slug = str(match.kwargs.get("slug", ""))
        checks.append(Check("link-password", "link-password", address))
        checks.append(Check("link-password-link", "link-password", "link:" + digest(slug)))
    elif group == "redirect":
        checks.append(Check("redirect", "redirect", address_of(request)))
    if not checks:
        checks.append(Check("default", "default", address_of(request)))
    rates = settings.RATE_LIMITS
    return [check for check in checks if rates.get(check.group) is not None]
