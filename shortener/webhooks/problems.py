"""Problem documents (RFC 9457) for every refusal the webhook receiver gives."""

from http import HTTPStatus

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(status: int, detail: str, **extra) -> JsonResponse:
    """A short JSON body saying what went wrong; never secret material."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
