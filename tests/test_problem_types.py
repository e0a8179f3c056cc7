"""Problem types: every refusal under /api/ and /webhooks/ (rate limits and maintenance
included) carries a type from the one table, each listed type is really sent where the
table says, and the OpenAPI description lists every type the API sends."""

import json
from datetime import timedelta

import pytest
from waffle.testutils import override_flag, override_switch

from hypermedia.problems import API, CONTENT_TYPE, TYPE_BASE, TYPES, WEBHOOKS, listed
from shortener.models import IdempotencyKey, Link, WebhookEvent
from shortener.tokens import personal as tokens
from shortener.tokens.scopes import LINKS_READ
from tests.api_client import ApiClient
from tests.conftest import make_link, make_user, per_day
from tests.webhook_delivery import deliver, make_source

pytestmark = pytest.mark.django_db
LINKS = "/api/v1/links"
GOOD = {"target": "https://example.com/article"}


class BrokenCache:
    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")

    get = incr = set = update_gcra = add


@pytest.fixture
def counters_down(monkeypatch, settings):
    """The rate limiter cannot count, and no group fails open."""
    from config.ratelimit import middleware

    settings.RATE_LIMIT_FAIL_OPEN = []
    broken = {"counters": BrokenCache(), "default": BrokenCache()}
    monkeypatch.setattr(middleware, "caches", broken)


def sent_while_the_database_is_away(monkeypatch, send):
    """`send(client)`'s answer while every request fails for the database as the domain
    middleware asks it (the whole stack with the database really away is
    tests/test_outages.py), with a client that sees the answer, not the exception."""
    from django.db import OperationalError
    from django.test import Client

    from shortener.domains import served

    def unreachable(request):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(served, "of_request", unreachable)
        return send(Client(raise_request_exception=False))


def kind_of(response) -> str:
    """The type suffix of a problem document, checking it is well formed and listed."""
    assert response["Content-Type"] == CONTENT_TYPE, response.content
    doc = json.loads(response.content)
    assert doc["status"] == response.status_code
    assert doc["title"] and doc["detail"]
    assert doc["type"].startswith(TYPE_BASE), doc["type"]
    kind = doc["type"].removeprefix(TYPE_BASE)
    assert kind in TYPES, kind
    return kind


def viewed(viewer) -> str:
    """The slug of a link in a workspace where `viewer` only reads."""
    from shortener.models import Membership, Role

    owner = make_user("ward")
    link = make_link(slug="looked-at", owner=owner)
    Membership.objects.create(workspace=link.workspace, user=viewer, role=Role.VIEWER)
    return link.slug


def left(user) -> str:
    """A token made for a workspace `user` then left."""
    from shortener.workspaces import members

    team = members.create_workspace("Left", by=make_user("lena"))
    membership = team.memberships.create(user=user, role="editor")
    raw = tokens.issue(user, "team", workspace=team)[1]
    membership.delete()
    return raw


def api_refusals(client, settings, monkeypatch) -> list[tuple[int, str, object]]:
    """(status, expected type, response) for each way the API refuses."""
    api = ApiClient(client)
    IdempotencyKey.objects.create(user=api.user, key="running", fingerprint="running")
    api.post(LINKS, GOOD, HTTP_IDEMPOTENCY_KEY="used")
    expired = tokens.issue(api.user, "old", lifetime=timedelta(days=-1))[1]
    reader = tokens.issue(api.user, "reader", scopes=[LINKS_READ])[1]
    cases = [
        (401, "unauthorized", client.get(LINKS)),
        (401, "token-expired", ApiClient(client, api.user, expired).get(LINKS)),
        (403, "insufficient-scope", ApiClient(client, api.user, reader).post(LINKS, GOOD)),
        (404, "not-found", api.get(f"{LINKS}/no-such-link")),
        (404, "not-found", api.get("/api/v1/nothing")),
        (405, "method-not-allowed", api.send("put", LINKS, GOOD)),
        (400, "malformed-request", api.post(LINKS, "{not json")),
        (400, "unknown-field", api.post(LINKS, {**GOOD, "colour": "red"})),
        (415, "unsupported-media-type", api.post(LINKS, "target", content_type="text/plain")),
        (413, "body-too-large", api.post(LINKS, {**GOOD, "notes": "x" * 70_000})),
        (
            411,
            "length-required",
            api.post(LINKS, GOOD, HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH=""),
        ),
        (422, "invalid-link", api.post(LINKS, {"target": "ftp://example.com/"})),
        (400, "invalid-idempotency-key", api.post(LINKS, GOOD, HTTP_IDEMPOTENCY_KEY="a\tb")),
        (
            409,
            "idempotency-key-in-flight",
            api.post(LINKS, GOOD, HTTP_IDEMPOTENCY_KEY="running"),
        ),
        (
            422,
            "idempotency-key-reused",
            api.post(LINKS, {"target": "https://example.com/other"}, HTTP_IDEMPOTENCY_KEY="used"),
        ),
        (403, "role-forbids", api.patch(f"{LINKS}/{viewed(api.user)}", {"title": "Mine now"})),
        (403, "left-workspace", ApiClient(client, api.user, left(api.user)).get(LINKS)),
    ]
    with override_flag("api_v1", active=False):
        cases.append((403, "api-disabled", api.get(LINKS)))
    with override_switch("read_only", active=True):
        cases.append((503, "read-only", api.post(LINKS, GOOD)))
    cases.append(
        (
            503,
            "service-unavailable",
            sent_while_the_database_is_away(
                monkeypatch, lambda c: ApiClient(c, api.user, api.raw).get(LINKS)
            ),
        )
    )
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": per_day(1)}
    api.get(LINKS)
    cases.append((429, "rate-limited", api.get(LINKS)))
    return cases


def webhook_refusals(client, rf, settings, monkeypatch) -> list[tuple[int, str, object]]:
    from shortener.events import processing
    from shortener.webhooks import receiver

    source = make_source("cms")
    url = "/webhooks/cms/"
    cases = [
        (405, "method-not-allowed", client.get(url)),
        (404, "unknown-source", client.post("/webhooks/nobody/", b"{}", "application/json")),
        (413, "body-too-large", deliver(client, source, b"x" * (receiver.MAX_BODY_BYTES + 1))),
        (401, "bad-signature", deliver(client, source, HTTP_WEBHOOK_SIGNATURE="v1,AAAA")),
        (400, "rejected-event", deliver(client, source, b"[]")),
    ]
    bad_length = rf.post(url, b"{}", content_type="application/json")
    bad_length.META["CONTENT_LENGTH"] = "twelve"
    cases.append((400, "malformed-request", receiver.receive(bad_length, "cms")))
    cut_off = rf.post(url, b"{}", content_type="application/json")

    def broken(*args):
        raise OSError("connection reset")

    cut_off.read = broken
    cases.append((400, "incomplete-body", receiver.receive(cut_off, "cms")))

    def queue_down(*args, **kwargs):
        raise ConnectionError("queue unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(processing, "enqueue", queue_down)
        cases.append((503, "not-stored", deliver(client, source)))
    with override_switch("read_only", active=True):
        cases.append((503, "read-only", deliver(client, source)))
    cases.append(
        (
            503,
            "service-unavailable",
            sent_while_the_database_is_away(monkeypatch, lambda c: deliver(c, source)),
        )
    )
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "webhook": per_day(1)}
    deliver(client, source)
    cases.append((429, "rate-limited", deliver(client, source)))
    return cases


def check(cases) -> set[str]:
    sent = set()
    for status, expected, response in cases:
        assert response.status_code == status, (expected, response.content)
        assert kind_of(response) == expected
        sent.add(expected)
    return sent


def test_every_api_refusal_has_a_listed_type_and_every_api_type_is_sent(
    client, settings, monkeypatch
):
    sent = check(api_refusals(client, settings, monkeypatch))
    sent |= {"rate-limiter-unavailable"}  # the next test sends it
    assert sent == set(listed(API))
    assert Link.objects.count() == 2  # the viewed link and the one good create with a key
    assert Link.objects.get(slug="looked-at").title == ""


def test_every_webhook_refusal_has_a_listed_type_and_every_webhook_type_is_sent(
    client, rf, settings, monkeypatch
):
    sent = check(webhook_refusals(client, rf, settings, monkeypatch))
    sent |= {"rate-limiter-unavailable"}  # the next test sends it
    assert sent == set(listed(WEBHOOKS))
    # the rejected event is kept, and the one delivery under the limit; no other refusal
    # writes anything
    assert WebhookEvent.objects.count() == 2


@pytest.mark.usefixtures("counters_down")
def test_the_rate_limiter_being_down_has_its_own_type_under_both(client):
    api = ApiClient(client)
    response = api.post(LINKS, GOOD)
    assert response.status_code == 503 and kind_of(response) == "rate-limiter-unavailable"
    response = deliver(client, make_source("cms"))
    assert response.status_code == 503 and kind_of(response) == "rate-limiter-unavailable"
    assert not Link.objects.exists() and not WebhookEvent.objects.exists()


def test_every_type_in_the_table_is_sent_somewhere():
    assert set(listed(API)) | set(listed(WEBHOOKS)) == set(TYPES)


def test_the_openapi_description_lists_every_type_the_api_sends(client):
    description = ApiClient(client).get("/api/v1/openapi.json").json()["info"]["description"]
    for kind, meaning in listed(API).items():
        assert f"`{TYPE_BASE}{kind}`: {meaning}" in description
    for kind in set(listed(WEBHOOKS)) - set(listed(API)):
        assert f"{TYPE_BASE}{kind}`" not in description


def kinds_named_in(folder: str) -> set[str]:
    """Every type a `problem(status, "kind", ...)` or `refusal(request, status, "kind", ...)`
    call names in the source under `folder`, read from the code itself."""
    import ast
    from pathlib import Path

    named = set()
    for path in (Path(__file__).parent.parent / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            position = {"problem": 1, "refusal": 2}.get(name)
            if position is not None and len(node.args) > position:
                argument = node.args[position]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    named.add(argument.value)
    return named


@pytest.mark.parametrize(
    ("folder", "surfaces"),
    [
        ("shortener/api", {API}),
        ("shortener/webhooks", {WEBHOOKS}),
        ("config", {API, WEBHOOKS}),  # rate limits and maintenance answer under both
    ],
)
def test_every_type_the_code_names_is_listed_where_it_is_sent(folder, surfaces):
    named = kinds_named_in(folder)
    assert named, folder
    for surface in surfaces:
        assert named <= set(listed(surface)), (folder, surface, named - set(listed(surface)))
