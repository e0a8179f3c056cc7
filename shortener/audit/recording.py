"""Writing audit entries, and who is acting through which entry point right now.

The writes that know their actor pass it (`record(..., actor=by)`); writes that do not
(a model saved by admin, a command) take the ambient one: the request's user, set by
`shortener.audit.middleware.AuditMiddleware`, or the site itself outside a request.
The entry point is ambient too: the middleware says page, API, admin or webhook from
the URL; the webhook worker, imports and commands say theirs with `through()`.
Entries are written in the caller's transaction, so a rolled-back change leaves none.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from shortener.audit.models import Entry, Via

# How the log names actors who are not a person's account (no username holds these).
NOBODY = "(nobody signed in)"
SITE = "(the site)"
SUMMARY_MAX = Entry._meta.get_field("summary").max_length


class Site:
    """The ambient actor outside any request: an operator's command, a task."""

    is_authenticated = False
    pk = None


THE_SITE = Site()


@dataclass
class Acting:
    actor: Any = THE_SITE
    via: str = Via.COMMAND
    detail: str = ""


ACTING: ContextVar[Acting | None] = ContextVar("audit_acting", default=None)


def acting() -> Acting:
    return ACTING.get() or Acting()


@contextmanager
def acting_as(actor, via: str, detail: str = "") -> Iterator[Acting]:
    """Changes made inside the block are `actor`'s, through `via`."""
    token = ACTING.set(Acting(actor, via, detail))
    try:
        yield ACTING.get()
    finally:
        ACTING.reset(token)


@contextmanager
def through(via: str, detail: str = "") -> Iterator[None]:
    """Changes made inside the block come through `via` (the actor stays as it is)."""
    now = acting()
    with acting_as(now.actor, via, detail or now.detail):
        yield


def who(actor) -> tuple[Any, str]:
    """(the user to link, the name to keep) for an actor: a person, nobody signed in
    (None or Django's anonymous user), or the site (shortener.links.SYSTEM, a command)."""
    if actor is None or getattr(actor, "is_anonymous", False):
        return None, NOBODY
    if getattr(actor, "is_authenticated", False) and actor.pk is not None:
        return actor, actor.get_username()
    return None, SITE


def entry(
    action: str,
    kind: str,
    object_id: Any,
    summary: str,
    *,
    actor: Any = ...,
    name: str = "",
    changes: dict | None = None,
    at: datetime | None = None,
    workspace: Any = None,
) -> Entry:
    """An unsaved entry (the flags' receiver names a deleted account on it before it
    saves it); `record()` saves one."""
    now = acting()
    user, actor_name = who(now.actor if actor is ... else actor)
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 1] + "…"
    return Entry(
        at=at or timezone.now(),
        actor=user,
        actor_name=actor_name,
        action=action,
        kind=kind,
        object_id="" if object_id is None else str(object_id),
        object_name=(name or "")[:200],
        summary=summary,
        changes=plain(changes or {}),
        via=now.via,
        via_detail=now.detail[:100],
        workspace_id=getattr(workspace, "pk", workspace),
    )


def record(action: str, kind: str, object_id: Any, summary: str, **given) -> Entry:
    """Write one entry now, in the caller's transaction."""
    made = entry(action, kind, object_id, summary, **given)
    made.save()
    return made


def record_many(
    action: str, kind: str, objects: Iterable[tuple[Any, str, str, Any]], *, actor: Any = ...
) -> None:
    """One entry for each (object id, summary, name, workspace id), all by one actor at one
    moment:
    plain rows in one `executemany`, not model instances, since an import writes one a
    link (docs/performance.md)."""
    now = acting()
    user, actor_name = who(now.actor if actor is ... else actor)
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (
            at,
            user.pk if user is not None else None,
            actor_name,
            action,
            kind,
            "" if object_id is None else str(object_id),
            (name or "")[:200],
            summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…",
            "{}",
            now.via,
            now.detail[:100],
            workspace_id,
        )
        for object_id, summary, name, workspace_id in objects
    ]
    if not rows:
        return
    names = ("at", "actor", "actor_name", "action", "kind", "object_id", "object_name")
    names += ("summary", "changes", "via", "via_detail", "workspace")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Entry._meta.get_field(name).column) for name in names)
    marks = ", ".join(["%s"] * len(names))
    table = quote(Entry._meta.db_table)
    with connection.cursor() as cursor:
        # Table and column names come from the model, quoted; the values are parameters.
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def plain(value):
    """What JSON keeps of a changed field's value: times as ISO text, users by name."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "get_username"):
        return value.get_username()
    return str(value)


def differences(before: dict, after: dict) -> dict:
    """{field: [before, after]} for each field whose value changed."""
    return {
        name: [before.get(name), after.get(name)]
        for name in after
        if plain(before.get(name)) != plain(after.get(name))
    }
