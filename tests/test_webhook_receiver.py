"""POST /webhooks/<source>/: every answer, what is stored, and that nothing else is."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from shortener.models import EventStatus, Link, WebhookEvent
from shortener.webhooks.receiver import MAX_BODY_BYTES
from tests.conftest import per_day
from tests.webhook_delivery import (
    at_once,
    deliver,
    is_problem,
    make_source,
    payload,
    sign_github,
    signed_headers,
)

pytestmark = pytest.mark.django_db


def nothing_written():
    return WebhookEvent.objects.count() == 0 and Link.objects.count() == 0


def test_a_signed_delivery_is_stored_acknowledged_and_processed(client):
    source = make_source()
    response = deliver(client, source, delivery_id="msg_first")
    assert response.status_code == 202
    assert response.json() == {"id": "msg_first", "status": "pending"}
    event = WebhookEvent.objects.get()
    assert event.delivery_id == "msg_first" and event.event_type == "link.create"
    assert bytes(event.body) == payload()
    assert set(event.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert event.status == EventStatus.PROCESSED and event.attempts == 1
    assert Link.objects.get().owner == source.owner


def test_the_route_is_named_for_the_rate_limit_group():
    assert reverse("webhook-receive", kwargs={"source": "cms"}) == "/webhooks/cms/"


def test_a_repeated_delivery_id_answers_200_and_does_nothing_new(client):
    source = make_source()
    body = payload()
    headers = signed_headers(source.secret, body, delivery_id="msg_again")
    url = reverse("webhook-receive", kwargs={"source": "cms"})
    first = client.post(url, body, content_type="application/json", **headers)
    second = client.post(url, body, content_type="application/json", **headers)
    assert first.status_code == 202
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1 and Link.objects.count() == 1


def test_the_same_id_from_another_source_is_another_event(client):
    one, two = make_source("one"), make_source("two")
    deliver(client, one, delivery_id="msg_shared")
    deliver(client, two, delivery_id="msg_shared")
    assert WebhookEvent.objects.count() == 2


def test_an_unknown_source_is_404(client):
    response = client.post("/webhooks/nobody/", payload(), content_type="application/json")
    assert is_problem(response, 404) and nothing_written()


@pytest.mark.parametrize("name", ["%00", "x" * 51, "caf%C3%A9", "%FF", "a%20b"])
def test_a_source_name_that_cannot_exist_is_404(client, name):
    make_source()
    response = client.post(f"/webhooks/{name}/", payload(), content_type="application/json")
    assert is_problem(response, 404) and nothing_written()


def test_a_disabled_source_is_404_even_with_a_good_signature(client):
    source = make_source(enabled=False)
    assert is_problem(deliver(client, source), 404) and nothing_written()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_any_method_but_post_is_405(client, method):
    make_source()
    response = getattr(client, method)("/webhooks/cms/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    if method != "head":
        assert is_problem(response, 405)
    assert nothing_written()


def test_a_body_over_256_kb_is_413_by_its_content_length(client):
    source = make_source()
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = deliver(client, source, body)
    assert is_problem(response, 413) and nothing_written()


def test_a_body_longer_than_its_declared_length_is_413_without_reading_it_all(client, rf):
    from shortener.webhooks.receiver import read_body

    request = rf.post("/webhooks/cms/", b"x" * (MAX_BODY_BYTES + 10), content_type="text/plain")
    request.META["CONTENT_LENGTH"] = str(MAX_BODY_BYTES + 10)
    assert read_body(request).status_code == 413
    for declared in ("-1", "²", "1e3", "١٢"):
        request = rf.post("/webhooks/cms/", b"{}", content_type="text/plain")
        request.META["CONTENT_LENGTH"] = declared
        assert read_body(request).status_code == 400


def test_a_body_cut_off_mid_way_is_400(rf):
    from django.http.request import UnreadablePostError

    from shortener.webhooks.receiver import read_body

    request = rf.post("/webhooks/cms/", b"{}", content_type="application/json")

    def broken(*args):
        raise UnreadablePostError("connection reset")

    request.read = broken
    assert read_body(request).status_code == 400


def test_exactly_256_kb_is_accepted(client):
    source = make_source()
    skeleton = payload("not.ours", pad="")
    body = skeleton.replace(
        b'"pad": ""', b'"pad": "' + b"x" * (MAX_BODY_BYTES - len(skeleton)) + b'"'
    )
    assert len(body) == MAX_BODY_BYTES
    response = deliver(client, source, body)
    assert response.status_code == 202 and response.json()["status"] == "ignored"


BAD_SIGNATURES = {
    "no signature headers": {"HTTP_WEBHOOK_ID": "", "HTTP_WEBHOOK_SIGNATURE": ""},
    "garbage": {"HTTP_WEBHOOK_SIGNATURE": "garbage"},
    "v1 and a comma": {"HTTP_WEBHOOK_SIGNATURE": "v1,"},
    "10 KB of junk": {"HTTP_WEBHOOK_SIGNATURE": "j" * 10_240},
    "signature of something else": {"HTTP_WEBHOOK_SIGNATURE": "v1," + "A" * 43 + "="},
    "stale timestamp": {"HTTP_WEBHOOK_TIMESTAMP": str(int(time.time()) - 301)},
    "future timestamp": {"HTTP_WEBHOOK_TIMESTAMP": str(int(time.time()) + 301)},
    "non-ASCII header bytes": {"HTTP_WEBHOOK_SIGNATURE": "v1,\xff\xfe\xe9"},
}


@pytest.mark.parametrize("case", BAD_SIGNATURES, ids=list(BAD_SIGNATURES))
def test_a_bad_signature_is_401_with_a_short_reason_and_nothing_written(client, case):
    source = make_source()
    response = deliver(client, source, **BAD_SIGNATURES[case])
    assert is_problem(response, 401)
    assert source.secret.removeprefix("whsec_")[:8] not in response.content.decode()
    assert nothing_written()


def test_a_body_altered_after_signing_is_401(client):
    source = make_source()
    body = payload()
    headers = signed_headers(source.secret, body)
    tampered = body.replace(b"article", b"articlf")
    response = client.post("/webhooks/cms/", tampered, content_type="application/json", **headers)
    assert is_problem(response, 401) and nothing_written()


def test_json_reserialised_after_signing_is_401(client):
    source = make_source()
    body = payload()
    headers = signed_headers(source.secret, body)
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    response = client.post("/webhooks/cms/", compact, content_type="application/json", **headers)
    assert is_problem(response, 401) and nothing_written()


def test_a_non_utf8_body_is_refused_and_not_stored(client):
    source = make_source()
    response = deliver(client, source, b'{"type": "link.create", "x": "\xff"}')
    assert is_problem(response, 401) and "UTF-8" in response.json()["detail"]
    assert nothing_written()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[1, 2]", "is not of type 'object'"),
        (b'{"data": {}}', "'type' is a required property"),
        (payload("link.create", title="no url"), "'url' is a required property"),
        (payload("link.create", url="https://example.com/", extra=1), "Additional properties"),
        (payload("link.disable", slug="a", url="https://example.com/"), "data"),
        (payload("domain.block", reason="no domain"), "'domain' is a required property"),
        (payload("link.disable", url="https://example.com/\x00"), "does not match"),
        (payload("link.disable", slug="a b"), "does not match"),
        (payload("domain.block", domain="evil.example\n"), "does not match"),
        (payload("domain.block", domain="evil.example", reason="\x00"), "data.reason"),
    ],
    ids=[
        *["text", "empty", "deep", "array", "no-type", "no-url", "extra", "both"],
        *["dom", "url-nul", "slug-space", "domain-newline", "reason-nul"],
    ],
)
def test_a_body_failing_its_schema_is_400_and_kept_as_rejected(client, body, words):
    source = make_source()
    response = deliver(client, source, body, delivery_id="msg_bad")
    assert is_problem(response, 400) and words in response.json()["detail"]
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.REJECTED and event.delivery_id == "msg_bad"
    assert words in event.outcome and bytes(event.body) == body
    assert Link.objects.count() == 0
    again = deliver(client, source, body, delivery_id="msg_bad")
    assert again.status_code == 200 and WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"url": 5}, "Enter the address the short link should lead to"),
        ({"url": "https://example.com/", "title": "a\nb"}, "The title contains control"),
        ({"url": "https://example.com/", "tags": ["\x7f"]}, "Tags are single words"),
    ],
    ids=["url-type", "title-newline", "tag-control"],
)
def test_link_values_are_judged_by_the_link_core_and_the_event_rejected(client, data, words):
    """The schema checks the shape; the values get the core's sentence, as on the form."""
    source = make_source()
    response = deliver(client, source, payload("link.create", **data), delivery_id="msg_bad")
    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.REJECTED and words in event.outcome
    assert Link.objects.count() == 0


def test_an_unknown_event_type_is_stored_as_ignored_and_answered_2xx(client):
    source = make_source()
    response = deliver(client, source, payload("invoice.paid", amount=3))
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.IGNORED and event.event_type == "invoice.paid"
    assert Link.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "link.create\\u0000", "data": {}}',
        b'{"type": "x\\u0000y"}',
        b'{"type": "link.create", "data": {"url": "https://example.com/\\u0000"}}',
        b'{"type": "link.create", "data": {"url": "https://example.com/", "\\u0000": 1}}',
    ],
    ids=["known-type-nul", "unknown-type-nul", "url-nul", "key-nul"],
)
def test_nul_characters_in_json_never_break_storing(client, body):
    response = deliver(client, make_source(), body)
    assert response.status_code in (202, 400)
    event = WebhookEvent.objects.get()
    assert "\x00" not in event.event_type + event.outcome
    assert bytes(event.body) == body


def test_a_body_with_a_nul_byte_is_stored_as_rejected(client):
    source = make_source()
    response = deliver(client, source, b'{"type": "link.create"}\x00')
    assert is_problem(response, 400)
    assert bytes(WebhookEvent.objects.get().body).endswith(b"\x00")


def test_the_receiver_is_csrf_exempt(settings):
    source = make_source()
    client = Client(enforce_csrf_checks=True)
    assert deliver(client, source).status_code == 202


def test_github_style_source(client):
    source = make_source("ci", scheme="github")
    body = payload()
    headers = {
        "HTTP_X_HUB_SIGNATURE_256": sign_github(source.secret, body),
        "HTTP_X_GITHUB_DELIVERY": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "HTTP_X_GITHUB_EVENT": "link.create",
    }
    url = "/webhooks/ci/"
    first = client.post(url, body, content_type="application/json", **headers)
    again = client.post(url, body, content_type="application/json", **headers)
    assert first.status_code == 202 and again.status_code == 200
    assert WebhookEvent.objects.get().delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert Link.objects.count() == 1


def github_delivery(client, source, body, delivery_id):
    return client.post(
        f"/webhooks/{source.name}/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign_github(source.secret, body),
        HTTP_X_GITHUB_DELIVERY=delivery_id,
        HTTP_X_GITHUB_EVENT="link.create",
    )


def test_a_github_body_replayed_under_a_new_delivery_id_is_a_duplicate(client):
    # X-Hub-Signature-256 covers the body only: anyone who saw one delivery can resend
    # it with a fresh X-GitHub-Delivery.
    source = make_source("ci", scheme="github")
    body = payload()
    assert github_delivery(client, source, body, "delivery-1").status_code == 202
    replay = github_delivery(client, source, body, "delivery-2")
    assert replay.status_code == 200
    assert replay.json() == {"id": "delivery-2", "status": "duplicate"}
    assert WebhookEvent.objects.get().delivery_id == "delivery-1"
    assert Link.objects.count() == 1


def test_another_github_body_or_another_source_is_a_new_event(client):
    ci, other = make_source("ci", scheme="github"), make_source("other", scheme="github")
    body = payload()
    assert github_delivery(client, ci, body, "delivery-1").status_code == 202
    assert github_delivery(client, other, body, "delivery-1").status_code == 202
    changed = payload(url="https://example.com/another")
    assert github_delivery(client, ci, changed, "delivery-2").status_code == 202
    assert WebhookEvent.objects.count() == 3


def test_a_github_body_is_new_again_after_the_replay_window(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    source = make_source("ci", scheme="github")
    body = payload()
    assert github_delivery(client, source, body, "delivery-1").status_code == 202
    window = settings.WEBHOOK_REPLAY_WINDOW
    assert window == timedelta(hours=24)  # the documented default
    WebhookEvent.objects.update(received_at=timezone.now() - window - timedelta(seconds=1))
    assert github_delivery(client, source, body, "delivery-2").status_code == 202
    assert WebhookEvent.objects.count() == 2


def test_standard_webhooks_sign_their_id_so_the_same_body_may_come_again(client):
    # webhook-id and webhook-timestamp are signed: a new id needs the secret.
    source = make_source()
    body = payload()
    assert deliver(client, source, body, delivery_id="msg_1").status_code == 202
    assert deliver(client, source, body, delivery_id="msg_2").status_code == 202
    assert WebhookEvent.objects.count() == 2


def test_every_stored_event_keeps_its_body_digest(client):
    import hashlib

    deliver(client, make_source())
    event = WebhookEvent.objects.get()
    assert event.body_digest == hashlib.sha256(payload()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_concurrent_github_replays_store_one_event():
    source = make_source("ci", scheme="github")
    body = payload()
    statuses = at_once(
        8, lambda: github_delivery(Client(), source, body, f"d-{time.monotonic_ns()}").status_code
    )
    assert sorted(statuses) == [200] * 7 + [202]
    assert WebhookEvent.objects.count() == 1 and Link.objects.count() == 1


def test_github_ping_is_ignored_and_a_bad_github_signature_is_401(client):
    source = make_source("ci", scheme="github")
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    headers = {"HTTP_X_GITHUB_DELIVERY": "d-1", "HTTP_X_GITHUB_EVENT": "ping"}
    bad = client.post(
        "/webhooks/ci/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64,
        **headers,
    )
    assert is_problem(bad, 401) and nothing_written()
    good = client.post(
        "/webhooks/ci/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign_github(source.secret, body),
        **headers,
    )
    assert good.status_code == 202 and good.json()["status"] == "ignored"
    assert WebhookEvent.objects.get().event_type == "ping"


def test_the_receiver_sets_no_cookie_and_needs_no_session(client):
    source = make_source()
    response = deliver(client, source)
    assert not response.cookies


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_copies_store_one_event_and_act_once():
    source = make_source()
    body = payload()
    headers = signed_headers(source.secret, body, delivery_id="msg_concurrent")
    url = "/webhooks/cms/"
    statuses = at_once(
        20,
        lambda: Client().post(url, body, content_type="application/json", **headers).status_code,
    )
    assert sorted(statuses) == [200] * 19 + [202]
    assert WebhookEvent.objects.count() == 1 and Link.objects.count() == 1
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED


def test_when_the_queue_fails_nothing_is_stored_and_the_sender_is_told_to_retry(
    client, monkeypatch
):
    from shortener.events import processing

    def refuse(event_id, **kwargs):
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr(processing, "enqueue", refuse)
    response = deliver(client, make_source())
    assert is_problem(response, 503) and response["Retry-After"]
    assert nothing_written()


def test_the_webhook_rate_limit_group_answers_429_per_source(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "webhook": per_day(2)}
    cms, feed = make_source("cms"), make_source("feed")
    assert [deliver(client, cms).status_code for _ in range(2)] == [202, 202]
    limited = deliver(client, cms)
    assert is_problem(limited, 429) and WebhookEvent.objects.count() == 2
    assert deliver(client, feed).status_code == 202  # keyed per source


def test_the_migration_digests_the_bodies_still_inside_the_window():
    import hashlib
    import importlib
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    from tests.webhook_delivery import make_event

    migration = importlib.import_module("shortener.migrations.0006_webhook_event_body_digest")
    source = make_source("ci", scheme="github")
    recent, old = make_event(source, "recent"), make_event(source, "old")
    WebhookEvent.objects.update(body_digest="")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    migration.digest_recent_bodies(apps, None)
    recent.refresh_from_db()
    old.refresh_from_db()
    assert recent.body_digest == hashlib.sha256(bytes(recent.body)).hexdigest()
    assert old.body_digest == ""
