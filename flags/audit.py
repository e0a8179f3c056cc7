"""Who is changing flags right now, and the writing of FlagChange entries.

The signal receivers (flags/signals.py) call `record()` for every real change; this
module decides who made it and whether several saves are one change.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from flags.models import FlagChange
from flags.rules import Rule

_actor: ContextVar = ContextVar("flag_change_actor", default=None)
# (kind, pk) -> [name, before, after] while several saves make one change.
_group: ContextVar[dict | None] = ContextVar("flag_change_group", default=None)


@contextmanager
def changes_by(user) -> Iterator[None]:
    """Attribute every flag change made inside the block to this user (None: code)."""
    # Stored as given: request.user stays lazy, so requests that change no flag
    # (a redirect) never load a session for it.
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def one_change(by=None) -> Iterator[None]:
    """Several saves of one flag (its fields, then its groups, then its users): one entry.

    The entries are written in the same transaction as the changes, so a rolled-back
    change leaves no entry and a kept change always has one.
    """
    pending: dict = {}
    with transaction.atomic(), changes_by(by if by is not None else _actor.get()):
        token = _group.set(pending)
        try:
            yield
        finally:
            _group.reset(token)
        for (kind, _pk), (name, before, after) in pending.items():
            _write(kind, name, before, after)


def record(kind: str, pk, name: str, before: Rule | None, after: Rule | None) -> None:
    """Note a change from `before` to `after`; nothing is written when nothing changed."""
    pending = _group.get()
    if pending is None:
        _write(kind, name, before, after)
    else:
        first_before = pending[(kind, pk)][1] if (kind, pk) in pending else before
        pending[(kind, pk)] = [name, first_before, after]


def _write(kind: str, name: str, before: Rule | None, after: Rule | None) -> None:
    if before == after:
        return
    user = _actor.get()
    if user is not None and not user.is_authenticated:
        user = None
    FlagChange.objects.create(
        kind=kind,
        name=name,
        changed_by=user,
        changed_by_name=user.get_username() if user else "",
        before=before,
        after=after,
    )


class ChangedByMiddleware:
    """Flag changes made while serving a request are that signed-in user's changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with changes_by(getattr(request, "user", None)):
            return self.get_response(request)
