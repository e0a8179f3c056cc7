"""Event types and their JSON Schemas; reading a verified body into (type, data). No ORM.

A body is an envelope in the Standard Webhooks payload shape:
`{"type": "link.create", "timestamp": "2026-11-27T18:00:00Z", "data": {...}}`.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from shortener.policy import slugs, targets

TYPE_MAX_LENGTH = 100
LINK_CREATE_FIELDS = ("url", "domain", "slug", "title", "notes", "tags", "redirect_code")
LINK_CREATE_FIELDS += ("expires_at", "max_visits", "rules", "forward_query")
# No password: an event's body is stored as sent, and a password must never be.

ENVELOPE = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": TYPE_MAX_LENGTH},
        "timestamp": {"type": "string"},
        "data": {"type": "object"},
    },
}

# No control characters in any text: PostgreSQL refuses NUL, and none belongs in a link.
_NO_CONTROLS = "^[^\\x00-\\x1f\\x7f]*$(?!\\n)"  # $ alone passes a final newline
_SLUG = {"type": "string", "pattern": slugs.SCHEMA_PATTERN}
_URL = {"type": "string", "minLength": 1, "maxLength": targets.MAX_LENGTH, "pattern": _NO_CONTROLS}


def _text(max_length: int, min_length: int = 0) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "pattern": _NO_CONTROLS,
    }


EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    # Only the shape: the link core judges every value, in the same words as the forms.
    "link.create": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {name: {} for name in LINK_CREATE_FIELDS},
    },
    "link.disable": {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {"slug": _SLUG, "url": _URL},
    },
    # An empty or malformed domain is the blocklist's to refuse, in the words admin and
    # the command use too: only the shape and the lengths are checked here.
    "domain.block": {
        "type": "object",
        "required": ["domain"],
        "additionalProperties": False,
        "properties": {
            "domain": _text(253),
            "reason": _text(200),
        },
    },
    "domain.unblock": {
        "type": "object",
        "required": ["domain"],
        "additionalProperties": False,
        "properties": {"domain": _text(253)},
    },
}

_ENVELOPE_VALIDATOR = Draft202012Validator(ENVELOPE)
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in EVENT_SCHEMAS.items()}
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class ReadEvent:
    """What a body says: its type, its data, and why it is refused (or None)."""

    event_type: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def known(self) -> bool:
        return self.event_type in EVENT_SCHEMAS


def read_event(text: str, *, fallback_type: str = "") -> ReadEvent:
    """Parse and validate a body; `fallback_type` names the event when the body does not."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:
        return ReadEvent(event_type=fallback_type, problem=f"The body is not JSON: {error}"[:300])
    if isinstance(payload, dict) and "type" not in payload and fallback_type:
        payload = {"type": fallback_type, "data": payload}
    problem = _first_error(_ENVELOPE_VALIDATOR, payload)
    event_type = _type_of(payload)
    if problem:
        return ReadEvent(event_type=event_type, problem=problem)
    if event_type not in EVENT_SCHEMAS:
        return ReadEvent(event_type=event_type)
    data = payload.get("data", {})
    problem = problem_with_data(event_type, data)
    return ReadEvent(event_type=event_type, data=data, problem=problem)


def problem_with_data(event_type: str, data: Any) -> str | None:
    """Why `data` does not fit the event type's schema, or None."""
    return _first_error(_VALIDATORS[event_type], data, prefix="data")


def _type_of(payload: Any) -> str:
    value = payload.get("type") if isinstance(payload, dict) else None
    return value[:TYPE_MAX_LENGTH] if isinstance(value, str) else ""


def _first_error(validator: Draft202012Validator, instance: Any, prefix: str = "") -> str | None:
    try:
        error = best_match(validator.iter_errors(instance))
    except RecursionError:
        return "The body is nested too deeply."
    if error is None:
        return None
    where = ".".join([prefix, *(str(p) for p in error.absolute_path)]).strip(".") or "body"
    return f"{where}: {error.message}"[:_DETAIL_LIMIT]
