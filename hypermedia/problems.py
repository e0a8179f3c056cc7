"""Problem documents (RFC 9457, application/problem+json): the one builder and the one table
of types for every refusal under /api/ and /webhooks/, rate limits and maintenance included."""

from dataclasses import dataclass
from http import HTTPStatus

from django.http import JsonResponse

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:torii:problem:"
API = "api"
WEBHOOKS = "webhooks"
EVERYWHERE = frozenset({API, WEBHOOKS})


@dataclass(frozen=True)
class ProblemType:
    meaning: str
    sent_under: frozenset[str]


def only(surface: str) -> frozenset[str]:
    return frozenset({surface})


# type suffix → what it means and where it is sent; the API's OpenAPI description lists
# the types sent under /api/; docs/api.md and docs/webhooks.md list them all.
TYPES = {
    "unauthorized": ProblemType(
        "No valid API token: send `Authorization: Bearer <token>`.", only(API)
    ),
    "token-expired": ProblemType(
        "The API token has expired: make a new one on the API tokens page.", only(API)
    ),
    "insufficient-scope": ProblemType(
        "The API token lacks the scope this operation needs; `scope` names it.", only(API)
    ),
    "api-disabled": ProblemType(
        "The API is switched off for this account (the `api_v1` flag).", only(API)
    ),
    "not-found": ProblemType("No such resource, or it is not yours.", only(API)),
    "role-forbids": ProblemType(
        "Your role in the link's workspace does not allow this (viewers only read).", only(API)
    ),
    "left-workspace": ProblemType(
        "The API token acts for a workspace its owner is no longer a member of.", only(API)
    ),
    "method-not-allowed": ProblemType(
        "The resource does not answer this method; `Allow` lists those it does.", EVERYWHERE
    ),
    "malformed-request": ProblemType(
        "The body is not a JSON object, or a parameter or header is malformed.", EVERYWHERE
    ),
    "unknown-field": ProblemType("The body names a field this resource does not have.", only(API)),
    "unsupported-media-type": ProblemType("Bodies must be `application/json`.", only(API)),
    "body-too-large": ProblemType(
        "The body is over the size limit (64 KB for the API, 256 KB for webhook deliveries).",
        EVERYWHERE,
    ),
    "length-required": ProblemType("Send bodies with Content-Length, not chunked.", only(API)),
    "invalid-link": ProblemType(
        "A field breaks the link rules (the same rules as the site's forms).", only(API)
    ),
    "idempotency-key-reused": ProblemType(
        "This Idempotency-Key was used with a different request.", only(API)
    ),
    "idempotency-key-in-flight": ProblemType(
        "A request with this Idempotency-Key is still running.", only(API)
    ),
    "invalid-idempotency-key": ProblemType(
        "Idempotency-Key must be 1 to 255 visible ASCII characters.", only(API)
    ),
    "unknown-source": ProblemType(
        "There is no enabled webhook source with this name.", only(WEBHOOKS)
    ),
    "bad-signature": ProblemType(
        "The signature headers are missing, malformed, stale, or match no secret of the source.",
        only(WEBHOOKS),
    ),
    "incomplete-body": ProblemType(
        "The body ended before its Content-Length: deliver it again.", only(WEBHOOKS)
    ),
    "rejected-event": ProblemType(
        "The body is not JSON or breaks its event type's schema; it is kept as `rejected`.",
        only(WEBHOOKS),
    ),
    "not-stored": ProblemType(
        "The event could not be stored: deliver it again after Retry-After.", only(WEBHOOKS)
    ),
    # The site-wide answers (config/ratelimit, config/read_only.py), given under both.
    "rate-limited": ProblemType("Too many requests: wait for the time in Retry-After.", EVERYWHERE),
    "rate-limiter-unavailable": ProblemType(
        "Rate limiting cannot count right now, so requests are refused: see Retry-After.",
        EVERYWHERE,
    ),
    "service-unavailable": ProblemType(
        "A part of the site (the database, a shared cache) is briefly unreachable: see "
        "Retry-After.",
        EVERYWHERE,
    ),
    "read-only": ProblemType(
        "Maintenance: nothing can be changed for now; reads still work. See Retry-After.",
        EVERYWHERE,
    ),
}


def listed(surface: str) -> dict[str, str]:
    """type suffix → meaning, for the types sent under one surface (API or webhooks)."""
    return {kind: t.meaning for kind, t in TYPES.items() if surface in t.sent_under}


def problem(status: int, kind: str, detail: str, **members) -> JsonResponse:
    """The document for one refusal; `members` are extensions (`errors`, `event`), left
    out when empty. `detail` speaks of this occurrence and never holds secret material."""
    assert kind in TYPES, kind
    doc = {
        "type": TYPE_BASE + kind,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    doc.update((name, value) for name, value in members.items() if value)
    return JsonResponse(doc, status=status, content_type=CONTENT_TYPE)
