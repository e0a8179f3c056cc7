"""POST /api/v1/links/batch and GET /api/v1/export."""

import json

import pytest
from django.core.cache import caches
from waffle.testutils import override_flag

from shortener.models import Link
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, set_flag

BATCH = "/api/v1/links/batch"


@pytest.fixture
def api(client, db):
    with override_flag("api_v1", active=True):
        yield ApiClient(client)


def test_each_item_is_answered_and_one_refusal_stops_nothing(api):
    set_flag("custom_slugs", everyone=True)
    make_link(slug="taken-one", target="https://example.com/other")
    body = {
        "links": [
            {"target": "https://example.com/a", "tags": ["x"]},
            {"target": "http://localhost/loop"},
            {"target": "https://example.com/b", "slug": "taken-one"},
            {"target": "https://example.com/c", "slug": "my-c", "title": "C"},
        ]
    }
    response = api.post(BATCH, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["created"], answer["existing"], answer["refused"]) == (2, 0, 2)
    statuses = [item["status"] for item in answer["results"]]
    assert statuses == ["created", "refused", "refused", "created"]
    assert answer["results"][2]["problem"]["errors"] == {
        "slug": ["“taken-one” is already taken; choose another."]
    }
    assert answer["results"][1]["problem"]["type"] == "urn:torii:problem:invalid-link"
    assert answer["results"][3]["link"]["slug"] == "my-c"
    assert Link.objects.filter(owner=api.user).count() == 2


def test_a_reused_idempotency_key_replays_and_creates_nothing_new(api):
    body = {"links": [{"target": f"https://example.com/{n}"} for n in range(5)]}
    first = api.post(BATCH, body, headers={"Idempotency-Key": "batch-1"})
    again = api.post(BATCH, body, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Link.objects.count() == 5
    other = api.post(BATCH, {"links": body["links"][:1]}, headers={"Idempotency-Key": "batch-1"})
    assert_problem(other, 422, "idempotency-key-reused")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"links": []}, 422),
        ({"links": [{"target": 5}]}, 422),
        ({"links": [{"target": "https://example.com/"}] * 1001}, 422),
        ({"items": []}, 400),
    ],
    ids=["empty", "wrong type", "too many", "unknown field"],
)
def test_a_malformed_batch_is_refused_whole_and_writes_nothing(api, body, status):
    response = api.post(BATCH, body)
    assert response.status_code == status, response.content
    assert not Link.objects.exists()


def test_the_batch_counts_against_create_by_the_links_it_made(api, settings):
    from config.ratelimit.rates import parse_rate

    caches["counters"].clear()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "create": parse_rate("10/h")}
    body = {"links": [{"target": f"https://example.com/{n}"} for n in range(8)]}
    assert api.post(BATCH, body).status_code == 200
    # 8 spent: two more fit, then the bucket is full
    assert api.post(BATCH, {"links": body["links"][:2]}).status_code == 200
    refused = api.post(BATCH, {"links": body["links"][:1]})
    assert_problem(refused, 429, "rate-limited")
    assert Link.objects.count() == 10


def test_export_streams_every_link_with_tombstones_as_jsonl_and_csv(api):
    make_link(slug="mine-1", owner=api.user, tags=["t"])
    make_link(slug="mine-2", owner=api.user, delete=True)
    make_link(slug="theirs")
    response = api.get("/api/v1/export", format="jsonl")
    assert response.status_code == 200
    assert response.streaming
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {(row["slug"], row["state"]) for row in rows} == {
        ("mine-1", "active"),
        ("mine-2", "deleted"),
    }
    assert rows[0]["short_url"].endswith("/mine-1")
    csv_response = api.get("/api/v1/export", format="csv", tag="t")
    text = b"".join(csv_response.streaming_content).decode()
    assert text.startswith("domain,slug,short_url,target")
    assert "mine-1" in text and "mine-2" not in text


@pytest.mark.parametrize(
    ("body", "content_type", "status", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", 415, "unsupported-media-type"),
        (b'{"links": [', "application/json", 400, "malformed-request"),
        (
            json.dumps({"links": [{"target": "https://example.com/" + "a" * 2000}] * 1100}),
            "application/json",
            413,
            "body-too-large",
        ),
    ],
    ids=["binary", "broken json", "over 2 MB"],
)
def test_a_batch_that_is_not_json_or_too_big_is_refused_whole(
    api, body, content_type, status, kind
):
    response = api.post(BATCH, body, content_type=content_type)
    assert_problem(response, status, kind)
    assert not Link.objects.exists()
