"""Webhook sources and events in admin: secrets shown once, read-only events, replay."""

import re

import pytest
from django.urls import reverse

from shortener.events import handlers
from shortener.models import EventStatus, Link, WebhookEvent, WebhookSource
from tests.conftest import make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_adding_a_source_shows_its_secret_once(admin_client):
    owner = make_user("publisher")
    response = admin_client.post(
        reverse("admin:shortener_webhooksource_add"),
        {"name": "cms", "owner": owner.pk, "scheme": "standard", "enabled": "on"},
    )
    source = WebhookSource.objects.get()
    [secret] = source.secret_values()
    assert response.status_code == 200 and secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for page in ("changelist", "change"):
        args = [source.pk] if page == "change" else []
        html = admin_client.get(reverse(f"admin:shortener_webhooksource_{page}", args=args))
        assert secret not in html.content.decode()
        assert "whsec_" not in html.content.decode()


def test_rotate_action_shows_only_the_new_secret_and_retire_removes_the_old(admin_client):
    source = make_source()
    url = reverse("admin:shortener_webhooksource_changelist")
    page = admin_client.post(url, {"action": "rotate_secrets", "_selected_action": [source.pk]})
    shown = re.findall(r"whsec_[A-Za-z0-9+/=]+", page.content.decode())
    assert len(shown) == 1 and shown[0] != source.secret
    assert source.secrets.count() == 2
    admin_client.post(url, {"action": "retire_old_secrets", "_selected_action": [source.pk]})
    assert source.secret_values() == shown


def test_events_are_read_only_with_filters_and_the_raw_body(admin_client, client):
    source = make_source()
    deliver(client, source, b'{"type": "link.create", "data": {"url": 1}}', delivery_id="msg_x")
    event = WebhookEvent.objects.get()
    changelist = reverse("admin:shortener_webhookevent_changelist")
    assert admin_client.get(changelist, {"status__exact": "rejected"}).status_code == 200
    assert "msg_x" in admin_client.get(changelist, {"event_type": "link.create"}).content.decode()
    page = admin_client.get(reverse("admin:shortener_webhookevent_change", args=[event.pk]))
    html = page.content.decode()
    assert "&quot;url&quot;: 1" in html and "Enter the address the short link" in html
    assert 'name="_save"' not in html
    assert admin_client.get(reverse("admin:shortener_webhookevent_add")).status_code == 403


def test_replay_action_processes_a_failed_event_and_skips_processed_ones(
    admin_client, client, monkeypatch
):
    source = make_source()
    monkeypatch.setitem(handlers.HANDLERS, "link.create", lambda e, d: 1 / 0)
    deliver(client, source, payload(url="https://example.com/"), delivery_id="msg_failed")
    monkeypatch.undo()
    deliver(client, source, payload(url="https://example.com/ok"), delivery_id="msg_ok")
    assert WebhookEvent.objects.get(delivery_id="msg_failed").status == EventStatus.FAILED
    ids = list(WebhookEvent.objects.values_list("pk", flat=True))
    response = admin_client.post(
        reverse("admin:shortener_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": ids},
        follow=True,
    )
    assert "Replayed 1 event(s); skipped 1" in response.content.decode()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert Link.objects.count() == 2


def test_staff_without_the_permission_cannot_replay(client):
    source = make_source()
    deliver(client, source)
    viewer = make_user("viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(viewer)
    page = client.get(reverse("admin:shortener_webhookevent_changelist"))
    assert page.status_code == 200 and "replay_events" not in page.content.decode()
