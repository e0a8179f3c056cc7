"""Smart links in a real browser: rules edited with htmx, and a protected link's password
page with JavaScript off."""

import pytest

from shortener import links
from shortener.models import Link
from tests.conftest import make_link, make_user
from tests.e2e.test_links import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_rules_are_added_moved_and_removed_in_place(page):
    sign_in(page)
    owner = make_user("owner-of-rules")
    link = make_link(
        owner=Link.objects.model.owner.field.related_model.objects.get(username="erin")
    )
    del owner
    page.goto(link.get_absolute_url())
    page.evaluate("window.__marker = 'same page'")
    rules = page.locator("#rules")
    rules.get_by_label("Leads to").fill("https://m.example.com/")
    rules.get_by_label("Mobile").check()
    rules.get_by_role("button", name="Add rule").click()
    page.locator("#rules-status", has_text="Added rule 1.").wait_for(state="attached")
    assert page.locator("#rules-count").inner_text() == "1 rule"  # the panel, out of band
    page.locator("#rules").get_by_label("Leads to").fill("https://de.example.com/")
    page.locator("#rules").get_by_label("Browser language").fill("de")
    page.locator("#rules").get_by_role("button", name="Add rule").click()
    page.locator("#rules-status", has_text="Added rule 2.").wait_for(state="attached")
    page.get_by_role("button", name="Move rule 2 up").click()
    page.locator("#rules-status", has_text="Moved rule 2 up.").wait_for(state="attached")
    assert [rule["target"] for rule in Link.objects.get(pk=link.pk).rules] == [
        "https://de.example.com/",
        "https://m.example.com/",
    ]
    page.locator("#rules").get_by_label("Country").fill("Germany")
    page.locator("#rules").get_by_label("Leads to").fill("https://x.example.com/")
    page.locator("#rules").get_by_role("button", name="Add rule").click()
    page.locator("#rule-errors", has_text="is not a country code").wait_for()
    page.get_by_role("button", name="Remove rule 1").click()
    page.locator("#rules-status", has_text="Removed rule 1.").wait_for(state="attached")
    assert len(Link.objects.get(pk=link.pk).rules) == 1
    assert page.evaluate("window.__marker") == "same page"
    page.screenshot(path="data/screenshot-link-rules.png", full_page=True)
    # The refused rule's 422 is logged by the browser as a failed load; nothing else.
    assert [str(e) for e in page.console_errors if "422" not in str(e)] == []


def test_a_protected_link_asks_then_leads_there_without_javascript(page_without_js, live_server):
    owner = make_user("keeper")
    link = links.create({"target": "https://example.com/"}, actor=owner)
    links.edit(link, by=owner, password="open sesame")
    # The policy refuses local targets; this one is written directly to reach the live server.
    Link.objects.filter(pk=link.pk).update(target=f"{live_server.url}/healthz")
    page = page_without_js
    response = page.goto(f"/{link.slug}")
    assert response.status == 200 and "healthz" not in page.content()
    page.get_by_label("Password").fill("wrong")
    with page.expect_navigation() as wrong:
        page.get_by_role("button", name="Continue").click()
    assert wrong.value.status == 403
    assert "That password is not right" in page.content()
    page.get_by_label("Password").fill("open sesame")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/healthz")
    page.goto(f"/{link.slug}")  # the cookie: not asked again
    assert page.url == f"{live_server.url}/healthz"


def test_a_browser_that_keeps_no_cookie_still_follows_a_protected_link(
    page_without_js, live_server
):
    """Every cookie is dropped before the form is sent and after: the right password
    still leads there (303), and only the next click asks again."""
    owner = make_user("keeper")
    link = links.create({"target": "https://example.com/"}, actor=owner)
    links.edit(link, by=owner, password="open sesame")
    Link.objects.filter(pk=link.pk).update(target=f"{live_server.url}/healthz")
    page = page_without_js
    page.goto(f"/{link.slug}")
    assert page.context.cookies() == []  # the password page sets none
    page.get_by_label("Password").fill("open sesame")
    page.context.clear_cookies()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/healthz")
    page.context.clear_cookies()  # the unlock cookie, refused
    page.goto(f"/{link.slug}")
    assert page.get_by_label("Password").is_visible()
