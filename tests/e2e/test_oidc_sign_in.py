"""Signing in through an OpenID Connect provider in a real browser with JavaScript off: the
sign-in page's button, the redirect to the provider (which the CSP's form-action must
allow, as Chromium applies it to a form's redirects) and the way back."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.oidc_provider import Provider, signing_in_through

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def provider():
    running = Provider()
    yield running
    running.stop()


def csp_allowing(origin: str) -> dict:
    """The site's policy as config/settings.py makes it with a provider configured."""
    csp = {directive: list(sources) for directive, sources in settings.SECURE_CSP.items()}
    csp["form-action"].append(origin)
    return csp


def test_signing_in_through_the_provider_without_javascript(page_without_js, live_server, provider):
    page = page_without_js
    with signing_in_through(
        provider, SITE_URL=live_server.url, SECURE_CSP=csp_allowing(provider.issuer)
    ):
        page.goto("/accounts/login/")
        page.get_by_role("button", name="Sign in with Test SSO").click()
        page.wait_for_url(f"{live_server.url}/")
        assert "Signed in with Test SSO as dana." in page.content()
        assert page.get_by_role("button", name="Sign out").is_visible()
    assert get_user_model().objects.get().email == "dana@example.com"


def test_without_the_provider_in_form_action_the_browser_does_not_go(
    page_without_js, live_server, provider
):
    """Why settings add the authorization endpoint's origin to form-action."""
    page = page_without_js
    with signing_in_through(provider, SITE_URL=live_server.url):
        page.goto("/accounts/login/")
        refused = lambda message: "form-action" in message.text  # noqa: E731
        with page.expect_console_message(refused, timeout=10_000):
            page.get_by_role("button", name="Sign in with Test SSO").click()
        assert "/authorize" not in provider.requests
    assert not get_user_model().objects.exists()
