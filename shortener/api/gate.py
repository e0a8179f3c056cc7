"""What every /api/v1/ request passes before ninja sees it: token, flag, body size and type."""

from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from waffle import flag_is_active

from shortener.api.problems import CONTENT_TYPE, TYPES, problem
from shortener.tokens import personal as tokens

FLAG = "api_v1"
MAX_BODY = 64 * 1024
# POST /links/batch carries up to 1,000 links: room for each at about 2 KB.
BATCH_PATH_SUFFIX = "/links/batch"
MAX_BATCH_BODY = 2 * 1024 * 1024
JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_refusal(request: HttpRequest) -> HttpResponse | None:
    """413 for a body over 64 KB, 415 for one that is not JSON; None when the body may pass."""
    if request.method not in BODY_METHODS:
        return None
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        # WSGI hands Django no body without a length; say so rather than read it as empty.
        return problem(411, "length-required", TYPES["length-required"])
    limit = MAX_BATCH_BODY if request.path_info.endswith(BATCH_PATH_SUFFIX) else MAX_BODY
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return problem(400, "malformed-request", "Content-Length is not a number.")
    if declared > limit:
        return problem(413, "body-too-large", TYPES["body-too-large"])
    try:
        body = request.body
    except RequestDataTooBig:
        return problem(413, "body-too-large", TYPES["body-too-large"])
    if len(body) > limit:
        return problem(413, "body-too-large", TYPES["body-too-large"])
    if body and request.content_type not in JSON_TYPES:
        return problem(
            415,
            "unsupported-media-type",
            f"Bodies must be application/json, not {request.content_type or 'untyped'}.",
        )
    return None


def gate(view):
    """Wrap an API view: resolve the bearer token, then the flag, then the body checks."""

    @wraps(view)
    def gated(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = admit(request) or problem_for_405(view(request, *args, **kwargs))
        # Answers depend on the token: no shared cache may keep one for someone else.
        patch_vary_headers(response, ["Authorization"])
        patch_cache_control(response, private=True)
        return response

    return gated


def admit(request: HttpRequest) -> HttpResponse | None:
    """The refusal for a request that may not reach the API, or None."""
    token = tokens.from_request(request)
    if token is not None:
        request.user = token.user
    if not flag_is_active(request, FLAG):
        return problem(403, "api-disabled", TYPES["api-disabled"])
    return body_refusal(request)


def problem_for_405(response: HttpResponse) -> HttpResponse:
    if response.status_code != 405 or response.get("Content-Type") == CONTENT_TYPE:
        return response
    # ninja lists the methods in no fixed order
    allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",")))
    refusal = problem(405, "method-not-allowed", f"Allowed methods: {allowed}.")
    refusal["Allow"] = allowed
    return refusal


def gated_patterns(patterns: list) -> list:
    for pattern in patterns:
        pattern.callback = gate(pattern.callback)
    return patterns


def unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problem(404, "not-found", "There is no such resource in API v1.")
