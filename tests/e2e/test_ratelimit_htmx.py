"""In a real browser, a rate-limited htmx request shows its message in #messages."""

import pytest

from tests.conftest import per_day


@pytest.mark.django_db(transaction=True)
def test_a_refused_htmx_request_lands_in_the_messages_area(page, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "default": per_day(2)}
    page.goto("/")  # first request of two
    page.evaluate("fetch('/')")  # second
    page.wait_for_load_state("networkidle")
    page.evaluate("htmx.ajax('GET', '/', {target: 'main', swap: 'outerHTML'})")  # refused
    message = page.locator("#messages .message-error")
    message.wait_for()
    assert message.inner_text().startswith("Too many requests: try again in")
    assert page.locator("h1").inner_text() == "Short links you can trust"  # page intact
