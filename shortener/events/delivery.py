"""Delivering outbound webhook events: signed, retried, in order per link, logged.

The task `deliver` makes one attempt at one `Delivery` through the one safe fetcher
(`shortener.outbound.fetch`), signed as Standard Webhooks ask: `webhook-id` (the event's
id, the same on every attempt, so receivers dedupe), `webhook-timestamp` and
`webhook-signature` (`v1,…` with the endpoint's secret, and with its previous one
during a rotation's grace period). The body is `{"type", "timestamp", "data"}`.

- 2xx: delivered. The next pending delivery of the same link to the same endpoint is
  queued (order holds per link: a later one waits while an earlier one is pending).
- a network error, a timeout, 5xx or 429: tried again after an exponential back-off
  with jitter (or the answer's `Retry-After`), until 24 hours after it was made.
- any other answer (3xx: redirects are not followed; 4xx) or a refusal by the fetcher's
  policy: failed, not retried (replay sends it again).
- an endpoint whose every attempt has failed for 3 days is disabled, and says so.

No attempt holds a transaction open across the network: a delivery is claimed (its
next attempt moved past the fetch's deadline), sent, then its outcome written.
"""

import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from standardwebhooks.webhooks import Webhook

from shortener.domains.models import Domain
from shortener.events import metrics
from shortener.events.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from shortener.outbound import fetch

logger = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
FIRST_DELAY = 30.0  # seconds; then doubling, with jitter
MAX_DELAY = 3600.0
MAX_RETRY_AFTER = 6 * 3600.0
CLAIM = timedelta(seconds=fetch.TOTAL_TIMEOUT + 50)
HEAD_BYTES = 1024


def body_of(delivery: Delivery) -> bytes:
    event = delivery.event
    document = {
        "type": event.event_type,
        "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def signed_headers(msg_id: str, body: bytes, secrets: list[str], at: float) -> dict[str, str]:
    when = datetime.fromtimestamp(int(at), UTC)
    signatures = [Webhook(secret).sign(msg_id, when, body.decode()) for secret in secrets]
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": " ".join(signatures),
    }


def retry_delay(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential back-off with jitter: half the step fixed, half random (30 s, 1 min,
    2 min, … up to an hour), so endpoints that fail together are not retried together."""
    step = min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, attempts - 1))
    return step / 2 + rng() * step / 2


def retry_after(value: str, now: datetime) -> float | None:
    """Seconds the answer's Retry-After asks for (delay-seconds or an HTTP date), capped."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


@task()
def deliver(delivery_id: int) -> str:
    return attempt(delivery_id)


def schedule(delivery_id: int, *, at: datetime | None = None) -> None:
    """Queue an attempt (at `at` where the backend can defer; the immediate backend of
    the tests runs it now, and a later `deliver_due` finds what is not yet due)."""
    try:
        with transaction.atomic():
            if at is not None and deliver.get_backend().supports_defer:
                deliver.using(run_after=at).enqueue(delivery_id)
            elif at is None or at <= timezone.now():
                deliver.enqueue(delivery_id)
    except Exception:
        # The delivery stays pending; deliver_due finds it.
        logger.exception("could not queue webhook delivery %s", delivery_id)


def queue_with_change(ids: list[int]) -> None:
    """Queue the deliveries of a change still in its transaction. The database queue
    writes its task rows in that very transaction (committed with the change, or not at
    all: nothing lost between the commit and the queue); any other queue (the tests'
    immediate one) gets them once the change commits."""
    if isinstance(deliver.get_backend(), DatabaseBackend):
        for pk in ids:
            schedule(pk)
    else:
        transaction.on_commit(lambda: [schedule(pk) for pk in ids])


def deliver_due(*, now: datetime | None = None, **options) -> list[str]:
    """Attempt every pending delivery that is due, oldest first: what a lost task left,
    and (in tests, where time is injected) the retries."""
    now = now or timezone.now()
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    return [
        attempt(pk, now=now, **options) for pk in due.order_by("id").values_list("pk", flat=True)
    ]


SWEEP_EVERY = timedelta(minutes=5)


@task()
def sweep() -> str:
    """Every five minutes: queue again what a lost task left pending. Chained like the
    daily backup: it schedules its next run, and each `migrate` one when none waits."""
    try:
        found = requeue_lost()
    finally:
        schedule_sweep()
    return f"queued {found} lost delivery(ies)"


def requeue_lost(now: datetime | None = None) -> int:
    """Queue each pending delivery overdue by a sweep's interval: its task was lost (a
    retry that could not be queued, a queue that was down). A second task for one that
    was not lost is harmless: the first to claim it sends it, the other finds it not due."""
    now = now or timezone.now()
    lost = Delivery.objects.filter(
        status=DeliveryStatus.PENDING,
        endpoint__enabled=True,
        next_attempt_at__lte=now - SWEEP_EVERY,
    )
    ids = list(lost.order_by("id").values_list("pk", flat=True)[:1000])
    for pk in ids:
        schedule(pk)
    return len(ids)


def schedule_sweep(now: datetime | None = None) -> bool:
    """Queue the next sweep unless one waits; only the database queue can wait."""
    backend = sweep.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return False
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY")
    if waiting.exists():
        return False
    sweep.using(run_after=(now or timezone.now()) + SWEEP_EVERY).enqueue()
    return True


def earlier_pending(delivery: Delivery) -> bool:
    if delivery.link_pk is None:
        return False
    return Delivery.objects.filter(
        endpoint_id=delivery.endpoint_id,
        link_pk=delivery.link_pk,
        status=DeliveryStatus.PENDING,
        id__lt=delivery.id,
    ).exists()


def claim(delivery_id: int, now: datetime) -> Delivery | str:
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return "not pending: nothing to do"
        if not delivery.endpoint.enabled:
            return "the endpoint is disabled: left pending"
        if delivery.next_attempt_at > now:
            return "not due yet"
        if earlier_pending(delivery):
            return "waiting for an earlier event of the same link"
        delivery.next_attempt_at = now + CLAIM  # another run leaves it alone meanwhile
        delivery.save(update_fields=["next_attempt_at"])
        return delivery


def attempt(
    delivery_id: int,
    *,
    now: datetime | None = None,
    resolver: fetch.Resolver | None = None,
    rng: Callable[[], float] = random.random,
    wall: Callable[[], float] = time.time,
) -> str:
    """One attempt at the delivery if it is due and first in line; returns what happened."""
    now = now or timezone.now()
    claimed = claim(delivery_id, now)
    if isinstance(claimed, str):
        return claimed
    delivery = claimed
    endpoint = delivery.endpoint
    body = body_of(delivery)
    headers = signed_headers(delivery.event.public_id, body, endpoint.signing_secrets(now), wall())
    started = time.monotonic()
    status, head, error, wait = None, "", "", None
    refused = False
    try:
        answer = fetch.post(endpoint.url, body, headers, resolver=resolver, own_hosts=own_hosts())
        status = answer.status
        head = answer.body[:HEAD_BYTES].decode("utf-8", errors="replace")
        if status == 429 or status >= 500:
            wait = retry_after(answer.headers.get("retry-after", ""), now)
    except fetch.FetchRefused as refusal:
        error, refused = refusal.reason, True
    except fetch.FetchFailed as failure:
        error = failure.reason
    duration = int((time.monotonic() - started) * 1000)
    outcome = settle(delivery, now, status, head, error, duration, refused, wait, rng)
    metrics.attempted(
        delivered=delivery.status == DeliveryStatus.DELIVERED,
        refused=refused,
        given_up=delivery.status == DeliveryStatus.FAILED,
    )
    logger.info(
        "webhook delivery %s (%s to endpoint %s), attempt %s: %s",
        delivery.pk,
        delivery.event.event_type,
        endpoint.pk,
        delivery.attempts,
        outcome,
    )
    return outcome


def settle(delivery, now, status, head, error, duration, refused, wait, rng) -> str:
    """Write the attempt and what follows from it, then queue what comes next."""
    delivered = status is not None and 200 <= status < 300
    again = not delivered and not refused and retryable(status)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status,
            duration_ms=duration,
            response_head=printable(head),
            error=printable(error)[:300],
        )
        delivery.attempts += 1
        if delivered:
            outcome = f"delivered ({status})"
            finish(delivery, DeliveryStatus.DELIVERED, outcome, now)
            Endpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)
        else:
            said = f"answered {status}" if status is not None else error
            if status is not None and 300 <= status < 400:
                said += " (redirects are not followed)"
            next_at = now + timedelta(
                seconds=wait if wait is not None else retry_delay(delivery.attempts, rng)
            )
            if again and next_at <= delivery.retry_until:
                outcome = f"{said}; retrying at {next_at:%Y-%m-%d %H:%M:%S} UTC"
                delivery.next_attempt_at, delivery.last_outcome = next_at, outcome[:300]
                delivery.save(update_fields=["attempts", "next_attempt_at", "last_outcome"])
            else:
                why = "; not retried" if not again else "; retried for 24 hours, given up"
                outcome = said + why
                finish(delivery, DeliveryStatus.FAILED, outcome, now)
                next_at = None
            failing(delivery.endpoint, now)
    if delivered or delivery.status == DeliveryStatus.FAILED:
        following = next_in_line(delivery)
        if following is not None:
            schedule(following)
    elif next_at is not None:
        schedule(delivery.pk, at=next_at)
    return outcome


def finish(delivery: Delivery, status: str, outcome: str, now: datetime) -> None:
    delivery.status, delivery.last_outcome, delivery.finished_at = status, outcome[:300], now
    delivery.save(update_fields=["status", "attempts", "last_outcome", "finished_at"])


def failing(endpoint: Endpoint, now: datetime) -> None:
    """Mark since when the endpoint fails; after 3 days straight, disable it and say why."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
        return
    if endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"Disabled on {now:%Y-%m-%d %H:%M} UTC: every delivery since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC failed (3 days). Fix the "
            "receiver, enable the endpoint and replay what it missed."
        )
        endpoint.save(update_fields=["enabled", "disabled_reason"])


def next_in_line(delivery: Delivery) -> int | None:
    if delivery.link_pk is None:
        return None
    return (
        Delivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            link_pk=delivery.link_pk,
            status=DeliveryStatus.PENDING,
            id__gt=delivery.id,
        )
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )


def replay(delivery: Delivery, *, now: datetime | None = None) -> bool:
    """Send a delivery again (its owner asked): pending, due now, 24 more hours of retries.
    The event keeps its id, so a receiver that had it already knows it."""
    now = now or timezone.now()
    updated = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(status=DeliveryStatus.PENDING, next_attempt_at__gt=now)
        .update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            retry_until=now + RETRY_WINDOW,
            finished_at=None,
        )
    )
    if updated:
        transaction.on_commit(lambda: schedule(delivery.pk))
    return bool(updated)


def enable(endpoint: Endpoint) -> None:
    """Enabled again by its owner: a fresh start, and what waited is queued."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, failing_since=None, disabled_reason=""
    )
    waiting = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    ids = list(waiting.order_by("id").values_list("pk", flat=True))
    transaction.on_commit(lambda: [schedule(pk) for pk in ids])


def own_hosts() -> list[str]:
    """Torii's short domains: their addresses are Torii's own too."""
    return list(Domain.objects.values_list("host", flat=True))


def printable(text: str) -> str:
    # PostgreSQL text refuses NUL; staff read these.
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
