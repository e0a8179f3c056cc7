"""Processing stored events in the background: the task, bounded retries, replay.

The receiver stores an event and enqueues `process_event`; a worker (`manage.py
task_worker`, started by `make run`) runs it. The handler's effect and the event's new
status commit in one transaction on the locked event row, so each effect happens once
per delivery id however often the task runs.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.tasks import task
from django.utils import timezone
from waffle import switch_is_active

from shortener.audit.models import Via
from shortener.audit.recording import through
from shortener.events import schemas
from shortener.events.handlers import HANDLERS, EventRefused
from shortener.events.models import EventStatus, WebhookEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 30  # then 60, 120, 240: about 7.5 minutes in all
READ_ONLY_RECHECK_SECONDS = 60
REPLAYABLE = (EventStatus.PENDING, EventStatus.FAILED, EventStatus.REJECTED)


@task()
def process_event(event_id: int) -> str:
    """Run the event's handler once; returns the outcome (kept in the task result too)."""
    if switch_is_active("read_only"):
        # Read-only mode: act on nothing. The event stays pending and is tried later.
        schedule(event_id, delay=READ_ONLY_RECHECK_SECONDS, when_deferrable_only=True)
        return "read_only is on: left pending"
    try:
        with transaction.atomic():
            event = (
                WebhookEvent.objects.select_for_update(of=("self",))
                .select_related("source__owner")
                .filter(pk=event_id, status=EventStatus.PENDING)
                .first()
            )
            if event is None:
                return "not pending: nothing to do"
            event.attempts += 1
            with through(Via.WEBHOOK, event.source.name):
                outcome = act(event)
            finish(event, EventStatus.PROCESSED, outcome)
            return outcome
    except EventRefused as refusal:
        return record_refusal(event_id, refusal.reason)
    except Exception as error:
        logger.exception("webhook event %s failed", event_id)
        return record_failure(event_id, f"{type(error).__name__}: {error}")


def act(event: WebhookEvent) -> str:
    read = schemas.read_event(event.body_text(), fallback_type=event.event_type)
    if read.problem:
        raise EventRefused(read.problem)
    return HANDLERS[read.event_type](event, read.data)


def finish(event: WebhookEvent, status: str, outcome: str) -> None:
    event.status = status
    event.outcome = outcome
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "outcome", "attempts", "processed_at"])


def record_refusal(event_id: int, reason: str) -> str:
    with transaction.atomic():
        event = pending_locked(event_id)
        if event is None:
            return "not pending: nothing to do"
        event.attempts += 1
        finish(event, EventStatus.REJECTED, reason)
    return reason


def record_failure(event_id: int, error: str) -> str:
    """Count the failed attempt; try again later, or give up after MAX_ATTEMPTS."""
    with transaction.atomic():
        event = pending_locked(event_id)
        if event is None:
            return "not pending: nothing to do"
        event.attempts += 1
        if event.attempts >= MAX_ATTEMPTS:
            finish(event, EventStatus.FAILED, f"Gave up after {event.attempts} attempts: {error}")
            return event.outcome
        event.outcome = f"Attempt {event.attempts} failed: {error}"
        event.save(update_fields=["attempts", "outcome"])
        attempts = event.attempts
    schedule(event_id, delay=FIRST_BACKOFF_SECONDS * 2 ** (attempts - 1))
    return f"attempt {attempts} failed; retrying"


def pending_locked(event_id: int) -> WebhookEvent | None:
    """The event, locked, if still pending: a second run of the task (one reclaimed
    from a worker taken for dead) may have settled it since this run began."""
    return (
        WebhookEvent.objects.select_for_update()
        .filter(pk=event_id, status=EventStatus.PENDING)
        .first()
    )


def enqueue(event_id: int, *, delay: float = 0) -> None:
    """Queue processing; a backend that cannot defer (immediate, in tests) runs it now."""
    if delay and process_event.get_backend().supports_defer:
        run_after = timezone.now() + timedelta(seconds=delay)
        process_event.using(run_after=run_after).enqueue(event_id)
    else:
        process_event.enqueue(event_id)


def schedule(event_id: int, *, delay: float = 0, when_deferrable_only: bool = False) -> None:
    """Enqueue a retry or replay; if that fails the event stays pending for staff to replay."""
    if when_deferrable_only and not process_event.get_backend().supports_defer:
        return
    try:
        with transaction.atomic():
            enqueue(event_id, delay=delay)
    except Exception:
        logger.exception("could not enqueue webhook event %s", event_id)


def replay(event: WebhookEvent) -> bool:
    """Staff asked to run an event again: back to pending with a fresh count of attempts."""
    if event.status not in REPLAYABLE:
        return False
    updated = WebhookEvent.objects.filter(pk=event.pk, status__in=REPLAYABLE).update(
        status=EventStatus.PENDING, attempts=0, outcome="", processed_at=None
    )
    if updated:
        schedule(event.pk)
    return bool(updated)
