"""Error pages share the site's look and never show a traceback with DEBUG off."""

import pytest
from django.http import HttpResponse
from django.urls import path, reverse


def boom(request):
    raise RuntimeError("secret internals")


def forbidden(request):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied


def bad(request):
    from django.core.exceptions import SuspiciousOperation

    raise SuspiciousOperation("no")


def ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("boom", boom),
    path("forbidden", forbidden),
    path("bad", bad),
    path("", ok, name="home"),
    path("accounts/login/", ok, name="login"),
    path("accounts/logout/", ok, name="logout"),
    path("accounts/password_change/", ok, name="password_change"),
    path("healthz", ok, name="healthz"),
]


@pytest.fixture
def production(settings):
    settings.DEBUG = False


def assert_site_page(response, code: int, heading: str):
    body = response.content.decode()
    assert response.status_code == code
    assert f'<p class="error-code">{code}</p>' in body
    assert heading in body
    assert 'class="site-header"' in body
    assert "Traceback" not in body


@pytest.mark.django_db
def test_unknown_path_gets_the_404_page(client, production):
    assert_site_page(client.get("/no/such/page/"), 404, "Not found")


@pytest.mark.django_db
def test_wrong_method_gets_the_405_page(client, production):
    assert_site_page(client.post(reverse("healthz")), 405, "Method not allowed")


@pytest.mark.django_db
@pytest.mark.urls("tests.test_error_pages")
def test_server_error_page_shows_no_traceback(client, production):
    client.raise_request_exception = False
    response = client.get("/boom")
    assert_site_page(response, 500, "Something went wrong")
    assert "secret internals" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.urls("tests.test_error_pages")
def test_permission_denied_gets_the_403_page(client, production):
    assert_site_page(client.get("/forbidden"), 403, "Forbidden")


@pytest.mark.django_db
@pytest.mark.urls("tests.test_error_pages")
def test_suspicious_request_gets_the_400_page(client, production):
    assert_site_page(client.get("/bad"), 400, "Bad request")


@pytest.mark.django_db
@pytest.mark.parametrize("code", [410, 429])
def test_gone_and_too_many_pages_render_in_the_site_look(rf, code):
    from django.template.loader import render_to_string

    body = render_to_string(f"{code}.html", request=rf.get("/"))
    assert f'<p class="error-code">{code}</p>' in body
    assert 'class="site-header"' in body
