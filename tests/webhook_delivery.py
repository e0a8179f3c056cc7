"""Builders for webhook tests: a source with a known secret, signed deliveries."""

import base64
import hashlib
import hmac
import json
import time
import uuid

from django.urls import reverse

from tests.conftest import make_user


def make_source(name: str = "cms", *, owner=None, scheme: str = "standard", **fields):
    """A source and its one secret, as `webhook_source create` would make them."""
    from shortener.models import WebhookSource

    owner = owner or make_user(f"{name}-owner")
    source = WebhookSource.objects.create(name=name, owner=owner, scheme=scheme, **fields)
    source.secret = source.add_secret()
    return source


def sign(secret: str, delivery_id: str, timestamp: int | str, body: bytes) -> str:
    """A Standard Webhooks v1 signature over the raw bytes, as any sender computes it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(event_type: str = "link.create", **data) -> bytes:
    data = data or {"url": "https://example.com/article"}
    return json.dumps(
        {"type": event_type, "timestamp": "2026-11-27T18:00:00Z", "data": data}
    ).encode()


def signed_headers(secret: str, body: bytes, *, delivery_id=None, timestamp=None, **extra):
    """WSGI header keys (HTTP_WEBHOOK_ID, ...) for a correctly signed delivery."""
    delivery_id = delivery_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_WEBHOOK_ID": delivery_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(timestamp),
        "HTTP_WEBHOOK_SIGNATURE": sign(secret, delivery_id, timestamp, body),
    }
    headers.update(extra)
    return headers


def deliver(client, source, body: bytes | None = None, *, delivery_id=None, **headers):
    """POST a delivery signed with the source's secret (override any header)."""
    body = payload() if body is None else body
    signed = signed_headers(source.secret, body, delivery_id=delivery_id)
    signed.update(headers)
    url = reverse("webhook-receive", kwargs={"source": source.name})
    return client.post(url, body, content_type="application/json", **signed)


def is_problem(response, status: int) -> bool:
    return (
        response.status_code == status
        and response["Content-Type"] == "application/problem+json"
        and response.json()["status"] == status
        and bool(response.json()["detail"])
    )


def make_event(source, delivery_id: str = "msg_stored", event_type="link.create", **fields):
    """A stored, pending event as the receiver would have left it (no task run yet)."""
    from shortener.models import WebhookEvent

    fields.setdefault("body", payload(event_type, url="https://example.com/stored"))
    return WebhookEvent.objects.create(
        source=source, delivery_id=delivery_id, event_type=event_type, **fields
    )


def at_once(count: int, action) -> list:
    """Run `action()` in `count` threads released together; their results, in any order."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
