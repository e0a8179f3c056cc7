"""Personal API tokens: created on /tokens/, shown once, stored as a hash, used, revoked."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import ApiToken
from shortener.tokens import personal as tokens
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
NEVER_USED = '<td data-label="Last used"><span class="muted">never</span>'


def chosen(name: str, scopes=("links:read",), lifetime="90") -> dict:
    """What the form sends: a name, the ticked scopes, the lifetime's radio button."""
    return {"name": name, "scopes": list(scopes), "lifetime": lifetime}


def create_on_the_page(client, name="deploy script", **form) -> str:
    response = client.post("/tokens/", chosen(name, **form))
    assert response.status_code == 303 and response["Location"] == "/tokens/"
    shown = client.get("/tokens/")
    assert "no-store" in shown["Cache-Control"]
    return re.search(r'id="new-token">(torii_[^<]+)<', shown.content.decode()).group(1)


def test_create_redirects_and_a_reload_neither_shows_it_again_nor_makes_another(client):
    user = make_user()
    client.force_login(user)
    raw = create_on_the_page(client)
    page = client.get("/tokens/").content.decode()  # the reload: a GET, never a POST again
    assert raw not in page and 'id="new-token"' not in page
    assert ApiToken.objects.filter(user=user).count() == 1


def test_the_new_token_has_a_copy_button(client):
    client.force_login(make_user())
    client.post("/tokens/", chosen("ci"))
    body = client.get("/tokens/").content.decode()
    raw = re.search(r'id="new-token">(torii_[^<]+)<', body).group(1)
    assert f'data-copy="{raw}" hidden>' in body


def test_revoke_asks_first_on_a_page_of_its_own(client):
    user = make_user()
    client.force_login(user)
    token, _ = tokens.issue(user, "deploy")
    page = client.get(f"/tokens/{token.pk}/revoke/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Revoke this token?" in body and "Yes, revoke it" in body
    token.refresh_from_db()
    assert not token.is_revoked  # asking changes nothing


def test_revoke_with_htmx_confirms_in_the_row_then_swaps_the_row(client):
    user = make_user()
    client.force_login(user)
    token, _ = tokens.issue(user, "deploy")
    htmx = {"HX-Request": "true", "HX-Target": f"token-{token.pk}"}
    asking = client.get(f"/tokens/{token.pk}/revoke/", headers=htmx).content.decode()
    assert asking.lstrip().startswith(f'<tr id="token-{token.pk}" class="confirming">')
    assert "data-focus>Yes, revoke it" in asking
    done = client.post(f"/tokens/{token.pk}/revoke/", headers=htmx)
    assert done.content.decode().lstrip().startswith(f'<tr id="token-{token.pk}">')
    assert "Revoked" in done.content.decode()
    said = json.loads(done["HX-Trigger"])["announce"]["value"]
    assert said == "Revoked “deploy”: programs using it now get 401."
    token.refresh_from_db()
    assert token.is_revoked
    kept = client.get(f"/tokens/{token.pk}/", headers=htmx).content.decode()
    assert kept.lstrip().startswith(f'<tr id="token-{token.pk}">')


def test_the_page_needs_a_signed_in_user(client):
    assert client.get("/tokens/").status_code == 302
    assert client.post("/tokens/", chosen("x")).status_code == 302
    assert not ApiToken.objects.exists()


def test_nav_links_the_page_for_signed_in_users(client):
    assert 'href="/tokens/"' not in client.get("/").content.decode()
    client.force_login(make_user())
    assert 'href="/tokens/"' in client.get("/").content.decode()


def test_lifecycle_create_show_once_use_revoke(client):
    user = make_user()
    client.force_login(user)
    raw = create_on_the_page(client)
    token = ApiToken.objects.get(user=user)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(list(ApiToken.objects.values()))  # only the hash is stored
    listing = client.get("/tokens/").content.decode()
    assert raw not in listing and token.prefix in listing and NEVER_USED in listing

    with override_flag("api_v1", active=True):
        response = client.get("/api/v1/links", headers={"Authorization": f"Bearer {raw}"})
        assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert NEVER_USED not in client.get("/tokens/").content.decode()

    response = client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 303
    token.refresh_from_db()
    assert token.is_revoked
    with override_flag("api_v1", active=True):
        response = client.get("/api/v1/links", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert "Revoked" in client.get("/tokens/").content.decode()


def test_a_blank_name_is_422_and_creates_nothing(client):
    client.force_login(make_user())
    assert client.post("/tokens/", chosen("")).status_code == 422
    assert not ApiToken.objects.exists()


def test_nobody_revokes_someone_elses_token(client):
    token, _ = tokens.issue(make_user("bob"), "bob's")
    client.force_login(make_user())
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert client.get(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert client.get(f"/tokens/{token.pk}/").status_code == 404
    token.refresh_from_db()
    assert not token.is_revoked


def test_last_use_is_written_at_most_once_a_minute():
    token, raw = tokens.issue(make_user(), "busy")
    tokens.find(raw)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    tokens.find(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    tokens.find(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(seconds=1)
    assert ApiToken.objects.get(pk=token.pk).last_used_at <= timezone.now()


def test_session_sign_in_is_not_api_authentication(client):
    client.force_login(make_user())
    with override_flag("api_v1", active=True):
        assert client.get("/api/v1/links").status_code == 401


def test_staff_revoke_tokens_in_admin_but_never_see_or_make_one(client):
    token, raw = tokens.issue(make_user(), "laptop")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/shortener/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page and raw not in page and token.digest not in page
    assert client.get("/admin/shortener/apitoken/add/").status_code == 403
    listed = client.get("/admin/shortener/apitoken/").content.decode()
    assert "links:read" in listed and "stats:read" in listed  # its scopes, at a glance
    response = client.post(
        "/admin/shortener/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.is_revoked


def test_the_page_says_when_the_api_is_off_for_you(client):
    client.force_login(make_user())
    with override_flag("api_v1", active=False):
        page = client.get("/tokens/").content.decode()
    assert "not switched on" in page and "/api/v1/docs" not in page
    with override_flag("api_v1", active=True):
        page = client.get("/tokens/").content.decode()
    assert "not switched on" not in page and "/api/v1/docs" in page


def test_the_form_starts_with_reading_links_for_90_days(client):
    client.force_login(make_user())
    body = client.get("/tokens/").content.decode()
    assert 'value="links:read" id="id_scopes_0" checked>' in body
    for unticked in ("links:write", "stats:read", "webhooks:manage"):
        assert re.search(rf'value="{unticked}" id="id_scopes_\d">', body)
    assert 'value="90" required id="id_lifetime_1" checked>' in body
    assert "Never expires" in body and "30 days" in body and "A year (365 days)" in body


@pytest.mark.parametrize(
    ("lifetime", "lives"),
    [("30", timedelta(days=30)), ("90", timedelta(days=90)), ("365", timedelta(days=365))],
)
def test_a_token_gets_the_ticked_scopes_and_the_chosen_lifetime(client, lifetime, lives):
    user = make_user()
    client.force_login(user)
    create_on_the_page(client, scopes=["stats:read", "links:read"], lifetime=lifetime)
    token = ApiToken.objects.get(user=user)
    assert token.scopes == ["links:read", "stats:read"]  # stored in the catalogue's order
    assert abs(token.expires_at - (token.created_at + lives)) < timedelta(seconds=5)
    row = client.get("/tokens/").content.decode()
    assert (
        '<td data-label="May"><code>links:read</code>, <code>stats:read</code>'
        '<br><span class="muted">in your personal workspace</span></td>'
    ) in row
    assert token.expires_at.strftime("%Y-%m-%d %H:%M") in row


def test_a_token_that_never_expires(client):
    user = make_user()
    client.force_login(user)
    create_on_the_page(client, lifetime="never")
    assert ApiToken.objects.get(user=user).expires_at is None
    assert '<td data-label="Expires"><span class="muted">never</span></td>' in (
        client.get("/tokens/").content.decode()
    )


@pytest.mark.parametrize(
    ("form", "sentence"),
    [
        (chosen("ci", scopes=()), "Choose at least one thing the token may do."),
        (
            chosen("ci", scopes=("links:admin",)),
            "Select a valid choice. links:admin is not one of the available choices.",
        ),
        (
            chosen("ci", lifetime="forever"),
            "Select a valid choice. forever is not one of the available choices.",
        ),
        (chosen("ci", lifetime=""), "This field is required."),
    ],
    ids=["no-scope", "unknown-scope", "unknown-lifetime", "no-lifetime"],
)
def test_bad_choices_are_422_with_a_sentence_and_make_nothing(client, form, sentence):
    client.force_login(make_user())
    response = client.post("/tokens/", form)
    assert response.status_code == 422
    assert sentence in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_page_warns_a_week_before_a_token_expires(client):
    user = make_user()
    client.force_login(user)
    soon, _ = tokens.issue(user, "soon", lifetime=timedelta(days=6, hours=23))
    tokens.issue(user, "later", lifetime=timedelta(days=8))
    tokens.issue(user, "gone", lifetime=timedelta(days=-1))
    revoked, _ = tokens.issue(user, "revoked soon", lifetime=timedelta(days=2))
    revoked.revoke()
    body = client.get("/tokens/").content.decode()
    warning = re.search(
        r'<div class="message message-warning" role="status">(.*?)</div>', body, re.S
    )
    assert warning is not None
    said = warning.group(1)
    assert "A token expires within a week" in said
    assert f'<a href="#token-{soon.pk}">soon</a>' in said
    assert "later" not in said and "gone" not in said and "revoked soon" not in said
    assert re.search(r'class="badge state-expired">in 6\sdays, \d+\shours</span>', body)
    assert 'class="badge state-expired">Expired</span>' in body


def test_no_warning_when_nothing_expires_within_a_week(client):
    user = make_user()
    client.force_login(user)
    tokens.issue(user, "later", lifetime=timedelta(days=8))
    tokens.issue(user, "forever")
    assert "within a week" not in client.get("/tokens/").content.decode()
