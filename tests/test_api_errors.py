"""Every bad API request: the right 4xx, a problem document, and nothing written."""

import json

import pytest
from waffle.testutils import override_flag

from shortener.models import ApiToken, BlockedDomain, DestinationChange, IdempotencyKey, Link, Tag
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, make_user, per_day

pytestmark = pytest.mark.django_db
LINKS = "/api/v1/links"


@pytest.fixture
def api(client):
    with override_flag("api_v1", active=True):
        yield ApiClient(client)


def snapshot():
    """Everything an API request could write."""
    return (
        list(Link.objects.values_list("slug", "target", "title", "is_active", "deleted_at")),
        DestinationChange.objects.count(),
        Tag.objects.count(),
        IdempotencyKey.objects.count(),
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "kind"),
    [
        ("{not json", "application/json", 400, "malformed-request"),
        ("[1, 2]", "application/json", 400, "malformed-request"),
        ('"text"', "application/json", 400, "malformed-request"),
        ("", "application/json", 400, "malformed-request"),
        (
            "target=https://example.com/",
            "application/x-www-form-urlencoded",
            415,
            "unsupported-media-type",
        ),
        ('{"target": "https://example.com/"}', "text/plain", 415, "unsupported-media-type"),
        (
            '{"target": "https://example.com/", "colour": "red"}',
            "application/json",
            400,
            "unknown-field",
        ),
        ('{"target": 12}', "application/json", 422, "invalid-link"),
        (
            '{"target": "https://example.com/", "tags": "a,b"}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "redirect_code": 303}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "max_visits": 0}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "max_visits": 99999999999999999999999}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "expires_at": "soon"}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "expires_at": "0001-01-01T00:00:00+05:00"}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "title": "a\\u0000b"}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "tags": ["no spaces"]}',
            "application/json",
            422,
            "invalid-link",
        ),
        (
            '{"target": "https://example.com/", "title": "' + "x" * 201 + '"}',
            "application/json",
            422,
            "invalid-link",
        ),
    ],
)
def test_bad_create_bodies(api, body, content_type, status, kind):
    before = snapshot()
    response = api.post(LINKS, body, content_type=content_type)
    assert_problem(response, status, kind)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("javascript:alert(1)", "only http and https"),
        ("http://127.0.0.1/admin", "private"),
        ("https://localhost/", "local"),
        ("https://go.example.com/loop", "this site itself"),
        ("https://evil.example/x", "blocked"),
    ],
)
def test_the_target_policy_refuses_with_its_sentence(api, settings, target, reason):
    settings.CONFIGURED_HOSTS = ["go.example.com"]
    BlockedDomain.objects.create(domain="evil.example")
    before = snapshot()
    response = api.post(LINKS, {"target": target}, HTTP_HOST="go.example.com")
    doc = assert_problem(response, 422, "invalid-link")
    assert doc["detail"] == doc["errors"]["target"][0]
    assert reason.lower() in doc["detail"].lower()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("slug", "words"),
    [("api", "reserved"), ("no", "3 to 64"), ("has space", "3 to 64"), ("taken", "taken")],
)
def test_the_slug_policy_refuses_with_its_sentence(api, slug, words):
    make_link(slug="taken")
    before = snapshot()
    with override_flag("custom_slugs", active=True):
        response = api.post(LINKS, {"target": "https://example.com/", "slug": slug})
    doc = assert_problem(response, 422, "invalid-link")
    assert words in doc["errors"]["slug"][0] and words in doc["detail"]
    assert snapshot() == before


def test_oversized_body_is_413(api):
    before = snapshot()
    body = json.dumps({"target": "https://example.com/", "notes": "x" * 70_000})
    assert_problem(api.post(LINKS, body), 413, "body-too-large")
    link = make_link(owner=api.user)
    before = snapshot()
    assert_problem(api.patch(f"{LINKS}/{link.slug}", body), 413, "body-too-large")
    assert snapshot() == before


def test_chunked_bodies_without_a_length_are_411(api):
    response = api.post(
        LINKS,
        {"target": "https://example.com/"},
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert_problem(response, 411, "length-required")
    assert not Link.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "new-slug"},  # the slug never changes
        {"colour": "red"},
        {"title": "ok", "visit_count": 0},
        {"state": "disabled"},
    ],
)
def test_unknown_fields_in_a_patch_are_400(api, body):
    link = make_link(owner=api.user)
    before = snapshot()
    doc = assert_problem(api.patch(f"{LINKS}/{link.slug}", body), 400, "unknown-field")
    assert set(doc["errors"]) == set(body) - {"title"}
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"target": "ftp://example.com/"},
        {"target": None},
        {"max_visits": -1},
        {"tags": ["ok", "not ok"]},
        {"title": "fine", "target": "https://localhost/"},  # nothing is half-applied
    ],
)
def test_invalid_patches_change_nothing(api, body):
    link = make_link(owner=api.user, tags=["keep"])
    before = snapshot()
    assert_problem(api.patch(f"{LINKS}/{link.slug}", body), 422, "invalid-link")
    assert snapshot() == before
    link.refresh_from_db()
    assert [t.name for t in link.tags.all()] == ["keep"]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer torii_forged"],
)
def test_missing_or_wrong_tokens_are_401(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    with override_flag("api_v1", active=True):
        for response in (
            client.get(LINKS, headers=headers),
            client.post(
                LINKS,
                '{"target": "https://example.com/"}',
                content_type="application/json",
                headers=headers,
            ),
        ):
            assert_problem(response, 401, "unauthorized")
            assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Link.objects.exists()


def test_a_revoked_token_is_401(api):
    ApiToken.objects.get(user=api.user).revoke()
    before = snapshot()
    assert_problem(api.post(LINKS, {"target": "https://example.com/"}), 401, "unauthorized")
    assert snapshot() == before


def test_an_inactive_users_token_is_401(api):
    api.user.is_active = False
    api.user.save()
    assert_problem(api.get(LINKS), 401, "unauthorized")


@pytest.mark.parametrize("slug", ["nope", "bad%20slug", "x" * 65, "%00"])
def test_unknown_slugs_are_404(api, slug):
    assert_problem(api.get(f"{LINKS}/{slug}"), 404, "not-found")


def test_unknown_paths_and_methods(api):
    assert_problem(api.get("/api/v1/nothing/here"), 404, "not-found")
    response = api.send("put", LINKS, {"target": "https://example.com/"})
    assert_problem(response, 405, "method-not-allowed")
    assert response["Allow"] == "GET, POST"
    assert not Link.objects.exists()


def test_off_flag_is_a_403_problem_everywhere(client):
    api = ApiClient(client)
    with override_flag("api_v1", active=False):
        for response in (
            api.get("/api/v1/"),
            api.get(LINKS),
            api.post(LINKS, {"target": "https://example.com/"}),
            api.get("/api/v1/openapi.json"),
            api.get("/api/v1/docs"),
            api.get("/api/v1/nothing"),
        ):
            assert_problem(response, 403, "api-disabled")
    assert not Link.objects.exists()


def test_html_footer_links_the_docs_only_while_the_flag_is_on(client):
    with override_flag("api_v1", active=True):
        assert 'href="/api/v1/docs"' in client.get("/").content.decode()
    with override_flag("api_v1", active=False):
        assert 'href="/api/v1/docs"' not in client.get("/").content.decode()


def test_the_flag_follows_the_tokens_user(client):
    from flags.models import FeatureFlag

    alice, bob = ApiClient(client), ApiClient(client, user=make_user("bob"))
    flag, _ = FeatureFlag.objects.update_or_create(name="api_v1", defaults={"everyone": None})
    flag.users.add(alice.user)
    assert alice.get(LINKS).status_code == 200
    assert_problem(bob.get(LINKS), 403, "api-disabled")
    assert_problem(
        ApiClient(client, user=make_user("carol"), raw="torii_nope").get(LINKS), 403, "api-disabled"
    )


def test_creating_through_the_api_counts_in_the_create_group(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "create": per_day(2)}
    for n in range(2):
        assert api.post(LINKS, {"target": f"https://example.com/{n}"}).status_code == 201
    before = snapshot()
    response = api.post(LINKS, {"target": "https://example.com/third"})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert "Retry-After" in response
    assert snapshot() == before
    assert api.get(LINKS).status_code == 200  # reading is only the `api` group
