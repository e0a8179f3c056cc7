"""Signing in with an OpenID Connect provider: a real provider on loopback
(tests/oidc_provider.py), the whole flow through Django's test client, and every answer
the site must refuse refused with its status and sentence, writing nothing."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import NoReverseMatch, reverse

from tests.conftest import make_user
from tests.oidc_provider import CLIENT_ID, Provider, new_key, signing_in_through

User = get_user_model()


@pytest.fixture(scope="module")
def provider():
    running = Provider()
    yield running
    running.stop()


@pytest.fixture
def oidc(provider):
    with signing_in_through(provider):
        yield provider


def start(client, next_url="/links/"):
    """The sign-in button, then the browser at the provider: the callback URL it is sent to."""
    response = client.post(reverse("oidc-start"), {"next": next_url})
    assert response.status_code == 303
    at_provider = requests.get(response["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    return f"{back.path}?{back.query}"


def signed_in_sessions() -> list[dict]:
    return [s.get_decoded() for s in Session.objects.all() if "_auth_user_id" in s.get_decoded()]


# --- off unless configured ---


@pytest.mark.django_db
def test_unconfigured_there_is_no_button_and_no_url(client):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page
    with pytest.raises(NoReverseMatch):
        reverse("oidc-start")
    assert client.post("/accounts/oidc/start/").status_code == 404
    assert client.get("/accounts/oidc/callback/?state=x&code=y").status_code == 404


@pytest.mark.django_db
def test_configured_the_sign_in_page_has_a_plain_form_for_the_provider(client, oidc):
    page = client.get(reverse("login") + "?next=/links/").content.decode()
    assert f'action="{reverse("oidc-start")}"' in page
    assert "Sign in with Test SSO</button>" in page
    assert 'name="next" value="/links/"' in page


@pytest.mark.django_db
def test_starting_is_a_post_only(client, oidc):
    assert client.get(reverse("oidc-start")).status_code == 405


@pytest.mark.django_db
def test_start_sends_state_nonce_and_pkce_to_the_discovered_endpoint(client, oidc):
    response = client.post(reverse("oidc-start"))
    target = urlsplit(response["Location"])
    asked = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{oidc.issuer}/authorize"
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"].endswith("/accounts/oidc/callback/")
    assert asked["scope"] == "openid email profile"
    assert asked["code_challenge_method"] == "S256"
    saved = client.session["oidc_states"][asked["state"]]
    assert saved["nonce"] == asked["nonce"] and saved["code_verifier"]


# --- a verified e-mail address maps to an account ---


@pytest.mark.django_db
def test_a_new_person_gets_an_account_named_for_their_address_and_is_signed_in(client, oidc):
    oidc.claims.update(email="Dana.Scully@Example.com", groups=["torii-admins"], is_staff=True)
    response = client.get(start(client, "/links/"), follow=True)
    assert response.redirect_chain[0] == ("/links/", 302)
    assert "Signed in with Test SSO as dana.scully." in response.content.decode()
    user = User.objects.get()
    assert (user.username, user.email) == (
        "dana.scully",
        "Dana.Scully@example.com",
    )  # domain lowercased by Django
    assert not user.is_staff and not user.is_superuser and not user.has_usable_password()
    assert int(client.session["_auth_user_id"]) == user.pk


@pytest.mark.django_db
def test_several_audiences_are_accepted_when_azp_names_this_site(client, oidc):
    oidc.next_token = {"aud": [CLIENT_ID, "an-api"], "azp": CLIENT_ID}
    assert client.get(start(client)).status_code == 302
    assert User.objects.get().email == "dana@example.com"


@pytest.mark.django_db
def test_an_existing_account_with_that_address_any_case_signs_in(client, oidc):
    existing = make_user("fox", email="DANA@example.COM")
    oidc.claims.update(is_staff=True, is_superuser=True)
    client.get(start(client))
    assert User.objects.count() == 1
    assert int(client.session["_auth_user_id"]) == existing.pk
    existing.refresh_from_db()
    assert not existing.is_staff and not existing.is_superuser
    assert existing.check_password("correct-horse-battery")  # the password still works


@pytest.mark.django_db
def test_staff_keep_their_rights_and_the_provider_adds_none(client, oidc):
    make_user("boss", email="dana@example.com", is_staff=True)
    client.get(start(client))
    assert User.objects.get().is_staff  # unchanged, neither granted nor taken


@pytest.mark.django_db
def test_a_taken_username_gets_the_next_number(client, oidc):
    make_user("dana", email="someone-else@example.org")
    client.get(start(client))
    assert User.objects.get(email="dana@example.com").username == "dana-2"


@pytest.mark.django_db
def test_next_pointing_elsewhere_is_dropped(client, oidc):
    response = client.get(start(client, "https://evil.example/"))
    assert response["Location"] == reverse("home")


# --- bad input: each refused with a status and a sentence, nothing written ---


def expired(provider):
    provider.next_token = {"iat": 1_000_000_000, "exp": 1_000_000_300}


def other_key(provider):
    provider.sign_with = new_key()


def unknown_key(provider):
    provider.header = {"kid": "not-published"}


def symmetric(provider):
    provider.sign_with = "HS256"


REFUSALS = [
    (
        "wrong audience",
        lambda p: p.next_token.update(aud="another-client"),
        403,
        "The ID token was issued for another application",
    ),
    (
        "shared audience, another party",
        lambda p: p.next_token.update(aud=[CLIENT_ID, "another-client"], azp="another-client"),
        403,
        "names several audiences and was not issued to this site",
    ),
    (
        "wrong issuer",
        lambda p: p.next_token.update(iss="https://evil.example"),
        403,
        "The ID token was issued by another issuer than",
    ),
    ("bad signature", other_key, 403, "The ID token&#x27;s signature does not match"),
    ("unpublished key", unknown_key, 403, "signed with a key that Test SSO does not publish"),
    ("HS256 with the secret", symmetric, 403, "The ID token is not signed with RS256."),
    ("expired", expired, 403, "The ID token has expired: sign in again."),
    ("no nonce", lambda p: p.next_token.update(nonce=None), 403, "carries no nonce"),
    (
        "wrong nonce",
        lambda p: p.next_token.update(nonce="x" * 32),
        403,
        "nonce is not this sign-in",
    ),
    ("no subject", lambda p: p.next_token.update(sub=None), 403, "The ID token has no sub claim."),
    (
        "unverified e-mail",
        lambda p: p.next_token.update(email_verified=False),
        403,
        "The provider has not verified the e-mail address dana@example.com",
    ),
    (
        "e-mail verification not said",
        lambda p: p.next_token.update(email_verified=None),
        403,
        "The provider has not verified the e-mail address",
    ),
    (
        "verified as a string",
        lambda p: p.next_token.update(email_verified="true"),
        403,
        "The provider has not verified the e-mail address",
    ),
    ("no e-mail", lambda p: p.next_token.update(email=None), 403, "sent no e-mail address"),
    (
        "provider refuses",
        lambda p: setattr(p, "authorize_error", {"error": "access_denied"}),
        403,
        "Test SSO refused the sign-in (access_denied).",
    ),
    (
        "provider unwell",
        lambda p: setattr(
            p, "authorize_error", {"error": "server_error", "error_description": "down"}
        ),
        502,
        "Test SSO refused the sign-in (server_error: down).",
    ),
    (
        "token endpoint refuses the code",
        lambda p: setattr(p, "token_error", (400, {"error": "invalid_grant"})),
        403,
        "Test SSO refused to exchange the sign-in code (invalid_grant).",
    ),
    (
        "token endpoint fails",
        lambda p: setattr(p, "token_error", (500, {})),
        502,
        "Test SSO&#x27;s token endpoint failed (HTTP 500).",
    ),
    (
        "token answer without an ID token",
        lambda p: setattr(p, "token_error", (200, {"access_token": "a"})),
        502,
        "answered without an ID token",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("spoil", "status", "sentence"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_bad_answer_is_refused_and_writes_nothing(client, oidc, spoil, status, sentence):
    spoil(oidc)
    response = client.get(start(client))
    assert response.status_code == status
    assert sentence in response.content.decode()
    assert User.objects.count() == 0
    assert signed_in_sessions() == []
    assert client.session["oidc_states"] == {}  # the state is spent either way


@pytest.mark.django_db
def test_a_replayed_answer_is_refused(client, oidc):
    callback = start(client)
    assert client.get(callback).status_code == 302
    client.post(reverse("logout"))
    users = User.objects.count()
    again = client.get(callback)
    assert again.status_code == 400
    assert "was used already" in again.content.decode()
    assert User.objects.count() == users and signed_in_sessions() == []


@pytest.mark.django_db
def test_an_answer_in_another_browser_is_refused(client, oidc, django_user_model):
    from django.test import Client

    callback = start(client)
    other = Client()
    response = other.get(callback)
    assert response.status_code == 400
    assert "not started from this browser" in response.content.decode()
    assert User.objects.count() == 0 and Session.objects.count() == 1  # only the starter's


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?code=abc", "?code=abc&state=", "?state=nope&code=abc", ""])
def test_a_missing_or_unknown_state_is_refused_without_a_session(client, oidc, query):
    response = client.get(reverse("oidc-callback") + query)
    assert response.status_code == 400
    assert "start again from the sign-in page" in response.content.decode()
    assert Session.objects.count() == 0 and User.objects.count() == 0


@pytest.mark.django_db
def test_an_answer_after_the_states_lifetime_is_refused(client, oidc):
    from shortener.oidc.views import STATE_SECONDS

    callback = start(client)
    session = client.session  # the button was pressed longer ago than a state lives
    for started in session["oidc_states"].values():
        started["added_on"] -= STATE_SECONDS + 1
    session.save()
    response = client.get(callback)
    assert response.status_code == 400
    assert "was started more than 10 minutes ago" in response.content.decode()
    assert User.objects.count() == 0 and signed_in_sessions() == []
    assert client.session["oidc_states"] == {}


@pytest.mark.django_db
def test_turning_the_provider_off_signs_out_its_sessions(client, oidc, settings):
    client.get(start(client))
    assert client.get(reverse("token-list")).status_code == 200
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert client.get(reverse("token-list")).status_code == 302  # to the sign-in page


@pytest.mark.django_db
def test_an_answer_without_a_code_is_refused(client, oidc):
    callback = start(client)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    response = client.get(reverse("oidc-callback") + f"?state={state}")
    assert response.status_code == 400
    assert "carried no sign-in code" in response.content.decode()
    assert User.objects.count() == 0 and signed_in_sessions() == []


@pytest.mark.django_db
def test_with_account_creation_off_only_existing_accounts_get_in(client, oidc, settings):
    settings.OIDC_CREATE_USER = False
    response = client.get(start(client))
    assert response.status_code == 403
    assert "No account here has the e-mail address dana@example.com" in response.content.decode()
    assert User.objects.count() == 0 and signed_in_sessions() == []
    existing = make_user("dana", email="dana@example.com")
    client.get(start(client))
    assert int(client.session["_auth_user_id"]) == existing.pk


@pytest.mark.django_db
def test_a_suspended_account_is_refused(client, oidc):
    make_user("dana", email="dana@example.com", is_active=False)
    response = client.get(start(client))
    assert response.status_code == 403
    assert "The account for dana@example.com is suspended here." in response.content.decode()
    assert signed_in_sessions() == []


@pytest.mark.django_db
def test_two_accounts_with_the_address_are_refused(client, oidc):
    make_user("dana1", email="dana@example.com")
    make_user("dana2", email="Dana@example.com")
    response = client.get(start(client))
    assert response.status_code == 403
    assert "More than one account here has the e-mail address" in response.content.decode()
    assert User.objects.count() == 2 and signed_in_sessions() == []


@pytest.mark.django_db
def test_a_provider_that_cannot_be_reached_is_a_502(client, oidc, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # discard: nothing listens
    response = client.post(reverse("oidc-start"))
    assert response.status_code == 502
    assert "Test SSO could not be asked how to sign in" in response.content.decode()
    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_discovery_naming_another_issuer_is_a_502(client, oidc, settings):
    settings.OIDC_ISSUER = oidc.issuer + "/"  # the document says it without the slash
    response = client.post(reverse("oidc-start"))
    assert response.status_code == 502
    assert "discovery document names the issuer" in response.content.decode()


@pytest.mark.django_db
def test_discovery_is_asked_once_then_remembered(client, oidc):
    start(client)
    start(client)
    assert oidc.requests.count("/.well-known/openid-configuration") == 1


@pytest.mark.django_db
def test_a_password_sign_in_never_asks_the_provider(client, oidc):
    make_user("bob", "a-long-enough-password")
    client.post(reverse("login"), {"username": "bob", "password": "wrong"})
    assert oidc.requests == []


@pytest.mark.django_db
def test_discovery_is_asked_again_after_an_hour(oidc):
    from shortener.oidc import provider as site_provider

    asked = lambda: oidc.requests.count("/.well-known/openid-configuration")  # noqa: E731
    site_provider.endpoints(clock=lambda: 1000.0)
    site_provider.endpoints(clock=lambda: 1000.0 + site_provider.DISCOVERY_SECONDS - 1)
    assert asked() == 1
    site_provider.endpoints(clock=lambda: 1000.0 + site_provider.DISCOVERY_SECONDS)
    assert asked() == 2
