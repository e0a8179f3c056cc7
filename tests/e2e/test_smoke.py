"""The home page loads in a real browser with htmx and no console errors."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_home_page_loads_with_htmx_and_no_console_errors(page):
    response = page.goto("/")
    assert response.status == 200
    assert page.title() == "Home · Torii"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.locator("h1").inner_text() == "Short links you can trust"
    page.wait_for_load_state("networkidle")
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_sign_in_in_the_browser(page):
    from tests.conftest import make_user

    make_user("carol", "a-long-enough-password")
    page.goto("/")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("a-long-enough-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("button", name="Sign out").is_visible()
    page.screenshot(path="data/screenshot-home.png", full_page=True)
    assert page.console_errors == []
