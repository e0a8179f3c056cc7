"""Password-protected links: the page on the short URL, wrong and right passwords, the
link's own cookie, and nothing revealing the destination to anyone but owner and staff."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from waffle.testutils import override_flag

from shortener import links
from shortener.links import passwords
from shortener.models import Link, Visit
from tests.api_client import ApiClient
from tests.conftest import flush_visits, make_link, make_user

pytestmark = pytest.mark.django_db

SECRET_TARGET = "https://secret.example/plans"


@pytest.fixture
def owner():
    return make_user("olga")


@pytest.fixture
def protected(owner):
    link = links.create({"target": SECRET_TARGET}, actor=owner)
    return links.edit(link, by=owner, password="open sesame")


def page_token(link) -> str:
    """The form token the password page gives a browser that has no cookie at all."""
    page = Client().get(f"/{link.slug}")
    return re.search(r'name="form_token" value="([^"]+)"', page.content.decode())[1]


def unlock(client, link, password="open sesame", token=None, **extra):
    token = page_token(link) if token is None else token
    return client.post(f"/{link.slug}", {"password": password, "form_token": token}, **extra)


def test_the_password_is_stored_hashed_and_never_shown(protected):
    stored = Link.objects.get(pk=protected.pk).password
    assert stored and "open sesame" not in stored and stored.startswith("md5$")


def test_following_shows_the_password_page_without_the_destination(client, protected):
    response = client.get(f"/{protected.slug}")
    body = response.content.decode()
    assert response.status_code == 200 and "Location" not in response
    assert 'name="password"' in body and "secret.example" not in body
    assert "no-store" in response["Cache-Control"]
    assert "sessionid" not in response.cookies  # no session for a visitor
    flush_visits()
    assert Visit.objects.count() == 0


def test_head_never_reveals_the_destination(client, protected):
    response = client.head(f"/{protected.slug}")
    assert response.status_code == 200 and "Location" not in response


def test_a_wrong_password_is_403_with_the_form_and_counted(client, protected):
    response = unlock(client, protected, "guess")
    body = response.content.decode()
    assert response.status_code == 403 and "That password is not right" in body
    assert 'name="password"' in body and "secret.example" not in body
    assert passwords.COOKIE_NAME not in response.cookies
    assert Link.objects.get(pk=protected.pk).password_failures == 1
    unlock(client, protected, "")
    assert Link.objects.get(pk=protected.pk).password_failures == 2


def test_the_right_password_redirects_counts_and_sets_a_cookie_for_this_link_only(
    client, protected
):
    response = unlock(client, protected)
    assert response.status_code == 303 and response["Location"] == SECRET_TARGET
    cookie = response.cookies[passwords.COOKIE_NAME]
    assert cookie["path"] == f"/{protected.slug}" and cookie["httponly"]
    assert int(cookie["max-age"]) <= 3600
    # A refresh is not asked again: the cookie opens the hot path.
    again = client.get(f"/{protected.slug}")
    assert again.status_code == 302 and again["Location"] == SECRET_TARGET
    assert again["Cache-Control"] == "private, max-age=0"
    flush_visits()
    assert Visit.objects.filter(link=protected).count() == 2


def test_the_form_works_with_csrf_checks_and_no_session(protected):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/{protected.slug}")
    token = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())[1]
    response = browser.post(f"/{protected.slug}", {"password": "open sesame", "form_token": token})
    assert response.status_code == 303 and "sessionid" not in browser.cookies


def test_a_browser_that_refuses_cookies_follows_with_the_right_password(protected):
    """The page sets no cookie and the form needs none: the redirect is the answer, and
    the unlock cookie (refused here) is only a convenience for the next click."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/{protected.slug}")
    assert not page.cookies  # no CSRF cookie, no session: nothing to refuse
    token = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())[1]
    browser.cookies.clear()
    response = browser.post(f"/{protected.slug}", {"password": "open sesame", "form_token": token})
    assert response.status_code == 303 and response["Location"] == SECRET_TARGET
    browser.cookies.clear()  # the unlock cookie refused: asked again next time
    again = browser.get(f"/{protected.slug}")
    assert again.status_code == 200 and "secret.example" not in again.content.decode()
    flush_visits()
    assert Visit.objects.filter(link=protected).count() == 1


def assert_reveals_nothing(response):
    body = response.content.decode()
    assert "secret.example" not in body and "Location" not in response
    assert "secret.example" not in str(response.headers)
    assert passwords.COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "token",
    [
        None,  # no token at all: a form posted from elsewhere
        "",
        "forged",
        "password-form:1vXyZq:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x" * 5000,
    ],
)
def test_a_form_without_a_good_token_is_asked_again_and_the_password_not_tried(protected, token):
    browser = Client(enforce_csrf_checks=True)
    data = {"password": "open sesame"} | ({} if token is None else {"form_token": token})
    response = browser.post(f"/{protected.slug}", data)
    assert response.status_code == 403
    assert "This form was open too long, or did not come from this page" in (
        response.content.decode()
    )
    assert 'name="form_token"' in response.content.decode()  # a fresh one, to type again
    assert_reveals_nothing(response)
    assert Link.objects.get(pk=protected.pk).password_failures == 0
    flush_visits()
    assert Visit.objects.count() == 0


def test_a_token_is_worth_nothing_for_another_link_after_a_new_password_or_a_day(
    client, owner, protected, monkeypatch
):
    other = links.edit(
        links.create({"target": "https://other.example/"}, actor=owner),
        by=owner,
        password="open sesame",
    )
    token = page_token(protected)
    assert unlock(client, other, token=token).status_code == 403
    stored = Link.objects.get(pk=protected.pk).password
    assert passwords.form_token_holds(token, protected.pk, stored)
    import time

    later = time.time() + passwords.FORM_SECONDS + 1
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert not passwords.form_token_holds(token, protected.pk, stored)
    monkeypatch.undo()
    links.edit(protected, by=owner, password="new one")
    from shortener.redirect.lookup import forget_lookups

    forget_lookups()
    response = unlock(Client(), protected, "new one", token=token)
    assert response.status_code == 403 and "open too long" in response.content.decode()


def test_the_same_form_sent_twice_redirects_twice_and_counts_twice(settings, protected):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link-password": per_minute(2)}
    token = page_token(protected)
    answers = [unlock(Client(), protected, token=token) for _ in range(3)]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert_reveals_nothing(answers[2])


def test_a_hundred_posts_hold_the_password_limit_and_reveal_nothing(settings, protected):
    """Forged tokens, no cookie, wrong and right passwords from one address: the
    `link-password` limit (10 a minute by default) counts them all alike."""
    token = page_token(protected)
    answers = []
    for n in range(100):
        kind = n % 4
        data = {"password": "open sesame" if kind == 3 else f"guess {n}"}
        if kind != 0:
            data["form_token"] = token if kind >= 2 else f"forged-{n}"
        answers.append(Client(enforce_csrf_checks=True).post(f"/{protected.slug}", data))
    codes = [answer.status_code for answer in answers]
    limit = settings.RATE_LIMITS["link-password"].limit
    assert all(code != 429 for code in codes[:limit]) and set(codes[limit:]) == {429}
    # Past the limit even the right password is refused, and nothing says where it leads.
    assert codes[11] == 429 and codes[3] == 303
    for answer in answers:
        if answer.status_code != 303:
            assert_reveals_nothing(answer)
    # Only posts with a good token were tried: of the first ten, n = 2 and 6.
    assert Link.objects.get(pk=protected.pk).password_failures == 2


def test_a_cookie_is_worth_nothing_for_another_link_or_after_a_new_password(
    client, owner, protected
):
    other = links.edit(
        links.create({"target": "https://other.example/"}, actor=owner),
        by=owner,
        password="open sesame",
    )
    value = unlock(client, protected).cookies[passwords.COOKIE_NAME].value
    client.cookies[passwords.COOKIE_NAME] = value
    assert client.get(f"/{other.slug}").status_code == 200  # asked
    links.edit(protected, by=owner, password="new one")
    from shortener.redirect.lookup import forget_lookups

    forget_lookups()
    assert client.get(f"/{protected.slug}").status_code == 200  # asked again


def test_a_cookie_older_than_an_hour_is_worth_nothing(protected, monkeypatch):
    stored = Link.objects.get(pk=protected.pk).password
    value = passwords.cookie_value(protected.pk, stored)
    assert passwords.unlocked(value, protected.pk, stored)
    import time

    later = time.time() + 3601
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert not passwords.unlocked(value, protected.pk, stored)
    assert not passwords.unlocked("forged:cookie:value", protected.pk, stored)


def test_the_password_comes_before_every_rule(client, owner, protected):
    links.edit(
        protected,
        by=owner,
        rules=[{"target": "https://mobile.example/", "when": {"device": ["mobile"]}}],
    )
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    response = client.get(f"/{protected.slug}", HTTP_USER_AGENT=iphone)
    assert response.status_code == 200 and "Location" not in response
    response = unlock(client, protected, HTTP_USER_AGENT=iphone)
    assert response["Location"] == "https://mobile.example/"


def test_a_post_to_an_open_link_or_no_link_reveals_nothing_new(client):
    open_link = make_link()
    assert client.post(f"/{open_link.slug}", {"password": "x"}).status_code == 405
    assert client.post("/NoSuchLink", {"password": "x"}).status_code == 404


def test_guesses_are_rate_limited_per_link(client, settings, protected):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link-password": per_minute(3)}
    answers = [
        unlock(client, protected, "guess", REMOTE_ADDR=f"203.0.113.{n}").status_code
        for n in range(5)
    ]
    assert answers == [403, 403, 403, 429, 429]
    assert Link.objects.get(pk=protected.pk).password_failures == 3


def test_guesses_are_rate_limited_per_address(client, settings, owner, protected):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link-password": per_minute(2)}
    second = links.edit(
        links.create({"target": "https://b.example/"}, actor=owner), by=owner, password="pw"
    )
    assert unlock(client, protected, "guess").status_code == 403
    assert unlock(client, second, "guess").status_code == 403
    assert unlock(client, second, "guess").status_code == 429


def per_minute(n):
    from config.ratelimit.rates import Rate

    return Rate(n, 60)


def test_the_preview_hides_the_destination_from_strangers_only(client, owner, protected):
    stranger = client.get(reverse("preview", args=[protected.slug])).content.decode()
    assert "secret.example" not in stranger and "protected by a password" in stranger
    client.force_login(owner)
    assert (
        "secret.example" in client.get(reverse("preview", args=[protected.slug])).content.decode()
    )
    client.force_login(make_user("staffer", is_staff=True))
    assert (
        "secret.example" in client.get(reverse("preview", args=[protected.slug])).content.decode()
    )


def test_qr_codes_stats_and_the_page_are_the_owners_and_staffs_only(client, owner, protected):
    client.force_login(make_user("mallory"))
    with override_flag("qr_codes", active=True), override_flag("link_analytics", active=True):
        for name in ("link-detail", "link-stats"):
            assert client.get(reverse(name, args=[protected.slug])).status_code == 404
        assert client.get(reverse("link-qr", args=[protected.slug, "svg"])).status_code == 404


def test_the_api_says_protected_and_never_gives_the_password(client, owner, protected):
    doc = ApiClient(client, owner).get(f"/api/v1/links/{protected.slug}").json()
    assert doc["password_protected"] is True and "password" not in doc
    assert "open sesame" not in str(doc) and Link.objects.get(pk=protected.pk).password not in str(
        doc
    )
    assert (
        ApiClient(client, make_user("mallory")).get(f"/api/v1/links/{protected.slug}").status_code
        == 404
    )


def test_the_api_sets_and_removes_a_password(client, owner):
    api = ApiClient(client, owner)
    created = api.post("/api/v1/links", {"target": "https://a.example/", "password": "pw"}).json()
    assert created["password_protected"] is True
    assert client.get(f"/{created['slug']}").status_code == 200
    patched = api.patch(f"/api/v1/links/{created['slug']}", {"password": None}).json()
    assert patched["password_protected"] is False


def test_the_edit_form_sets_keeps_and_removes_the_password(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    form = {"target": link.target, "redirect_code": "302", "forward_query": "off"}
    client.post(reverse("link-edit", args=[link.slug]), {**form, "password": "pw"})
    stored = Link.objects.get(pk=link.pk).password
    assert stored
    client.post(reverse("link-edit", args=[link.slug]), {**form, "password": ""})
    assert Link.objects.get(pk=link.pk).password == stored  # empty box: kept
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert "visitors must type it" in page
    client.post(reverse("link-edit", args=[link.slug]), {**form, "remove_password": "on"})
    assert Link.objects.get(pk=link.pk).password == ""


def test_protected_links_can_be_followed_in_maintenance(client, protected):
    from waffle.testutils import override_switch

    with override_switch("read_only", active=True):
        response = unlock(client, protected)
    assert response.status_code == 303 and response["Location"] == SECRET_TARGET
