"""Error pages share the site's look and never show a traceback with DEBUG off."""

import re

import pytest
from django.http import HttpResponse
from django.test import Client
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


# What Django's own pages say (its CSRF page names DEBUG and settings.py; its debug
# pages show tracebacks and settings): never on a page of the site with DEBUG off.
DEBUG_WORDING = ("debug", "django", "traceback", "settings", "csrf_", "exception")


def bad_request(client, settings):
    return client.get("/", HTTP_HOST="attacker.example")  # DisallowedHost


def csrf_refused(client, settings):
    browser = Client(enforce_csrf_checks=True)  # no cookie, no token: as a script posts
    return browser.post(reverse("login"), {"username": "a", "password": "b"})


def not_found(client, settings):
    return client.get("/no/such/page/")


def wrong_method(client, settings):
    return client.post(reverse("healthz"))


def gone(client, settings):
    from tests.conftest import make_link

    return client.get(f"/{make_link(is_active=False).slug}")


def too_many(client, settings):
    from tests.conftest import per_day

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "default": per_day(1)}
    client.get("/no/such/page/")
    return client.get("/no/such/page/")


def server_error(client, settings):
    settings.ROOT_URLCONF = "tests.test_error_pages"
    client.raise_request_exception = False
    return client.get("/boom")


def read_only(client, settings):
    from waffle.testutils import override_switch

    with override_switch("read_only", active=True):
        return client.post(reverse("link-list"), {"target": "https://example.com/"})


def limiter_down(client, settings):
    from unittest import mock

    from config.ratelimit import middleware

    down = middleware.CacheUnavailable("refused")
    with mock.patch.object(middleware, "count", side_effect=down):
        return client.post(reverse("login"), {"username": "a", "password": "b"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fetch", "code", "heading"),
    [
        (bad_request, 400, "Bad request"),
        (csrf_refused, 403, "Form not accepted"),
        (not_found, 404, "Not found"),
        (wrong_method, 405, "Method not allowed"),
        (gone, 410, "disabled"),
        (too_many, 429, "Too many requests"),
        (server_error, 500, "Something went wrong"),
        (read_only, 503, "maintenance"),
        (limiter_down, 503, "Temporarily unavailable"),
    ],
)
def test_every_error_path_is_the_sites_page_without_debug_wording(
    client, settings, production, fetch, code, heading
):
    response = fetch(client, settings)
    body = response.content.decode()
    assert response.status_code == code
    assert f'<p class="error-code">{code}</p>' in body and heading in body
    assert '<link rel="stylesheet" href="/static/css/site.css">' in body
    text = re.sub(r'(src|href)="[^"]*"', "", body).lower()  # /static/django_htmx/ is a path
    found = [word for word in DEBUG_WORDING if word in text]
    assert not found, f"{code} page says {found}"


@pytest.mark.django_db
def test_a_refused_form_says_what_to_do(production):
    body = csrf_refused(None, None).content.decode()
    assert "allow cookies for this site, and send the form again" in body
