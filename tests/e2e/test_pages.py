"""Every page at desktop (1280 px) and phone (360 px) width: nothing scrolls sideways,
and axe-core finds no violation. With TORII_SHOTS=<dir> each page is also photographed,
with and without JavaScript, for a person to look at.

axe-core comes from the npm registry (package.json, `npm ci` in `make test`); where it is
missing these tests skip, and under CI=true they fail.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from shortener.models import Link, Visit
from shortener.tokens import personal as tokens
from tests.conftest import make_link, make_user, set_flag

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": (1280, 800), "phone": (360, 740)}
SHOTS = os.environ.get("TORII_SHOTS", "")


def axe_path() -> Path:
    if not AXE.exists():
        message = f"axe-core not installed at {AXE}: run `npm ci` (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE


@pytest.fixture
def site(live_server):
    """A staff user with links in every state, visits, a token, and the features on."""
    for name in ("link_analytics", "qr_codes", "api_v1", "custom_slugs", "open_signup"):
        set_flag(name, everyone=True, description=f"{name} for the page tests.")
    staff = make_user("stella", is_staff=True)
    long_title = "A launch post with a title long enough to wrap on a phone screen"
    main = make_link(owner=staff, title=long_title, tags=["launch", "news"], slug="launch-post")
    make_link(owner=staff, title="Disabled one", is_active=False)
    make_link(
        owner=staff,
        target="https://example.com/" + "a-very-long-path-segment/" * 12 + "?query=" + "x" * 80,
        title="",
        tags=["a-rather-long-tag-name-for-wrapping"],
    )
    for n in range(4):
        make_link(owner=staff, title=f"Link {n}", visit_count_to=n * 7)
    now = timezone.now()
    Visit.objects.bulk_create(
        Visit(link=main, at=now - timedelta(days=n % 25), browser=("Firefox", "Chrome")[n % 2],
              os="Linux", device="desktop", referrer_host=f"site{n % 4}.example", visitor=str(n))
        for n in range(90)
    )  # fmt: skip
    token, _ = tokens.issue(staff, "deploy script")
    # one about to expire and one expired: the tokens page's warning and badges
    tokens.issue(staff, "nightly export", scopes=["links:read"], lifetime=timedelta(days=3))
    tokens.issue(staff, "old bot", scopes=["stats:read"], lifetime=timedelta(days=-2))
    client = Client()
    client.force_login(staff)
    return {
        "user": staff,
        "link": main,
        "token": token,
        "cookie": client.cookies["sessionid"].value,
        "url": live_server.url,
    }


def signed_in_pages(site) -> dict[str, str]:
    slug = site["link"].slug
    return {
        "home": "/",
        "links": "/links/",
        "links-sorted": "/links/?sort=-clicks&q=link",
        "link": f"/links/{slug}/",
        "edit": f"/links/{slug}/edit/",
        "delete": f"/links/{slug}/delete/",
        "stats": f"/links/{slug}/stats/",
        "preview": f"/{slug}+",
        "tokens": "/tokens/",
        "token-revoke": f"/tokens/{site['token'].pk}/revoke/",
        "flags": "/flags/",
        "audit": "/audit/",
        "audit-refused": "/audit/?since=someday",
        "password-change": "/accounts/password_change/",
        "not-found": "/links/?page=99",
    }


SIGNED_OUT = {
    "home-signed-out": "/",
    "sign-in": "/accounts/login/",
    "sign-up": "/accounts/signup/",
    "gone": "/no-such-link",
}


def context_for(
    browser, site, width: str, *, signed_in: bool, javascript: bool = True, scheme="light"
):
    w, h = WIDTHS[width]
    # axe is injected as a script: the site's CSP (rightly) forbids that, so only here
    # the browser is told to look past it.
    context = browser.new_context(
        base_url=site["url"],
        viewport={"width": w, "height": h},
        java_script_enabled=javascript,
        bypass_csp=True,
        color_scheme=scheme,
    )
    if signed_in:
        context.add_cookies([{"name": "sessionid", "value": site["cookie"], "url": site["url"]}])
    return context


def check_page(page, name: str, width: str, *, axe: bool = True) -> list[str]:
    problems = []
    page.wait_for_load_state("networkidle")
    scroll, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if scroll > viewport:
        problems.append(f"{name} at {width}: scrolls sideways ({scroll} > {viewport} px)")
    if axe:
        page.add_script_tag(path=str(axe_path()))
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                 .map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(", ")})`)"""
        )
        problems += [f"{name} at {width}: {violation}" for violation in violations]
    return problems


def shoot(page, name: str, width: str, suffix: str = "") -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}-{width}{suffix}.png", full_page=True)
    if width == "phone":  # a long phone page shrinks to nothing: also screen by screen
        w, h = WIDTHS[width]
        height = page.evaluate("document.documentElement.scrollHeight")
        for n in range(min(3, -(-height // h))):
            clip = {"x": 0, "y": n * h, "width": w, "height": min(h, height - n * h)}
            path = f"{SHOTS}/{name}-{width}{suffix}-{n}.png"
            page.screenshot(path=path, clip=clip, full_page=True)


@pytest.mark.parametrize(
    ("width", "scheme"), [("desktop", "light"), ("phone", "light"), ("phone", "dark")]
)
def test_every_page_fits_and_passes_axe(browser, site, width, scheme):
    """The dark theme (prefers-color-scheme) is checked too: its contrast is its own."""
    axe_path()
    problems = []
    suffix = "-dark" if scheme == "dark" else ""
    for signed_in, pages in ((True, signed_in_pages(site)), (False, SIGNED_OUT)):
        context = context_for(browser, site, width, signed_in=signed_in, scheme=scheme)
        page = context.new_page()
        for name, path in pages.items():
            page.goto(path)
            problems += check_page(page, f"{name}{suffix}", width)
            shoot(page, name, width, suffix)
        page.goto("about:blank")
        context.close()
    assert problems == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_fits_without_javascript(browser, site, width):
    problems = []
    context = context_for(browser, site, width, signed_in=True, javascript=False)
    page = context.new_page()
    for name, path in signed_in_pages(site).items():
        page.goto(path)
        problems += check_page(page, name, width, axe=False)
        assert page.locator("button[data-copy]:visible").count() == 0  # no dead Copy button
        shoot(page, name, width, "-nojs")
    context.close()
    assert problems == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_swapped_states_pass_axe_too(browser, site, width):
    """What htmx swaps in (an edit form, a confirmation row, a refused form) is checked too."""
    axe_path()
    context = context_for(browser, site, width, signed_in=True)
    page = context.new_page()
    problems = []
    page.goto(f"/links/{site['link'].slug}/")
    page.locator("#link-panel").get_by_role("link", name="Edit").click()
    page.locator("#link-panel form").wait_for()
    problems += check_page(page, "edit-in-place", width)
    shoot(page, "edit-in-place", width)
    page.goto("/flags/")
    page.locator("#flag-qr_codes").get_by_role("button", name="Turn off for everyone").click()
    page.locator("#flag-qr_codes.confirming").wait_for()
    problems += check_page(page, "flag-confirming", width)
    shoot(page, "flag-confirming", width)
    page.goto("/")
    page.get_by_label("Destination").fill("javascript:alert(1)")
    page.get_by_role("button", name="Shorten").click()
    page.locator("#create-form .errorlist").wait_for()
    problems += check_page(page, "create-refused", width)
    shoot(page, "create-refused", width)
    # A long refused tag is quoted in the error: it must wrap, not widen the page.
    page.locator("#create-form summary").click()
    page.get_by_label("Tags").fill("x" * 99 + "!")
    page.get_by_label("Destination").fill("https://example.com/ok")
    page.get_by_role("button", name="Shorten").click()
    page.locator("#create-form .errorlist").wait_for()
    problems += check_page(page, "long-bad-tag", width)
    shoot(page, "long-bad-tag", width)
    if not page.get_by_label("Tags").is_visible():  # the refused form opens its options
        page.locator("#create-form summary").click()
    page.get_by_label("Tags").fill("")
    page.get_by_label("Destination").fill("example.com/" + "tag" * 10)
    page.get_by_role("button", name="Shorten").click()
    page.locator("#messages .short-url").wait_for()
    problems += check_page(page, "created", width)
    shoot(page, "created", width)
    page.goto("about:blank")
    context.close()
    assert problems == []
    assert Link.objects.filter(target="https://example.com/" + "tag" * 10).exists()
