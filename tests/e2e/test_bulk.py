"""Bulk create in a real browser: the progress bar moves by htmx polling, and without
JavaScript the page refreshes itself until the results are there."""

import pytest

from shortener.models import BulkJob, Link
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password"


def sign_in(page, username):
    user = make_user(username, PASSWORD)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    return user


def finish(job):
    BulkJob.objects.filter(pk=job.pk).update(
        status="done",
        done=2,
        created=1,
        refused=1,
        results=[
            {
                "row": 1,
                "status": "created",
                "slug": "made",
                "target": "https://e.com/",
                "reason": "",
            },
            {"row": 2, "status": "refused", "slug": "", "target": "x", "reason": "Row 2: nope."},
        ],
    )


@pytest.mark.parametrize("js", [True, False], ids=["htmx", "no-js"])
def test_the_progress_page_follows_the_job_to_its_results(page, page_without_js, js):
    browser_page = page if js else page_without_js
    user = sign_in(browser_page, "bulky")
    job = BulkJob.objects.create(owner=user, format="lines", source=b"x", total=2, done=1)
    job.status = "running"
    job.save()
    browser_page.goto(f"/import/{job.pk}/")
    if js:
        browser_page.evaluate("window.__marker = 'same page'")
    assert browser_page.locator("progress").get_attribute("value") == "1"
    finish(job)
    browser_page.get_by_text("Download the results (CSV)").wait_for(timeout=10_000)
    assert "Row 2: nope." in browser_page.locator("#bulk-progress").inner_text()
    if js:
        assert browser_page.evaluate("window.__marker") == "same page"  # swapped, not reloaded
        assert page.console_errors == []


def test_pasting_lines_creates_links_and_shows_each_row(page):
    sign_in(page, "paster")
    page.goto("/links/")
    page.get_by_role("link", name="Bulk create or import").click()
    page.get_by_label("Links, one a line").fill("https://example.com/one\nnot a url\n")
    page.get_by_role("button", name="Create links").click()
    page.get_by_text("Download the results (CSV)").wait_for()
    text = page.locator("#bulk-progress").inner_text()
    assert "1 created" in text and "1 refused" in text and "Row 2:" in text
    assert Link.objects.get().target == "https://example.com/one"
    assert page.console_errors == []
