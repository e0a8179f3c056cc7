"""Production posture: CSP with a script nonce, htmx served locally, CSRF through hx-headers."""

import re

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_home_sends_a_nonce_based_csp(client):
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if "script-src" in part)
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    assert "unsafe-inline" not in script_src
    body = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts, "the page loads htmx"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts)


@pytest.mark.django_db
def test_htmx_comes_from_our_own_static_files(client):
    body = client.get(reverse("home")).content.decode()
    src = re.search(r'<script[^>]*src="([^"]+)"', body).group(1)
    assert src.startswith("/static/") and "htmx" in src


@pytest.mark.django_db
def test_htmx_sends_the_csrf_token_from_body(client):
    response = client.get(reverse("home"))
    token = response.cookies["csrftoken"].value if "csrftoken" in response.cookies else None
    match = re.search(
        r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", response.content.decode()
    )
    assert match, "body carries hx-headers with the CSRF token"
    assert token is not None and len(match.group(1)) == 64


@pytest.mark.django_db
def test_clickjacking_and_sniffing_headers(client):
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_foreign_host_header_is_a_400_and_one_log_line_without_a_traceback():
    import io
    import logging

    from django.test import Client

    client = Client(raise_request_exception=False)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("django.security.DisallowedHost")
    logger.addHandler(handler)
    try:
        response = client.get("/", HTTP_HOST="evil.example")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 400
    assert "Invalid HTTP_HOST header: 'evil.example'" in stream.getvalue()
    assert "Traceback" not in stream.getvalue()


def test_the_host_check_must_be_the_first_middleware(settings):
    from config.apps import HOST_MIDDLEWARE, READS_NO_HOST, check_host_middleware

    # Only what reads no Host (the metrics' and the access log's timing) comes before it.
    outer = [m for m in settings.MIDDLEWARE[: settings.MIDDLEWARE.index(HOST_MIDDLEWARE)]]
    assert settings.ALLOWED_HOSTS[0] == "*" and set(outer) <= set(READS_NO_HOST)
    assert check_host_middleware() == []
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware", *settings.MIDDLEWARE]
    (error,) = check_host_middleware()
    assert error.id == "site.E001"
    settings.MIDDLEWARE = settings.MIDDLEWARE[1:]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != HOST_MIDDLEWARE]
    (error,) = check_host_middleware()
    assert error.id == "site.E001" and "nothing would check the Host header" in error.msg
