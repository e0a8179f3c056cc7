"""The outbox of outbound webhooks: an event row for each change, in its transaction.

The link core sends `shortener.links.signals.links_changed` inside the transaction of
every write that changed links; `record` (connected in `ShortenerConfig.ready`) writes
one `OutboundEvent` per link and one `Delivery` per endpoint that wants it, in that same
transaction: a change that rolls back leaves no event, a committed one always has its
event, and its deliveries' task rows are written in that transaction too where the
queue is the database (`delivery.queue_with_change`; other queues get them on commit).
A pending delivery whose task is lost anyway is found by `delivery.deliver_due`.
"""

import uuid

from django.db import transaction
from django.utils import timezone

from shortener.events.delivery import RETRY_WINDOW, queue_with_change
from shortener.events.models import Delivery, Endpoint, OutboundEvent
from shortener.links import access
from shortener.links.representation import link_fields

TEST_EVENT = "webhook.test"


def new_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def record(sender, *, event: str, links, **kwargs) -> None:
    endpoints = [
        e for e in Endpoint.objects.filter(enabled=True).select_related("owner") if e.wants(event)
    ]
    if not endpoints:
        return  # nobody listens: nothing to keep (an import of 100,000 links pays one query)
    now = timezone.now()
    made: list[Delivery] = []
    for link in links:
        wanting = [e for e in endpoints if access.may_receive_events(e.owner, link)]
        if not wanting:
            continue
        row = OutboundEvent.objects.create(
            public_id=new_id(),
            event_type=event,
            link=link,
            payload=link_fields(link),
            created_at=now,
        )
        made += Delivery.objects.bulk_create(
            Delivery(
                event=row,
                endpoint=e,
                link_pk=link.pk,
                next_attempt_at=now,
                created_at=now,
                retry_until=now + RETRY_WINDOW,
            )
            for e in wanting
        )
    if made:
        queue_with_change([d.pk for d in made])


def test_event(endpoint: Endpoint) -> Delivery:
    """A `webhook.test` event for this endpoint alone (its page's "send a test event")."""
    now = timezone.now()
    with transaction.atomic():
        row = OutboundEvent.objects.create(
            public_id=new_id(),
            event_type=TEST_EVENT,
            created_at=now,
            payload={"endpoint": endpoint.pk, "message": "A test event from Torii."},
        )
        made = Delivery.objects.create(
            event=row,
            endpoint=endpoint,
            next_attempt_at=now,
            created_at=now,
            retry_until=now + RETRY_WINDOW,
        )
        queue_with_change([made.pk])
    return made
