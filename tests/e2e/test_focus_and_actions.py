"""Used as a person would: focus after each htmx swap, copy buttons, the token page's
reload, sorting and bulk actions on the selected rows only."""

from datetime import timedelta

import pytest
from django.test import Client

from shortener.models import ApiToken, Link, LinkState
from tests.conftest import make_link, make_user, set_flag

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(page, live_server, username="erin", **extra):
    user = make_user(username, **extra)
    client = Client()
    client.force_login(user)
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value}
    page.context.add_cookies([{**cookie, "url": live_server.url}])
    return user


def focused(page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName.toLowerCase(), id: e.id, text: e.textContent.trim(),
                           invalid: e.getAttribute("aria-invalid"),
                           describedby: e.getAttribute("aria-describedby") || ""}; }"""
    )


def wait_for_focus_on(page, selector: str) -> None:
    page.wait_for_function(
        "s => document.activeElement && document.activeElement.matches(s)", arg=selector
    )


def test_a_refused_create_focuses_the_field_and_its_error(page, live_server):
    signed_in(page, live_server)
    page.goto("/")
    page.get_by_label("Destination").fill("javascript:alert(1)")
    page.get_by_role("button", name="Shorten").click()
    wait_for_focus_on(page, "#id_target")
    now = focused(page)
    assert now["invalid"] == "true"
    error_id = now["describedby"].split()[0]
    error = page.locator(f"#{error_id}").inner_text()
    assert "Links to javascript: addresses are not allowed" in error
    assert Link.objects.count() == 0


def test_a_create_announces_the_short_url_and_returns_to_the_form(page, live_server):
    signed_in(page, live_server)
    page.goto("/")
    page.get_by_label("Destination").fill("example.com/from-the-bar")
    page.get_by_role("button", name="Shorten").click()
    wait_for_focus_on(page, "#id_target")
    link = Link.objects.get()
    assert link.target == "https://example.com/from-the-bar"
    message = page.locator("#messages")
    short = link.short_url  # on the link's own domain, whichever host the page is on
    assert message.get_attribute("aria-live") == "polite"
    assert message.get_by_role("link", name=short).get_attribute("href") == short


def test_edit_focuses_the_form_and_save_says_saved_and_renames_the_page(page, live_server):
    user = signed_in(page, live_server)
    link = make_link(owner=user, title="Old title")
    page.goto(link.get_absolute_url())
    page.locator("#link-panel").get_by_role("link", name="Edit").click()
    wait_for_focus_on(page, "#link-panel form input:not([type=hidden])")
    assert focused(page)["id"] == "id_target"
    page.get_by_label("Title").fill("New title")
    page.get_by_role("button", name="Save").click()
    page.locator("#link-panel .facts").wait_for()
    wait_for_focus_on(page, "#link-panel a.button")  # back on Edit, where it started
    assert page.locator("#messages").inner_text() == "Saved. The short link is unchanged."
    assert page.locator("h1").inner_text() == "New title"
    assert page.title() == "New title · Torii"


def test_disable_in_a_row_keeps_focus_on_that_rows_new_control(page, live_server):
    user = signed_in(page, live_server)
    links = [make_link(owner=user, title=f"Row {n}") for n in range(3)]
    target = links[1]
    page.goto("/links/")
    row = page.locator(f"#link-row-{target.slug}")
    row.get_by_role("button", name=f"Disable {target.slug}").click()
    page.locator(f"#link-row-{target.slug}").get_by_role("button", name="Enable").wait_for()
    wait_for_focus_on(page, f"#link-row-{target.slug} button")
    assert focused(page)["text"] == f"Enable {target.slug}"
    assert page.locator("#messages").inner_text().startswith(f"Disabled {target.slug}")
    assert Link.objects.get(pk=target.pk).state == LinkState.DISABLED


def test_the_flag_boards_confirmation_takes_focus(page, live_server):
    set_flag("qr_codes", everyone=True, description="QR codes.")
    signed_in(page, live_server, "stella", is_staff=True)
    page.goto("/flags/")
    page.locator("#flag-qr_codes").get_by_role("button", name="Turn off for everyone").click()
    wait_for_focus_on(page, "#flag-qr_codes.confirming button")
    assert focused(page)["text"] == "Yes, turn off for everyone"
    page.keyboard.press("Enter")  # keyboard only
    page.locator("#flag-qr_codes:not(.confirming)").wait_for()
    wait_for_focus_on(page, "#flag-qr_codes button")
    assert "qr_codes is now" in page.locator("#messages").inner_text()
    # Cancel brings the row back and the focus with it.
    page.locator("#flag-qr_codes").get_by_role("button", name="Turn on for everyone").click()
    page.locator("#flag-qr_codes.confirming").get_by_role("link", name="Cancel").click()
    page.locator("#flag-qr_codes:not(.confirming)").wait_for()
    wait_for_focus_on(page, "#flag-qr_codes button")


def test_copy_buttons_put_the_short_url_on_the_clipboard(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    user = signed_in(page, live_server)
    link = make_link(owner=user, title="Copy me")
    short = link.short_url  # on the link's own domain, whichever host the page is on
    for path in (link.get_absolute_url(), "/links/", "/"):
        page.goto(path)
        page.evaluate("navigator.clipboard.writeText('')")
        button = page.locator(f'button[data-copy="{short}"]').first
        button.focus()
        page.keyboard.press("Enter")  # by keyboard
        copied = "b => b.textContent.startsWith('Copied')"
        page.wait_for_function(copied, arg=button.element_handle())
        assert page.evaluate("navigator.clipboard.readText()") == short
        # The link beside it goes to the short URL itself.
        assert page.locator(f'a.short-url[href="{short}"]').first.is_visible()
    page.goto("about:blank")
    context.close()


def test_a_token_page_reload_makes_no_second_token(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    user = signed_in(page, live_server)
    page.goto("/tokens/")
    page.get_by_label("Name").fill("deploy")
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    raw = page.locator("#new-token").inner_text()
    page.get_by_role("button", name="Copy the new token").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.length > 0)")
    assert page.evaluate("navigator.clipboard.readText()") == raw
    page.reload()
    assert page.locator("#new-token").count() == 0
    assert ApiToken.objects.filter(user=user).count() == 1
    page.goto("about:blank")
    context.close()


def test_a_scoped_expiring_token_is_made_without_javascript(page_without_js, live_server):
    page = page_without_js
    user = signed_in(page, live_server)
    page.goto("/tokens/")
    page.get_by_label("Name").fill("stats bot")
    page.get_by_label("Read links (links:read)").uncheck()
    page.get_by_label("Read statistics (stats:read)").check()
    page.get_by_label("30 days").check()
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    token = ApiToken.objects.get(user=user)
    assert token.scopes == ["stats:read"]
    assert token.expires_at - token.created_at == timedelta(days=30)
    row = page.locator(f"#token-{token.pk}")
    may = row.locator('[data-label="May"]').inner_text().splitlines()
    assert may == ["stats:read", f"in {token.workspace.name}"]  # the current one: personal
    assert token.workspace.personal_of == user
    assert (
        token.expires_at.strftime("%Y-%m-%d") in row.locator('[data-label="Expires"]').inner_text()
    )


def test_revoke_asks_in_place_and_focuses_the_confirmation(page, live_server):
    from shortener.tokens import personal as tokens

    user = signed_in(page, live_server)
    token, _ = tokens.issue(user, "old script")
    page.goto("/tokens/")
    page.get_by_role("link", name="Revoke… old script").click()
    wait_for_focus_on(page, f"#token-{token.pk} button")
    assert focused(page)["text"] == "Yes, revoke it"
    token.refresh_from_db()
    assert not token.is_revoked
    page.keyboard.press("Enter")
    page.locator(f"#token-{token.pk}:not(.confirming)").wait_for()
    assert "Revoked “old script”" in page.locator("#messages").inner_text()
    token.refresh_from_db()
    assert token.is_revoked


def test_revoke_without_javascript_asks_on_its_own_page(page_without_js, live_server):
    from shortener.tokens import personal as tokens

    page = page_without_js
    user = signed_in(page, live_server)
    token, _ = tokens.issue(user, "old script")
    page.goto("/tokens/")
    page.get_by_role("link", name="Revoke… old script").click()
    page.wait_for_url(f"**/tokens/{token.pk}/revoke/")
    page.get_by_role("button", name="Yes, revoke it").click()
    page.wait_for_url("**/tokens/")
    token.refresh_from_db()
    assert token.is_revoked


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_bulk_disable_changes_exactly_the_selected_rows(browser, live_server, javascript):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript)
    page = context.new_page()
    user = signed_in(page, live_server)
    links = [make_link(owner=user, title=f"Row {n}") for n in range(5)]
    chosen = {links[1].slug, links[3].slug}
    page.goto("/links/?sort=title")
    for slug in chosen:
        page.get_by_label(f"Select {slug}").check()
    page.get_by_label("With the selected links").select_option("disable")
    page.get_by_role("button", name="Apply to selected").click()
    page.wait_for_url("**/links/?sort=title")
    states = {link.slug: Link.objects.get(pk=link.pk).state for link in links}
    assert {slug for slug, state in states.items() if state == LinkState.DISABLED} == chosen
    assert "Disabled 2:" in page.locator("#messages").inner_text()
    page.goto("about:blank")
    context.close()


def test_bulk_delete_asks_once_and_keeps_the_others(page, live_server):
    user = signed_in(page, live_server)
    links = [make_link(owner=user, title=f"Row {n}") for n in range(3)]
    page.goto("/links/")
    page.get_by_label(f"Select {links[0].slug}").check()
    page.get_by_label("With the selected links").select_option("delete")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_role("button", name="Delete 1 for good").click()
    page.wait_for_url("**/links/")
    assert Link.objects.get(pk=links[0].pk).state == LinkState.DELETED
    assert all(Link.objects.get(pk=link.pk).state == LinkState.ACTIVE for link in links[1:])


def test_sorting_by_clicks_from_the_header(page, live_server):
    user = signed_in(page, live_server)
    for n, clicks in enumerate([5, 50, 0]):
        make_link(owner=user, title=f"Row {n}", visit_count_to=clicks)
    page.goto("/links/")
    page.get_by_role("link", name="Clicks").click()
    page.wait_for_url("**/links/?sort=-clicks")
    header = page.locator("th[aria-sort]")
    assert header.get_attribute("aria-sort") == "descending"
    titles = page.locator("tbody .link-title").all_inner_texts()
    assert titles == ["Row 1", "Row 0", "Row 2"]
    page.get_by_role("link", name="Clicks").click()
    page.wait_for_url("**/links/?sort=clicks")
    assert page.locator("tbody .link-title").all_inner_texts() == ["Row 2", "Row 0", "Row 1"]
