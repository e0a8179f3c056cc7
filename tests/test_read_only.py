"""Maintenance: with read_only on, writes get 503; reads, sign-in and the way back work."""

import json

import pytest
from django.http import HttpResponse
from django.urls import path
from waffle.testutils import override_switch

from config.read_only import ReadOnlyMiddleware, is_exempt, is_write
from tests.conftest import make_user


def ok(request, **kwargs):
    return HttpResponse("written")


urlpatterns = [
    path("", ok, name="home"),
    path("things/", ok, name="things"),
    path("api/v1/links/", ok, name="api-links"),
    path("webhooks/<str:source>/", ok, name="webhook"),
    path("accounts/login/", ok, name="login"),
    path("accounts/logout/", ok, name="logout"),
    path("accounts/password_change/", ok, name="password_change"),
]


# --- pure rules ---


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_unsafe_methods_are_writes(method):
    assert is_write(method)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_are_not_writes(method):
    assert not is_write(method)


def test_exemptions_are_sign_in_out_the_board_and_the_flag_and_switch_admin():
    assert is_exempt("login") and is_exempt("logout")
    assert is_exempt("flags:change", ["flags"])
    assert is_exempt("admin:waffle_switch_change", ["admin"])
    assert is_exempt("admin:flags_featureflag_change", ["admin"])
    assert not is_exempt("admin:auth_user_change", ["admin"])
    assert not is_exempt("home")
    assert not is_exempt(None)


def test_api_and_webhooks_get_problem_documents(rf):
    # The refusal is the rate limiter's (config/ratelimit/responses.py): one list of
    # the paths whose clients read problem documents.
    from config.ratelimit.responses import for_machines

    assert for_machines(rf.post("/api/v1/links/"))
    assert for_machines(rf.post("/webhooks/github/"))
    assert not for_machines(rf.post("/apix"))
    assert not for_machines(rf.post("/links/new"))


# --- the middleware on its own, with a dummy get_response ---


def run_middleware(rf, method: str, url: str, view=ok):
    from django.urls import resolve

    request = getattr(rf, method.lower())(url)
    request.resolver_match = resolve(url)
    middleware = ReadOnlyMiddleware(lambda request: HttpResponse("written"))
    return middleware.process_view(request, view, (), {}) or middleware(request)


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
def test_middleware_refuses_a_post_when_read_only(rf):
    response = run_middleware(rf, "POST", "/things/")
    assert response.status_code == 503
    assert response["Retry-After"] == "300"


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=False)
def test_middleware_passes_a_post_when_writable(rf):
    assert run_middleware(rf, "POST", "/things/").content == b"written"


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
def test_middleware_passes_reads_and_exempt_views_when_read_only(rf):
    assert run_middleware(rf, "GET", "/things/").content == b"written"
    assert run_middleware(rf, "POST", "/accounts/login/").content == b"written"


@pytest.mark.django_db
def test_middleware_does_not_look_at_the_switch_for_reads(rf, django_assert_num_queries):
    from django.core.cache import cache

    cache.clear()
    with django_assert_num_queries(0):
        run_middleware(rf, "GET", "/")


# --- through the client ---


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_unsafe_method_gets_the_503_page(client, method):
    response = getattr(client, method)("/things/")
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert '<p class="error-code">503</p>' in body
    assert "In maintenance" in body and 'class="site-header"' in body


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=False)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_unsafe_method_is_served_when_not_read_only(client, method):
    assert getattr(client, method)("/things/").content == b"written"


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
@pytest.mark.parametrize("url", ["/api/v1/links/", "/webhooks/github/"])
def test_api_and_webhook_writes_get_a_problem_document(client, url):
    response = client.post(url, data="{}", content_type="application/json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    problem = json.loads(response.content)
    assert problem["status"] == 503 and problem["title"] == "Service Unavailable"
    assert problem["type"] == "urn:torii:problem:read-only"
    assert "maintenance" in problem["detail"]


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
def test_reads_keep_working_when_read_only(client):
    assert client.get("/things/").status_code == 200
    assert client.get("/api/v1/links/").status_code == 200
    assert client.head("/things/").status_code == 200


@pytest.mark.django_db
@pytest.mark.urls("tests.test_read_only")
@override_switch("read_only", active=True)
def test_sign_in_and_out_stay_writable(client):
    assert client.post("/accounts/login/").content == b"written"
    assert client.post("/accounts/logout/").content == b"written"


# --- on the real site: the sign-in page, admin, the way back ---


@pytest.mark.django_db
@override_switch("read_only", active=True)
def test_signing_in_works_while_read_only(client):
    make_user("alice", "correct-horse-battery")
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


@pytest.mark.django_db
@override_switch("read_only", active=True)
def test_admin_saves_are_refused_but_the_switch_admin_works(client):
    from waffle import get_waffle_switch_model

    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    bob = make_user("bob")
    response = client.post(f"/admin/auth/user/{bob.pk}/change/", {"username": "robert"})
    assert response.status_code == 503
    switch = get_waffle_switch_model().objects.get(name="read_only")
    response = client.post(
        "/admin/waffle/switch/", {"action": "disable_switches", "_selected_action": [switch.pk]}
    )
    assert response.status_code == 302
    switch.refresh_from_db()
    assert switch.active is False


@pytest.mark.django_db
def test_the_read_only_switch_exists_and_is_off():
    import waffle
    from waffle import get_waffle_switch_model

    assert get_waffle_switch_model().objects.get(name="read_only").active is False
    assert waffle.switch_is_active("read_only") is False


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_every_page_says_read_only_while_the_switch_is_on(client, signed_in):
    """Before anyone fills a form in: the home page, the sign-in page, a 404."""
    if signed_in:
        client.force_login(make_user("alice"))
    pages = ["/", "/accounts/login/", "/no-such-link-here"] + (["/links/"] if signed_in else [])
    with override_switch("read_only", active=True):
        for url in pages:
            page = client.get(url).content.decode()
            assert 'id="read-only-notice"' in page, url
            assert "read-only for now: nothing can be changed" in page, url
    with override_switch("read_only", active=False):
        for url in pages:
            assert 'id="read-only-notice"' not in client.get(url).content.decode(), url
