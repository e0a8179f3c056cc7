"""API bodies through the site's own forms: the link rules live in one place, shortener.forms."""

from datetime import UTC, datetime

from django import forms
from django.http import HttpResponse

from shortener.api.problems import problem
from shortener.forms import LinkForm
from shortener.models import Link


def form_value(value) -> str:
    """One API value as the HTML form would have received it."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return str(int(value)) if isinstance(value, int) else str(value)


def form_data(values: dict) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(form data, errors for values the form could never read, such as unrepresentable times)."""
    data, errors = {}, {}
    for name, value in values.items():
        try:
            data[name] = form_value(value)
        except OverflowError:
            errors[name] = ["This time is out of range."]
    return data, errors


def current_values(link: Link) -> dict:
    """What a PATCH starts from: the link as its edit form shows it."""
    values = {name: getattr(link, name) for name in LinkForm.Meta.fields}
    values["tags"] = [tag.name for tag in link.tags.all()]
    return values


def invalid(errors: dict[str, list[str]]) -> HttpResponse:
    """422 with every field's messages; the detail is the first one, the policy's own sentence."""
    first = next(iter(errors.values()))[0]
    return problem(422, "invalid-link", first, errors=errors)


def form_problem(form: forms.BaseForm) -> HttpResponse:
    errors = {
        ("body" if field == "__all__" else field): [str(message) for message in messages]
        for field, messages in form.errors.items()
    }
    return invalid(errors)
