"""The link core's refusals as API problem documents."""

from django.http import HttpResponse

from shortener.api.problems import problem
from shortener.links import LinkRefused


def invalid(errors: dict[str, list[str]]) -> HttpResponse:
    """422 with every field's messages; the detail is the first one, the rule's own sentence."""
    first = next(iter(errors.values()))[0]
    return problem(422, "invalid-link", first, errors=errors)


def refused(refusal: LinkRefused) -> HttpResponse:
    errors = {
        ("body" if field == "__all__" else field): [reason]
        for field, reason in refusal.errors.items()
    }
    return invalid(errors)
