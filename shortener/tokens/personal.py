"""Personal API tokens: issue, find by digest (only live ones: neither revoked, expired, nor
of an inactive user), and why a presented token is not live."""

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from hypermedia.context import UNKNOWN, context_of
from shortener.tokens import scopes as rules
from shortener.tokens.models import ApiToken

PREFIX = "torii_"
VISIBLE = 12  # characters shown in the token list, e.g. "torii_Ab3dEf"
# last_used_at is written at most this often, so a busy script is not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(
    user,
    name: str,
    scopes=rules.ALL,
    lifetime: timedelta | None = None,
    now=None,
    workspace=None,
) -> tuple[ApiToken, str]:
    """A new token for `user`: the stored row and the raw token, which is never kept.

    The tokens page passes what its owner chose; programs that issue one (tests, benches)
    get every scope and no expiry unless they say otherwise."""
    if bad := rules.unknown(scopes):
        raise ValueError(f"Unknown scopes: {', '.join(bad)}")
    now = now or timezone.now()
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:VISIBLE],
        digest=digest(raw),
        scopes=rules.in_order(scopes),
        created_at=now,
        expires_at=rules.expiry(now, lifetime),
        workspace=workspace,
    )
    return token, raw


def live(now) -> Q:
    """Tokens that still work at `now`: not revoked, not expired, of an active user."""
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    return Q(revoked_at__isnull=True, user__is_active=True) & unexpired


def find(raw: str, now=None) -> ApiToken | None:
    """The live token for a raw value, or None (unknown, revoked, expired, or its user is
    inactive): looked up on every request, so a revoked or expired token stops at once.
    Marks it used, at most once every TOUCH_EVERY."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    now = now or timezone.now()
    token = ApiToken.objects.select_related("user").filter(live(now), digest=digest(raw)).first()
    stale = token is not None and (
        token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY
    )
    if stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def expired(raw: str, now=None) -> ApiToken | None:
    """The token for a raw value if it is dead only because it expired, else None: the
    401's detail says so, so that its program's owner knows to make a new one. Asked only
    when a request is refused."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    now = now or timezone.now()
    return ApiToken.objects.filter(
        digest=digest(raw),
        revoked_at__isnull=True,
        user__is_active=True,
        expires_at__lte=now,
    ).first()


def raw_of(request: HttpRequest) -> str:
    """The bearer token the request presents, or ''."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else ""


def from_header(request: HttpRequest) -> ApiToken | None:
    raw = raw_of(request)
    return find(raw) if raw else None


def from_request(request: HttpRequest) -> ApiToken | None:
    """The request's live token, looked up once: the site's rate limiter keys on its user
    before the gate admits the request, and both must see the same answer."""
    context = context_of(request)
    if context.api_token is UNKNOWN:
        context.api_token = from_header(request)
    return context.api_token
