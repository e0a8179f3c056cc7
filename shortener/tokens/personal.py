"""Personal API tokens: issue, find by digest, and the Bearer authentication for ninja."""

import hashlib
import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from hypermedia.context import UNKNOWN, context_of
from shortener.tokens.models import ApiToken

PREFIX = "torii_"
VISIBLE = 12  # characters shown in the token list, e.g. "torii_Ab3dEf"
# last_used_at is written at most this often, so a busy script is not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the stored row and the raw token, which is never kept."""
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:VISIBLE], digest=digest(raw))
    return token, raw


def find(raw: str) -> ApiToken | None:
    """The live token for a raw value, or None (unknown or revoked). Marks it used."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
    return token


def from_header(request: HttpRequest) -> ApiToken | None:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return find(raw.strip())


def from_request(request: HttpRequest) -> ApiToken | None:
    """The request's live token, looked up once: the site's rate limiter keys on its user
    before the gate admits the request, and both must see the same answer."""
    context = context_of(request)
    if context.api_token is UNKNOWN:
        context.api_token = from_header(request)
    return context.api_token
