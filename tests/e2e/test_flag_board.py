"""Staff flip a flag on the board in a real browser: with htmx (the row swaps) and without JS."""

import pytest
from django.test import Client

from flags.models import FeatureFlag, FlagChange
from tests.conftest import make_user, set_flag


def sign_in_as_staff(page, live_server):
    client = Client()
    client.force_login(make_user("stella", is_staff=True))
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


@pytest.mark.django_db(transaction=True)
def test_flipping_a_flag_on_the_board_with_htmx_swaps_only_its_row(page, live_server):
    set_flag(
        "custom_slugs", everyone=False, description="Choose your own slug.", contact="links team"
    )
    set_flag("qr_codes", everyone=True, description="A QR code on each link's page.")
    sign_in_as_staff(page, live_server)
    page.goto("/flags/")
    page.screenshot(path="data/screenshot-flag-board.png", full_page=True)
    page.evaluate("window.stillTheSamePage = true")

    row = page.locator("#flag-custom_slugs")
    row.get_by_role("button", name="Turn on for everyone").click()
    confirming = page.locator("#flag-custom_slugs.confirming")
    confirming.wait_for()
    assert "on for everyone" in confirming.inner_text()
    assert FeatureFlag.objects.get(name="custom_slugs").everyone is False  # not yet
    page.screenshot(path="data/screenshot-flag-board-confirm.png", full_page=True)

    confirming.get_by_role("button", name="Yes, turn on for everyone").click()
    page.locator("#flag-custom_slugs:not(.confirming)").wait_for()
    row = page.locator("#flag-custom_slugs")
    assert row.get_by_role("button", name="Turn off for everyone").is_visible()
    assert row.get_by_role("button", name="Turn on for everyone").count() == 0
    assert "on for everyone" in row.inner_text()
    assert "by stella" in row.inner_text()
    assert page.evaluate("window.stillTheSamePage") is True  # no full page load
    assert FeatureFlag.objects.get(name="custom_slugs").everyone is True
    assert FlagChange.objects.filter(name="custom_slugs").first().changed_by_name == "stella"
    page.wait_for_load_state("networkidle")
    assert page.console_errors == []
    page.reload()
    page.screenshot(path="data/screenshot-flag-board-after.png", full_page=True)


@pytest.mark.django_db(transaction=True)
def test_cancelling_the_confirmation_puts_the_row_back(page, live_server):
    set_flag("qr_codes", everyone=True)
    sign_in_as_staff(page, live_server)
    page.goto("/flags/")
    page.locator("#flag-qr_codes").get_by_role("button", name="Turn off for everyone").click()
    page.locator("#flag-qr_codes.confirming").get_by_role("link", name="Cancel").click()
    page.locator("#flag-qr_codes:not(.confirming)").wait_for()
    assert (
        page.locator("#flag-qr_codes").get_by_role("button", name="Turn off for everyone").count()
    )
    assert page.locator("#flag-qr_codes").count() == 1
    assert FeatureFlag.objects.get(name="qr_codes").everyone is True
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_a_percentage_out_of_range_shows_the_error_in_the_row(page, live_server):
    set_flag("custom_slugs", everyone=False)
    sign_in_as_staff(page, live_server)
    page.goto("/flags/")
    row = page.locator("#flag-custom_slugs")
    field = row.get_by_label("Percent of visitors for custom_slugs")
    field.evaluate("input => input.removeAttribute('max')")  # past the browser's own check
    field.fill("150")
    row.get_by_role("button", name="Roll out to %").click()
    alert = page.locator("#flag-custom_slugs.confirming").get_by_role("alert")
    alert.wait_for()
    assert "Nothing was changed" in alert.inner_text()
    assert FeatureFlag.objects.get(name="custom_slugs").percent is None


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_confirmation_is_a_page(page_without_js, live_server):
    page = page_without_js
    set_flag("custom_slugs", everyone=False)
    sign_in_as_staff(page, live_server)
    page.goto("/flags/")
    page.locator("#flag-custom_slugs").get_by_label("Percent of visitors").fill("25")
    page.locator("#flag-custom_slugs").get_by_role("button", name="Roll out to %").click()
    assert page.locator("h1").inner_text() == "Confirm the change"
    assert "on for 25 % of visitors" in page.locator("dl.facts").inner_text()
    page.get_by_role("button", name="Yes, roll out to a percentage").click()
    assert page.url.endswith("/flags/#flag-custom_slugs")
    assert "custom_slugs is now on for 25 % of visitors." in page.locator("#messages").inner_text()
    assert float(FeatureFlag.objects.get(name="custom_slugs").percent) == 25.0
