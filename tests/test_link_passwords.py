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


def unlock(client, link, password="open sesame", **extra):
    return client.post(f"/{link.slug}", {"password": password}, **extra)


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
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = browser.post(
        f"/{protected.slug}", {"password": "open sesame", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 303 and "sessionid" not in browser.cookies


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
