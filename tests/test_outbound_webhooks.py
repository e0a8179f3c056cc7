"""Outbound webhooks end to end: a receiver of our own on loopback verifies every
delivery with `standardwebhooks`, while links change through every entry point; each
change is one event, in order per link; retries, order while the receiver is down,
rotation, the 3-day rule, and what the endpoint's page shows."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from shortener import links
from shortener.events import delivery as deliveries
from shortener.events import outbox
from shortener.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint
from tests import receivers
from tests.api_client import ApiClient
from tests.conftest import make_link, make_user
from tests.webhook_delivery import deliver as deliver_inbound
from tests.webhook_delivery import make_source, payload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]


@pytest.fixture
def alice():
    return make_user("alice")


def endpoint_for(owner, url, **fields) -> Endpoint:
    from shortener.events.models import new_secret

    return Endpoint.objects.create(owner=owner, url=url, secret=new_secret(), **fields)


def verified(receiver, *secrets) -> list[dict]:
    """Every delivery the receiver got, each verified against one of the secrets."""
    out = []
    for got in receiver.received:
        headers = {k: v for k, v in got.headers.items() if k.startswith("webhook-")}
        bodies = []
        for secret in secrets:
            try:
                bodies.append(Webhook(secret).verify(got.body, headers))
            except Exception:
                continue
        assert bodies, f"no secret verifies {headers}"
        out.append({**bodies[0], "id": headers["webhook-id"]})
    return out


def types_of(events, key=None):
    return [e["type"] for e in events if key is None or e["data"]["key"] == key]


def test_every_core_write_is_one_signed_event_in_order(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint = endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        link = links.create({"target": "https://example.com/a"}, actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        links.edit(link, by=alice, title="Now with a title")
    with django_capture_on_commit_callbacks(execute=True):
        links.edit(link, by=alice, title="Now with a title")  # the same: no change, no event
    for write in (links.disable, links.enable, links.delete):
        with django_capture_on_commit_callbacks(execute=True):
            write(link, by=alice)
    events = verified(one, endpoint.secret)
    assert types_of(events) == [
        "link.created", "link.updated", "link.disabled", "link.enabled", "link.deleted",
    ]  # fmt: skip
    assert len({e["id"] for e in events}) == 5
    assert events[1]["data"]["title"] == "Now with a title"
    assert events[1]["data"]["key"] == link.key and events[1]["data"]["target"] == link.target
    assert events[-1]["data"]["state"] == "deleted"
    assert set(events[0]) == {"type", "timestamp", "data", "id"}
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 5


def test_a_write_that_rolls_back_leaves_no_event(alice, receiver):
    from django.db import transaction

    one = receiver()
    endpoint_for(alice, one.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        links.create({"target": "https://example.com/a"}, actor=alice)
        raise RuntimeError("the caller's transaction fails after the write")
    assert Delivery.objects.count() == 0 and one.received == []


def test_pages_api_admin_import_and_inbound_webhooks_each_send_one_event(
    client, alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    staff = make_user("root", is_staff=True, is_superuser=True)
    endpoint = endpoint_for(staff, one.url)  # staff hear of every link
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(alice)
        page = client.post(reverse("link-list"), {"target": "https://example.com/page"})
    assert page.status_code == 303
    api = ApiClient(client, make_user("script"))
    with django_capture_on_commit_callbacks(execute=True):
        made = api.post("/api/v1/links", {"target": "https://example.com/api"})
    assert made.status_code == 201, made.content
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/links/{made.json()['key']}/disable")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            reverse("admin:shortener_link_add"),
            {"target": "https://example.com/admin", "redirect_code": "302", "is_active": "on"},
        )
    assert added.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = links.create_many(
            [{"target": "https://example.com/i1"}, {"target": "https://example.com/i2"}],
            actor=alice,
        )
    assert all(o.created for o in outcomes)
    source = make_source(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        inbound = deliver_inbound(client, source, payload(url="https://example.com/hook"))
    assert inbound.status_code == 202
    events = verified(one, endpoint.secret)
    targets = [(e["type"], e["data"]["target"]) for e in events]
    assert targets == [
        ("link.created", "https://example.com/page"),
        ("link.created", "https://example.com/api"),
        ("link.disabled", "https://example.com/api"),
        ("link.created", "https://example.com/admin"),
        ("link.created", "https://example.com/i1"),
        ("link.created", "https://example.com/i2"),
        ("link.created", "https://example.com/hook"),
    ]


def test_an_owner_s_endpoint_hears_only_of_its_owner_s_links(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint_for(alice, one.url)
    bob = make_user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/bob"}, actor=bob)
    assert one.received == []


def test_a_block_sends_link_blocked_for_each_link_it_disables(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint = endpoint_for(alice, one.url, event_types=["link.blocked"])
    make_link(slug="evil1", target="https://evil.example/x", owner=alice)
    make_link(slug="fine1", target="https://fine.example/x", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        links.block("evil.example", by=make_user("root", is_staff=True), source="admin")
    events = verified(one, endpoint.secret)
    assert [(e["type"], e["data"]["slug"], e["data"]["state"]) for e in events] == [
        ("link.blocked", "evil1", "disabled")
    ]


def test_the_receiver_down_then_back_gets_everything_once_in_order(
    alice, receiver, django_capture_on_commit_callbacks
):
    down = {"on": True}

    def flaky(got, conn, rec):
        return receivers.answer(503 if down["on"] else 200)

    one = receiver(flaky)
    endpoint = endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        link = links.create({"target": "https://example.com/a"}, actor=alice)
    for title in ("one", "two"):
        with django_capture_on_commit_callbacks(execute=True):
            links.edit(link, by=alice, title=title)
    # Only the first was tried: the later ones wait for it (order per link).
    assert len(one.received) == 1
    first = Delivery.objects.order_by("id").first()
    assert first.status == DeliveryStatus.PENDING and first.attempts == 1
    assert "answered 503; retrying" in first.last_outcome
    later = timezone.now() + timedelta(hours=1)
    outcomes = deliveries.deliver_due(now=later)
    assert "answered 503; retrying" in outcomes[0]
    assert outcomes[1:] == ["waiting for an earlier event of the same link"] * 2
    assert len(one.received) == 2
    down["on"] = False
    deliveries.deliver_due(now=later + timedelta(hours=1))
    delivered = verified(one, endpoint.secret)[-3:]
    assert types_of(delivered) == ["link.created", "link.updated", "link.updated"]
    assert [e["data"]["title"] for e in delivered[1:]] == ["one", "two"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    # Every attempt of the first carried the same webhook-id: the receiver dedupes on it.
    ids = [got.headers["webhook-id"] for got in one.received]
    assert len(set(ids)) == 3


def test_a_4xx_is_not_retried_and_a_429_honours_retry_after(
    alice, receiver, django_capture_on_commit_callbacks
):
    answers = iter([receivers.answer(404), receivers.answer(429, b"", {"Retry-After": "120"})])
    one = receiver(lambda got, conn, rec: next(answers))
    endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
        links.create({"target": "https://example.com/b"}, actor=alice)
    gone, limited = Delivery.objects.order_by("id")
    assert gone.status == DeliveryStatus.FAILED and gone.last_outcome == "answered 404; not retried"
    assert limited.status == DeliveryStatus.PENDING
    tried = limited.tries.get().at
    assert limited.next_attempt_at == tried + timedelta(seconds=120)


def test_a_redirect_is_not_followed_nor_retried(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver(receivers.redirect_to_metadata)
    endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
    only = Delivery.objects.get()
    assert only.status == DeliveryStatus.FAILED
    assert "302 (redirects are not followed); not retried" in only.last_outcome
    assert one.connections == 1


def test_retries_stop_after_24_hours(alice, receiver, django_capture_on_commit_callbacks):
    one = receiver(receivers.status(500))
    endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
    start = timezone.now()
    for hours in range(1, 26):
        deliveries.deliver_due(now=start + timedelta(hours=hours))
    only = Delivery.objects.get()
    assert only.status == DeliveryStatus.FAILED
    assert only.last_outcome.endswith("retried for 24 hours, given up")
    assert only.attempts == DeliveryAttempt.objects.count() >= 20


def test_an_endpoint_failing_for_three_days_is_disabled_and_says_so(
    client, alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver(receivers.status(500))
    endpoint = endpoint_for(alice, one.url)
    start = timezone.now()
    for day in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            links.create({"target": f"https://example.com/{day}"}, actor=alice)
        deliveries.deliver_due(now=start + timedelta(days=day, minutes=1))
        endpoint.refresh_from_db()
        assert endpoint.enabled == (day < 3)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "failed (3 days)" in endpoint.disabled_reason
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:shortener_endpoint_change", args=[endpoint.pk]))
    assert "failed (3 days)" in page.content.decode()


def test_rotation_signs_with_both_secrets_during_the_grace_period(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint = endpoint_for(alice, one.url)
    old = endpoint.secret
    new = endpoint.rotate_secret(grace=timedelta(hours=24))
    assert new != old and new.startswith("whsec_")
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
    got = one.received[0]
    headers = {k: v for k, v in got.headers.items() if k.startswith("webhook-")}
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, headers)  # a receiver not yet updated
    Webhook(new).verify(got.body, headers)  # a receiver already updated
    endpoint.refresh_from_db()
    after = endpoint.previous_secret_until + timedelta(seconds=1)
    assert endpoint.signing_secrets(after) == [new]


def test_a_name_resolving_to_loopback_is_refused_without_the_allowance(
    settings, alice, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint_for(alice, f"http://hooks.example.com:{one.port}/in")
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    from shortener.outbound import fetch

    monkeypatch.setattr(fetch, "system_resolver", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(fetch, "_own_seen", {})  # what this resolver says is forgotten after
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
    only = Delivery.objects.get()
    assert only.status == DeliveryStatus.FAILED
    assert "resolves to 127.0.0.1" in only.last_outcome and one.connections == 0


def test_a_hanging_endpoint_is_logged_and_retried(
    alice, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    from shortener.outbound import fetch

    one = receiver(receivers.hang)
    endpoint = endpoint_for(alice, one.url)
    real_post = fetch.post  # ten seconds in production; half a second here
    monkeypatch.setattr(fetch, "post", lambda *a, **k: real_post(*a, **{**k, "total_timeout": 0.5}))
    with django_capture_on_commit_callbacks(execute=True):
        links.create({"target": "https://example.com/a"}, actor=alice)
    only = Delivery.objects.get(endpoint=endpoint)
    assert only.status == DeliveryStatus.PENDING
    attempt = only.tries.get()
    assert attempt.status_code is None and "time" in attempt.error


def test_admin_shows_the_secret_once_and_refuses_private_urls(client, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    staff = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    add = reverse("admin:shortener_endpoint_add")
    refused = client.post(add, {"owner": staff.pk, "url": "https://169.254.169.254/x"})
    assert refused.status_code == 200 and Endpoint.objects.count() == 0
    assert "private, local or reserved" in refused.content.decode()
    plain = client.post(add, {"owner": staff.pk, "url": "http://hooks.example.com/x"})
    assert "must use https://" in plain.content.decode() and Endpoint.objects.count() == 0
    made = client.post(
        add, {"owner": staff.pk, "url": "https://hooks.example.com/x", "enabled": "on"}
    )
    endpoint = Endpoint.objects.get()
    assert endpoint.secret in made.content.decode()
    assert "no-store" in made["Cache-Control"]
    page = client.get(reverse("admin:shortener_endpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()


def test_a_test_event_and_a_replay(alice, receiver, django_capture_on_commit_callbacks):
    one = receiver()
    endpoint = endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=True):
        made = outbox.test_event(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries.replay(made)
    events = verified(one, endpoint.secret)
    assert types_of(events) == ["webhook.test", "webhook.test"]
    assert events[0]["id"] == events[1]["id"]  # the same event, sent again
    assert Delivery.objects.get().tries.count() == 2


def test_no_endpoint_no_outbox_rows(alice):
    links.create({"target": "https://example.com/a"}, actor=alice)
    assert Delivery.objects.count() == 0


def test_with_the_database_queue_the_task_is_written_with_the_change(settings, alice):
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

    def queued():
        return DBTaskResult.objects.filter(task_path=deliveries.deliver.module_path)

    endpoint_for(alice, "https://hooks.example.com/in")
    with pytest.raises(RuntimeError), transaction.atomic():
        links.create({"target": "https://example.com/a"}, actor=alice)
        assert queued().count() == 1  # in the change's own transaction
        raise RuntimeError("the change rolls back")
    assert queued().count() == 0 and Delivery.objects.count() == 0
    links.create({"target": "https://example.com/b"}, actor=alice)
    queued_one = queued().get()
    assert queued_one.args_kwargs["args"] == [Delivery.objects.get().pk]


def test_the_sweep_queues_what_a_lost_task_left_pending(
    alice, receiver, django_capture_on_commit_callbacks
):
    one = receiver()
    endpoint_for(alice, one.url)
    with django_capture_on_commit_callbacks(execute=False):  # the task is lost
        links.create({"target": "https://example.com/a"}, actor=alice)
    assert one.received == []
    assert deliveries.requeue_lost(now=timezone.now()) == 0  # not overdue yet: may be queued
    assert deliveries.requeue_lost(now=timezone.now() + timedelta(minutes=6)) == 1
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED
    assert len(one.received) == 1


def test_the_sweep_is_scheduled_once(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    DBTaskResult.objects.filter(task_path=deliveries.sweep.module_path).delete()
    assert deliveries.schedule_sweep() is True
    assert deliveries.schedule_sweep() is False
    assert DBTaskResult.objects.filter(task_path=deliveries.sweep.module_path).count() == 1
