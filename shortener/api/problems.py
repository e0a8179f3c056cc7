"""API errors as problem documents: ninja's exceptions through the one builder."""

import logging
from collections.abc import Mapping

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from hypermedia.problems import API, CONTENT_TYPE, TYPE_BASE, listed, problem
from shortener.api.auth import LeftWorkspace, MissingScope
from shortener.tokens import personal as tokens

__all__ = ["CONTENT_TYPE", "TYPES", "TYPE_BASE", "install", "problem"]
logger = logging.getLogger(__name__)
# type suffix → meaning for every type sent under /api/: the OpenAPI description lists these.
TYPES = listed(API)


def validation_errors(
    exc: ValidationError, sentences: Mapping[str, str] | None = None
) -> tuple[str, dict[str, list[str]]]:
    """pydantic's error list → (kind, field → messages), with `loc` reduced to the field name.

    A body field named in `sentences` is refused in those words (the link core's), so a
    wrong JSON type reads as the same rule the forms and webhooks state."""
    errors: dict[str, list[str]] = {}
    kind = "invalid-link"
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        if error.get("type") == "extra_forbidden":
            kind = "unknown-field"
            message = "This field is not part of the resource."
        elif error.get("type") == "model_attributes_type" or not loc:
            kind = "malformed-request"
            message = "The body must be a JSON object."
        else:
            message = error.get("msg", "Invalid value.")
            if loc[0] in ("query", "path"):
                kind = "malformed-request"
                loc = loc[1:]
            elif sentences and loc[0] in sentences:
                message = sentences[loc[0]]
            elif sentences and len(loc) >= 3 and loc[0] == "links" and loc[2] in sentences:
                message = sentences[loc[2]]  # an item of POST /links/batch
        errors.setdefault(".".join(loc) or "body", []).append(message)
    return kind, errors


def install(api: NinjaAPI, sentences: Mapping[str, str] | None = None) -> None:
    """Every error ninja raises becomes a problem document."""

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        kind, errors = validation_errors(exc, sentences)
        status = 422 if kind == "invalid-link" else 400
        if kind == "unknown-field":
            detail = f"Unknown fields: {', '.join(errors)}."
        else:  # the first problem, named: "target: Field required"
            field, messages = next(iter(errors.items()))
            detail = messages[0] if field == "body" else f"{field}: {messages[0]}"
        return problem(status, kind, detail, errors=errors)

    @api.exception_handler(AuthenticationError)
    def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return no_live_token(request)

    @api.exception_handler(MissingScope)
    def insufficient_scope(request: HttpRequest, exc: MissingScope) -> HttpResponse:
        return missing_scope(request, exc.scope)

    @api.exception_handler(LeftWorkspace)
    def left_workspace(request: HttpRequest, exc: LeftWorkspace) -> HttpResponse:
        return problem(403, "left-workspace", LEFT_WORKSPACE)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(404, "not-found", TYPES["not-found"])

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # ninja raises 400 "Cannot parse request body" for malformed JSON.
        if exc.status_code == 400:
            return problem(400, "malformed-request", "The body is not valid JSON.")
        logger.warning("Unexpected HttpError %s in the API: %s", exc.status_code, exc)
        return problem(exc.status_code, "malformed-request", str(exc))

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem(413, "body-too-large", TYPES["body-too-large"])


LEFT_WORKSPACE = (
    "This token acts for a workspace you are no longer a member of: it stopped when you "
    "left. Make a new one for a workspace you are in."
)


def no_live_token(request: HttpRequest) -> HttpResponse:
    """401 (RFC 6750): no token, an unknown or revoked one, or one that expired (said so,
    so that whoever runs the program knows to make a new token)."""
    raw = tokens.raw_of(request)
    expired = tokens.expired(raw) if raw else None
    if expired is None:
        response = problem(401, "unauthorized", TYPES["unauthorized"])
        response["WWW-Authenticate"] = 'Bearer realm="torii"'
        return response
    when = expired.expires_at.strftime("%Y-%m-%d %H:%M")
    detail = f"This token expired at {when} UTC: make a new one on the API tokens page."
    response = problem(401, "token-expired", detail)
    response["WWW-Authenticate"] = (
        'Bearer realm="torii", error="invalid_token", error_description="The token expired"'
    )
    return response


def missing_scope(request: HttpRequest, scope: str | None) -> HttpResponse:
    """403 (RFC 6750 insufficient_scope) naming the scope the operation needs."""
    operation = f"{request.method} {request.path}"
    if scope is None:  # an operation that declared no scope admits no token
        return problem(
            403, "insufficient-scope", f"{operation} declares no scope: no token may use it."
        )
    detail = f"This token lacks the scope {scope}, which {operation} needs."
    response = problem(403, "insufficient-scope", detail, scope=scope)
    response["WWW-Authenticate"] = (
        f'Bearer realm="torii", error="insufficient_scope", scope="{scope}"'
    )
    return response
