"""Staff filter the audit log in a real browser: with htmx only the entries swap and the
address follows; without JavaScript the same form loads the filtered page."""

import pytest
from django.test import Client

from shortener.audit.models import Action, Kind
from shortener.audit.recording import record
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def seeded_staff(page, live_server):
    stella = make_user("stella", is_staff=True)
    record(Action.CREATED, Kind.LINK, 1, "Created launch-post.", actor=stella)
    record(Action.CREATED, Kind.DOMAIN, 2, "Added the domain go.example.", actor=stella)
    client = Client()
    client.force_login(stella)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_filtering_with_htmx_swaps_only_the_entries_and_keeps_the_address(page, live_server):
    seeded_staff(page, live_server)
    page.goto("/")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/audit/")
    assert "Created launch-post." in page.inner_text("#audit-entries")
    page.evaluate("window.stillTheSamePage = true")

    page.select_option("#audit-kind", "domain")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*kind=domain*")
    entries = page.locator("#audit-entries")
    entries.get_by_text("1 entry match.").wait_for()
    assert "Added the domain go.example." in entries.inner_text()
    assert "Created launch-post." not in entries.inner_text()
    assert page.evaluate("window.stillTheSamePage") is True  # no full page load
    assert "kind=domain" in entries.get_by_role("link", name="Export these as CSV").get_attribute(
        "href"
    )
    assert page.console_errors == []


def test_without_javascript_the_filter_loads_the_filtered_page(page_without_js, live_server):
    page = page_without_js
    seeded_staff(page, live_server)
    page.goto("/audit/")
    page.select_option("#audit-kind", "link")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*kind=link*")
    body = page.inner_text("#audit-entries")
    assert "Created launch-post." in body and "go.example" not in body
