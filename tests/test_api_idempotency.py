"""Idempotency-Key: replay, conflicts, concurrency and pruning."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.api import views as api_views
from shortener.models import IdempotencyKey, Link
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, make_user, run_manage, test_database_url

LINKS = "/api/v1/links"
BODY = {"target": "https://example.com/once", "title": "Once"}


@pytest.fixture
def api(client, db):
    with override_flag("api_v1", active=True):
        yield ApiClient(client)


def key(value: str) -> dict:
    return {"headers": {"Idempotency-Key": value}}


def test_same_key_same_body_replays_and_creates_one_link(api):
    first = api.post(LINKS, BODY, **key("k-1"))
    # The same meaning with other spacing and key order is the same body.
    again = api.post(LINKS, '{"title":"Once",   "target":"https://example.com/once"}', **key("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Link.objects.count() == 1


def test_keys_belong_to_one_user(api, client):
    api.post(LINKS, BODY, **key("shared"))
    other = ApiClient(client, user=make_user("bob"))
    assert other.post(LINKS, BODY, **key("shared")).status_code == 201
    assert Link.objects.count() == 2


def test_same_key_other_body_is_422(api):
    api.post(LINKS, BODY, **key("k-2"))
    response = api.post(LINKS, {**BODY, "title": "Twice"}, **key("k-2"))
    assert_problem(response, 422, "idempotency-key-reused")
    assert Link.objects.count() == 1


def test_same_key_other_operation_is_422(api):
    link = make_link(owner=api.user)
    api.post(f"{LINKS}/{link.slug}/disable", **key("k-3"))
    assert_problem(
        api.post(f"{LINKS}/{link.slug}/enable", **key("k-3")), 422, "idempotency-key-reused"
    )
    link.refresh_from_db()
    assert not link.is_active


def test_refusals_release_the_key(api):
    assert api.post(LINKS, {"target": "ftp://x"}, **key("k-4")).status_code == 422
    assert not IdempotencyKey.objects.exists()
    assert api.post(LINKS, BODY, **key("k-4")).status_code == 201


@pytest.mark.parametrize("bad", ["", " ", "x" * 256, "naïve"])
def test_malformed_keys_are_400(api, bad):
    response = api.client.post(
        LINKS,
        BODY,
        content_type="application/json",
        headers=api.headers({"Idempotency-Key": bad.encode("utf-8").decode("latin-1")}),
    )
    assert_problem(response, 400, "invalid-idempotency-key")
    assert not Link.objects.exists() and not IdempotencyKey.objects.exists()


def test_a_key_in_flight_is_409(api):
    IdempotencyKey.objects.create(user=api.user, key="k-5", fingerprint="running")
    response = api.post(LINKS, BODY, **key("k-5"))
    assert_problem(response, 409, "idempotency-key-in-flight")
    assert response["Retry-After"] == "1"
    assert not Link.objects.exists()


def test_old_keys_are_pruned_on_write_and_by_command(api):
    old = timezone.now() - timedelta(hours=25)
    IdempotencyKey.objects.create(user=api.user, key="old", fingerprint="x", status=201)
    IdempotencyKey.objects.filter(key="old").update(created_at=old)
    # A day later the same key is a new request.
    assert api.post(LINKS, BODY, **key("old")).status_code == 201
    assert "Idempotent-Replayed" not in api.post(LINKS, BODY, **key("other"))
    IdempotencyKey.objects.update(created_at=old)
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_prune_command_forgets_only_old_keys():
    user = make_user()
    for name, age in (("old", 25), ("young", 1)):
        IdempotencyKey.objects.create(user=user, key=name, fingerprint="x", status=201)
        IdempotencyKey.objects.filter(key=name).update(
            created_at=timezone.now() - timedelta(hours=age)
        )
    result = run_manage("prune_idempotency_keys", env={"DATABASE_URL": test_database_url()})
    assert result.returncode == 0, result.stderr
    assert "Pruned 1" in result.stdout
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_link(monkeypatch):
    """Two requests with one key at once: one link. The unique (user, key) row decides:
    PostgreSQL answers the second at once with 409 (in flight); SQLite, whose writers
    queue on one lock, lets it wait and then replays the first answer."""
    user = make_user()
    raw = ApiClient(Client(), user=user).raw
    entered, release = threading.Event(), threading.Event()
    real_create = api_views.links.create

    def slow_create(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(api_views.links, "create", slow_create)
    results = {}

    def send(name):
        try:
            results[name] = ApiClient(Client(), user=user, raw=raw).post(LINKS, BODY, **key("race"))
        finally:
            connection.close()

    with override_flag("api_v1", active=True):
        first = threading.Thread(target=send, args=("first",))
        first.start()
        assert entered.wait(10)
        second = threading.Thread(target=send, args=("second",))
        second.start()  # while the first is inside the operation
        second.join(0.5)
        release.set()
        first.join(10)
        second.join(10)
        replay = ApiClient(Client(), user=user, raw=raw).post(LINKS, BODY, **key("race"))

    assert results["first"].status_code == 201
    if results["second"].status_code == 409:
        assert_problem(results["second"], 409, "idempotency-key-in-flight")
    else:
        assert results["second"].json() == results["first"].json()
        assert results["second"]["Idempotent-Replayed"] == "true"
    assert replay.status_code == 201 and replay.json() == results["first"].json()
    assert Link.objects.count() == 1
