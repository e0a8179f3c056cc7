"""The receiver, POST /webhooks/<source>/: verify, store once, acknowledge; never act here.

Order of checks: method (405), source (404), size (413), signature (401), the source's
rate (429), body (400, kept as a rejected event). A repeated delivery id answers 200 and
writes nothing; so does, for GitHub-style sources whose delivery id is not signed, a body
already received within WEBHOOK_REPLAY_WINDOW. Every refusal before the signature holds
counts against the client's address, never against the source it names.
"""

import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from hypermedia.context import context_of
from hypermedia.problems import problem
from shortener.events import metrics, processing, schemas
from shortener.events.models import (
    UNSIGNED_DELIVERY_ID,
    EventStatus,
    SignatureScheme,
    WebhookEvent,
    WebhookSource,
    body_digest,
    printable,
)
from shortener.webhooks import signatures

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SOURCE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,50}")
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-hub-signature-256",
)


@csrf_exempt  # the signature, not a cookie, authenticates a sender
def receive(request: HttpRequest, source: str) -> HttpResponse:
    response = answer(request, source)
    metrics.received(response.status_code)
    return response


def answer(request: HttpRequest, source: str) -> HttpResponse:
    if request.method != "POST":
        response = problem(405, "method-not-allowed", "Webhooks are delivered with POST.")
        response["Allow"] = "POST"
        return response
    found = None
    if SOURCE_NAME.fullmatch(source):  # PostgreSQL refuses some strings (NUL) outright
        found = WebhookSource.objects.filter(name=source, enabled=True).first()
    if found is None:
        return failed(request) or problem(
            404, "unknown-source", "There is no enabled webhook source with that name."
        )
    body = read_body(request)
    if isinstance(body, HttpResponse):
        return failed(request) or body
    try:
        delivery_id = verify(found, request, body)
    except signatures.SignatureRefused as refusal:
        return failed(request) or problem(401, "bad-signature", refusal.reason)
    limits = context_of(request).rate_limits
    if limits is not None and (refused := limits.webhook_verified(found.name)):
        return refused
    if WebhookEvent.objects.filter(source=found, delivery_id=delivery_id).exists():
        return duplicate(delivery_id)
    return store(found, request, delivery_id, body)


def failed(request: HttpRequest) -> HttpResponse | None:
    """Count a delivery that is not the source's against the client's address.

    The site's rate limiter puts its buckets on the request's context
    (hypermedia/context.py, config/ratelimit/middleware.py); without it nothing is
    counted. Its answer is the refusal to send instead, once the address has failed too
    often.
    """
    limits = context_of(request).rate_limits
    return limits.authentication_failed() if limits is not None else None


def read_body(request: HttpRequest) -> bytes | HttpResponse:
    """The raw body, refusing more than MAX_BODY_BYTES before reading it all."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not (declared.isascii() and declared.isdigit()):
        return problem(400, "malformed-request", "The Content-Length header is not a number.")
    if int(declared) > MAX_BODY_BYTES:
        return problem(
            413, "body-too-large", f"The body is larger than {MAX_BODY_BYTES // 1024} KB."
        )
    try:
        body = request.read(MAX_BODY_BYTES + 1)
    except OSError:  # the client went away mid-body (Django's UnreadablePostError)
        return problem(400, "incomplete-body", "The body could not be read completely.")
    if len(body) > MAX_BODY_BYTES:
        return problem(
            413, "body-too-large", f"The body is larger than {MAX_BODY_BYTES // 1024} KB."
        )
    if len(body) != int(declared):
        # The server hands over what came before the client stopped sending: a body cut
        # short is not the one that was signed, and must not be verified or stored.
        return problem(
            400,
            "incomplete-body",
            f"The body has {len(body)} bytes where its Content-Length says {int(declared)}.",
        )
    return body


def verify(source: WebhookSource, request: HttpRequest, body: bytes) -> str:
    secrets = source.secret_values()
    if source.scheme == SignatureScheme.GITHUB:
        return signatures.verify_github(secrets, request.headers, body)
    return signatures.verify_standard(secrets, request.headers, body)


def store(source: WebhookSource, request: HttpRequest, delivery_id: str, body: bytes):
    """Store the event once (the unique constraint decides races) and answer for it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        read = schemas.ReadEvent(problem="The body is not UTF-8, so it is not JSON.")
    else:
        read = schemas.read_event(text, fallback_type=request.headers.get("x-github-event", ""))
    if read.problem:
        status = EventStatus.REJECTED
    else:
        status = EventStatus.PENDING if read.known else EventStatus.IGNORED
    event = WebhookEvent(
        source=source,
        delivery_id=delivery_id,
        event_type=read.event_type,
        body=body,
        headers=kept_headers(request),
        status=status,
        outcome=read.problem or ("" if read.known else "No handler for this event type."),
    )
    try:
        with transaction.atomic():
            if source.scheme in UNSIGNED_DELIVERY_ID and is_replay(source, event):
                return duplicate(delivery_id)
            event.save(force_insert=True)
            if status == EventStatus.PENDING:
                # The database queue's task row commits with the event: one write
                # transaction, and never a stored event without its task.
                processing.enqueue(event.pk)
    except IntegrityError:
        return duplicate(delivery_id)
    except Exception:  # the database or the queue: the sender must deliver again
        logger.exception("could not store webhook delivery %s/%s", source.name, delivery_id)
        response = problem(
            503, "not-stored", "The event could not be stored; deliver it again later."
        )
        response["Retry-After"] = "10"
        return response
    if status == EventStatus.REJECTED:
        return problem(
            400, "rejected-event", event.outcome or "Refused.", event=delivery_id, stored="rejected"
        )
    return JsonResponse({"id": delivery_id, "status": status}, status=202)


def is_replay(source: WebhookSource, event: WebhookEvent) -> bool:
    """The same body from this source within the window, under any delivery id.

    Runs in the storing transaction with the source's row locked (PostgreSQL; SQLite's
    IMMEDIATE transactions serialise writers already), so of two replays racing, one
    is stored and the other sees it.
    """
    list(WebhookSource.objects.select_for_update().filter(pk=source.pk).values_list("pk"))
    event.body_digest = body_digest(event.body)
    since = timezone.now() - settings.WEBHOOK_REPLAY_WINDOW
    return WebhookEvent.objects.filter(
        source=source, body_digest=event.body_digest, received_at__gte=since
    ).exists()


def duplicate(delivery_id: str) -> JsonResponse:
    return JsonResponse({"id": delivery_id, "status": "duplicate"}, status=200)


def kept_headers(request: HttpRequest) -> dict[str, str]:
    """The headers staff need to understand a delivery, printable and bounded."""
    kept = {}
    for name in KEPT_HEADERS:
        value = request.headers.get(name)
        if value is not None:
            kept[name] = printable(value)[:1000]
    return kept
