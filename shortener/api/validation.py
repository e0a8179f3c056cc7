"""The link core's refusals as API problem documents."""

import json

from django.http import HttpResponse

from shortener.api.problems import problem
from shortener.links import LinkRefused


def invalid(errors: dict[str, list[str]]) -> HttpResponse:
    """422 with every field's messages; the detail is the first one, the rule's own sentence."""
    first = next(iter(errors.values()))[0]
    return problem(422, "invalid-link", first, errors=errors)


def field_errors(refusal: LinkRefused) -> dict[str, list[str]]:
    return {
        ("body" if field == "__all__" else field): [reason]
        for field, reason in refusal.errors.items()
    }


def refused(refusal: LinkRefused) -> HttpResponse:
    return invalid(field_errors(refusal))


def refused_json(refusal: LinkRefused) -> dict:
    """One refused item of a batch: the same problem document, inside the answer."""
    response = refused(refusal)
    return {"problem": json.loads(response.content)}
