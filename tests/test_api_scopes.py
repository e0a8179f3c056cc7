"""Scoped, expiring API tokens, as a table: a token holding each single scope (and one
holding all, and an expired one) tries every API operation. A token with the operation's
scope gets its answer; one without gets 403 `insufficient-scope` naming the scope; an
expired one gets 401 `token-expired`. Each refusal is checked for its status, its
sentence and that nothing was written (no link, change, history, event or
Idempotency-Key). The table is also checked against the OpenAPI description, so a new
operation without a row, or a row whose scope the description does not state, fails."""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import ApiToken, Link
from shortener.tokens import personal as tokens
from shortener.tokens.scopes import ALL, LINKS_READ, LINKS_WRITE, STATS_READ
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as the OpenAPI description names it
    scope: str | None  # None: it needs no token
    status: int  # its answer when the token may
    body: dict | None = None
    headers: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path.replace("{slug}", "mine")


KEY = {"Idempotency-Key": "once"}  # a refused POST must not leave its key behind
OPERATIONS = {
    "root": Operation("get", "/api/v1/", None, 200),
    "list": Operation("get", "/api/v1/links", LINKS_READ, 200),
    "export": Operation("get", "/api/v1/export", LINKS_READ, 200),
    "read": Operation("get", "/api/v1/links/{slug}", LINKS_READ, 200),
    "create": Operation(
        "post", "/api/v1/links", LINKS_WRITE, 201, {"target": "https://example.com/new"}, KEY
    ),
    "batch": Operation(
        "post",
        "/api/v1/links/batch",
        LINKS_WRITE,
        200,
        {"links": [{"target": "https://example.com/one"}]},
        KEY,
    ),
    "change": Operation("patch", "/api/v1/links/{slug}", LINKS_WRITE, 200, {"title": "Moved"}),
    "delete": Operation("delete", "/api/v1/links/{slug}", LINKS_WRITE, 204),
    "disable": Operation("post", "/api/v1/links/{slug}/disable", LINKS_WRITE, 200, None, KEY),
    "enable": Operation("post", "/api/v1/links/{slug}/enable", LINKS_WRITE, 200, None, KEY),
    "stats": Operation("get", "/api/v1/links/{slug}/stats", STATS_READ, 200),
}
HOLDERS = [*ALL, "every scope", "expired"]


def granted(holder: str) -> tuple[str, ...]:
    return ALL if holder in ("every scope", "expired") else (holder,)


def written() -> dict:
    """Everything a request could write: each table's row count, every link as stored."""
    counts = {
        model.__name__: model.objects.count()
        for model in apps.get_app_config("shortener").get_models()
    }
    return {**counts, "links": list(Link.objects.order_by("pk").values())}


@pytest.fixture
def flags_on():
    with override_flag("api_v1", active=True), override_flag("link_analytics", active=True):
        yield


def send(api: ApiClient, operation: Operation):
    if operation.method == "get":
        return api.get(operation.url)
    if operation.method == "delete":
        return api.delete(operation.url)
    return api.send(operation.method, operation.url, operation.body, headers=operation.headers)


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_each_scope_through_each_operation(client, flags_on, name, holder):
    operation = OPERATIONS[name]
    user = make_user("olga")
    make_link(slug="mine", owner=user, target="https://example.com/olga")
    lifetime = timedelta(days=-1) if holder == "expired" else None
    token, raw = tokens.issue(user, holder, scopes=granted(holder), lifetime=lifetime)
    before = written()

    response = send(ApiClient(client, user, raw), operation)

    if operation.scope is None:  # the map of the API needs no token at all
        assert response.status_code == operation.status
    elif holder == "expired":
        doc = assert_problem(response, 401, "token-expired")
        when = token.expires_at.strftime("%Y-%m-%d %H:%M")
        assert doc["detail"] == (
            f"This token expired at {when} UTC: make a new one on the API tokens page."
        )
        assert response["WWW-Authenticate"] == (
            'Bearer realm="torii", error="invalid_token", error_description="The token expired"'
        )
        assert written() == before
    elif operation.scope in granted(holder):
        assert response.status_code == operation.status, response.content
    else:
        doc = assert_problem(response, 403, "insufficient-scope")
        method = operation.method.upper()
        assert doc["detail"] == (
            f"This token lacks the scope {operation.scope}, which {method} {operation.url} needs."
        )
        assert doc["scope"] == operation.scope
        assert response["WWW-Authenticate"] == (
            f'Bearer realm="torii", error="insufficient_scope", scope="{operation.scope}"'
        )
        assert written() == before


def test_the_table_is_the_openapi_description(client, flags_on):
    """Every operation the description lists has a row, and states the row's scope."""
    document = client.get(f"{V1}/openapi.json").json()
    described = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            security = operation.get("security")
            described[(method, path)] = security[0]["BearerToken"][0] if security else None
    assert described == {(o.method, o.path): o.scope for o in OPERATIONS.values()}
    for (method, path), scope in described.items():
        operation = document["paths"][path][method]
        if scope is None:
            continue
        assert operation["description"].endswith(f"Needs a token with the scope `{scope}`.")
        assert f"lacks the scope `{scope}`" in operation["responses"]["403"]["description"]
    scheme = document["components"]["securitySchemes"]["BearerToken"]
    assert all(f"`{scope}`" in scheme["description"] for scope in ALL)


def test_the_scope_is_checked_before_the_body(client, flags_on):
    """A token that may not create learns that first, not what is wrong with its body."""
    user = make_user()
    raw = tokens.issue(user, "reader", scopes=[LINKS_READ])[1]
    before = written()
    response = ApiClient(client, user, raw).post(f"{V1}/links", "{not json", headers=KEY)
    assert_problem(response, 403, "insufficient-scope")
    assert written() == before


def test_an_expired_or_revoked_token_stops_at_once(client, flags_on):
    user = make_user()
    token, raw = tokens.issue(user, "script", scopes=[LINKS_READ], lifetime=timedelta(days=1))
    api = ApiClient(client, user, raw)
    assert api.get(f"{V1}/links").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    assert_problem(api.get(f"{V1}/links"), 401, "token-expired")

    token, raw = tokens.issue(user, "other", scopes=[LINKS_READ])
    api = ApiClient(client, user, raw)
    assert api.get(f"{V1}/links").status_code == 200
    token.revoke()
    doc = assert_problem(api.get(f"{V1}/links"), 401, "unauthorized")
    assert doc["detail"] == "No valid API token: send `Authorization: Bearer <token>`."


def test_expiry_is_decided_at_the_instant_given():
    """Time is injected: the token lives until its expiry, and not at it."""
    user = make_user()
    token, raw = tokens.issue(user, "script", lifetime=timedelta(days=30))
    assert tokens.find(raw, now=token.expires_at - timedelta(seconds=1)) == token
    assert tokens.find(raw, now=token.expires_at) is None
    assert tokens.expired(raw, now=token.expires_at) == token
    assert tokens.expired(raw, now=token.expires_at - timedelta(seconds=1)) is None


def test_a_revoked_token_is_not_called_expired(client, flags_on):
    user = make_user()
    token, raw = tokens.issue(user, "old", lifetime=timedelta(days=-1))
    token.revoke()
    assert_problem(ApiClient(client, user, raw).get(f"{V1}/links"), 401, "unauthorized")


def test_a_token_made_without_scopes_may_do_nothing(client, flags_on):
    user = make_user()
    make_link(slug="mine", owner=user)
    raw = tokens.issue(user, "empty", scopes=[])[1]
    api = ApiClient(client, user, raw)
    for operation in OPERATIONS.values():
        if operation.scope is not None:
            assert_problem(send(api, operation), 403, "insufficient-scope")


def test_issue_refuses_an_unknown_scope():
    with pytest.raises(ValueError, match="Unknown scopes: links:admin"):
        tokens.issue(make_user(), "x", scopes=["links:admin"])
    assert not ApiToken.objects.exists()


def test_last_use_is_recorded_once_a_minute_at_most():
    """Counted in writes: ten uses within a minute write last_used_at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token, raw = tokens.issue(make_user(), "busy")
    start = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        for second in range(10):
            tokens.find(raw, now=start + timedelta(seconds=second * 5))
    updates = [q["sql"] for q in queries if q["sql"].upper().startswith("UPDATE")]
    assert len(updates) == 1
    tokens.find(raw, now=start + timedelta(minutes=1))
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(minutes=1)


def test_an_operation_that_declares_no_scope_is_closed_and_undocumentable(rf):
    """The API's default authentication holds no scope: a forgotten needs() admits no
    token (403) and stops the OpenAPI description from building, rather than open up."""
    from django.core.exceptions import ImproperlyConfigured
    from ninja import Router

    from shortener.api.auth import BearerToken, MissingScope
    from shortener.api.openapi import DocumentedAPI

    forgetful = DocumentedAPI(urls_namespace="forgetful", auth=BearerToken())
    forgetful.add_router("/", router := Router())

    @router.get("/things")
    def things(request):
        return {}

    with pytest.raises(ImproperlyConfigured, match=r"things declares no scope: use needs\(\)"):
        forgetful.get_openapi_schema(path_prefix="/")

    user = make_user()
    raw = tokens.issue(user, "everything")[1]
    request = rf.get("/things", headers={"Authorization": f"Bearer {raw}"})
    with pytest.raises(MissingScope):
        BearerToken()(request)
