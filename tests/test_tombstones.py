"""A deleted link is a tombstone whichever entry point deleted it: its short URL answers
410 forever and its slug can never be created again, custom or generated, anywhere."""

import pytest
from django.urls import reverse
from waffle.testutils import override_flag

from shortener.models import EventStatus, Link, LinkState, WebhookEvent
from shortener.policy import slugs
from tests.api_client import ApiClient
from tests.conftest import make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db


def staff(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def delete_on_page(client, slugs_):
    user = make_user("owner")
    for slug in slugs_:
        make_link(slug=slug, owner=user)
    client.force_login(user)
    for slug in slugs_:
        assert client.post(reverse("link-delete", args=[slug])).status_code == 303


def delete_through_api(client, slugs_):
    api = ApiClient(client, make_user("owner"))
    for slug in slugs_:
        make_link(slug=slug, owner=api.user)
    with override_flag("api_v1", active=True):
        for slug in slugs_:
            assert api.delete(f"/api/v1/links/{slug}").status_code == 204


def delete_in_admin(client, slugs_):
    ids = [str(make_link(slug=slug).pk) for slug in slugs_]
    changelist = reverse("admin:shortener_link_changelist")
    response = staff(client).post(changelist, {"action": "delete_links", "_selected_action": ids})
    assert response.status_code == 302


DELETERS = {
    "page": (delete_on_page, ["gone-page"]),
    "api": (delete_through_api, ["gone-api"]),
    "admin-single": (delete_in_admin, ["gone-admin"]),
    "admin-bulk": (delete_in_admin, ["gone-bulk-1", "gone-bulk-2", "gone-bulk-3"]),
}


def create_on_form(client, slug):
    client.force_login(make_user("taker"))
    response = client.post(reverse("link-list"), {"target": "https://evil.example/", "slug": slug})
    return response.status_code, response.content.decode()


def create_through_api(client, slug):
    api = ApiClient(client, make_user("taker-api"))
    with override_flag("api_v1", active=True):
        response = api.post("/api/v1/links", {"target": "https://evil.example/", "slug": slug})
    return response.status_code, response.json()["detail"]


def create_by_webhook(client, slug):
    source = make_source("taker-hook")
    deliver(client, source, payload("link.create", url="https://evil.example/", slug=slug))
    event = WebhookEvent.objects.get(source=source)
    return (422 if event.status == EventStatus.REJECTED else 201), event.outcome


CREATORS = {"form": create_on_form, "api": create_through_api, "webhook": create_by_webhook}


@pytest.mark.parametrize("deleter", list(DELETERS))
def test_a_deleted_slug_answers_410_and_is_never_taken_again(client, deleter):
    delete, deleted = DELETERS[deleter]
    delete(client, deleted)
    client.logout()
    for slug in deleted:
        link = Link.objects.get(slug=slug)
        assert link.state == LinkState.DELETED
        response = client.get(f"/{slug}")
        assert response.status_code == 410 and b"deleted" in response.content
    with override_flag("custom_slugs", active=True):
        for name, create in CREATORS.items():
            status, body = create(client, deleted[0])
            assert status == 422, (name, body)
            assert f"“{deleted[0]}” is already taken" in body, name
    assert Link.objects.filter(target="https://evil.example/").count() == 0


def test_a_generated_slug_never_lands_on_a_tombstone(client, monkeypatch):
    make_link(slug="Tomb777", delete=True)
    draws = iter(["Tomb777", "Tomb777", "Fresh77"])
    monkeypatch.setattr(slugs, "generate_slug", lambda length: next(draws))
    client.force_login(make_user())
    response = client.post(reverse("link-list"), {"target": "https://example.com/"})
    assert response.status_code == 303
    assert Link.objects.get(target="https://example.com/").slug == "Fresh77"
    assert Link.objects.get(slug="Tomb777").state == LinkState.DELETED


def test_admin_offers_no_way_to_destroy_a_link(client):
    link = make_link()
    staff(client)
    changelist = client.get(reverse("admin:shortener_link_changelist")).content.decode()
    assert "delete_selected" not in changelist and "delete_links" in changelist
    change = client.get(reverse("admin:shortener_link_change", args=[link.pk])).content.decode()
    assert reverse("admin:shortener_link_delete", args=[link.pk]) not in change
    response = client.post(reverse("admin:shortener_link_delete", args=[link.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Link.objects.get(pk=link.pk).deleted_at is None
