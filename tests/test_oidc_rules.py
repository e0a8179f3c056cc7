"""The pure rules of a provider's claims, and OIDC_* settings read from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import environment
from shortener.oidc.claims import email_refusal, username_for, workspace_roles

VERIFIED = {"email": "dana@example.com", "email_verified": True}


@pytest.mark.parametrize(
    ("claims", "verified_claim", "refused"),
    [
        (VERIFIED, "email_verified", None),
        ({**VERIFIED, "email_verified": False}, "email_verified", "has not verified"),
        ({"email": "dana@example.com"}, "email_verified", "has not verified"),
        ({**VERIFIED, "email_verified": "true"}, "email_verified", "has not verified"),
        ({**VERIFIED, "email_verified": 1}, "email_verified", "has not verified"),
        ({"email_verified": True}, "email_verified", "sent no e-mail address"),
        ({"email": "", "email_verified": True}, "email_verified", "sent no e-mail address"),
        ({"email": "dana", "email_verified": True}, "email_verified", "sent no e-mail address"),
        ({"email": ["a@b.c"], "email_verified": True}, "email_verified", "sent no e-mail"),
        # Entra ID: OIDC_EMAIL_VERIFIED_CLAIM=xms_edov
        ({"email": "d@example.com", "xms_edov": True}, "xms_edov", None),
        ({"email": "d@example.com", "email_verified": True}, "xms_edov", "has not verified"),
    ],
)
def test_only_a_verified_address_is_vouched_for(claims, verified_claim, refused):
    said = email_refusal(claims, verified_claim)
    assert (said is None) if refused is None else (refused in said)


@pytest.mark.parametrize(
    ("email", "taken", "username"),
    [
        ("dana@example.com", set(), "dana"),
        ("Dana.Scully@Example.com", set(), "dana.scully"),
        ("dana@example.com", {"dana"}, "dana-2"),
        ("dana@example.com", {"dana", "dana-2"}, "dana-3"),
        ("d a/n*a@example.com", set(), "d-a-n-a"),
        ("josé+torii@example.com", set(), "josé+torii"),
        ("...@example.com", set(), "user"),
        ("x" * 200 + "@example.com", set(), "x" * 142),
    ],
)
def test_a_new_accounts_username(email, taken, username):
    assert username_for(email, taken.__contains__) == username


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["torii-editors", "staff"], {"torii-editors": "editor"}),
        ("torii-owners", {"torii-owners": "owner"}),
        (["torii-owners", "torii-viewers"], {"torii-owners": "owner", "torii-viewers": "viewer"}),
        ([], {}),
        (None, {}),
        ({"torii-owners": True}, {}),
        ([["torii-owners"]], {}),
    ],
)
def test_provider_groups_name_workspace_roles(groups, roles):
    mapping = {"torii-owners": "owner", "torii-editors": "editor", "torii-viewers": "viewer"}
    claims = {} if groups is None else {"groups": groups}
    assert workspace_roles(claims, "groups", mapping) == roles


OIDC_NAMES = [
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_NAME",
    "OIDC_SCOPES",
    "OIDC_AUTHORIZATION_ENDPOINT",
    "OIDC_TOKEN_ENDPOINT",
    "OIDC_JWKS_URI",
    "OIDC_SIGN_ALGORITHM",
    "OIDC_EMAIL_VERIFIED_CLAIM",
    "OIDC_GROUPS_CLAIM",
    "OIDC_GROUP_ROLES",
    "OIDC_TIMEOUT",
    "OIDC_CREATE_ACCOUNTS",
]
CONFIGURED = {
    "OIDC_ISSUER": "https://sso.example.com/realms/main",
    "OIDC_CLIENT_ID": "torii",
    "OIDC_CLIENT_SECRET": "s",
}


@pytest.fixture
def oidc_env(monkeypatch):
    for name in OIDC_NAMES:
        monkeypatch.delenv(name, raising=False)

    def given(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return environment.oidc()

    return given


def test_unset_it_is_off(oidc_env):
    assert oidc_env() == {"OIDC_ENABLED": False}


def test_set_it_is_on_with_defaults(oidc_env):
    read = oidc_env(**CONFIGURED)
    assert read["OIDC_ENABLED"] and read["OIDC_ISSUER"] == CONFIGURED["OIDC_ISSUER"]
    assert read["OIDC_RP_SCOPES"] == "openid email profile"
    assert read["OIDC_NAME"] == "single sign-on"
    assert read["OIDC_AUTHORIZATION_ORIGIN"] == "https://sso.example.com"
    assert "OIDC_OP_TOKEN_ENDPOINT" not in read  # discovered when first needed
    assert read["OIDC_CREATE_USER"] is True


def test_a_discovery_url_is_taken_for_its_issuer(oidc_env):
    read = oidc_env(
        **{**CONFIGURED, "OIDC_ISSUER": "https://sso.example.com/.well-known/openid-configuration"}
    )
    assert read["OIDC_ISSUER"] == "https://sso.example.com"


def test_endpoints_given_skip_discovery(oidc_env):
    read = oidc_env(
        **CONFIGURED,
        OIDC_AUTHORIZATION_ENDPOINT="https://login.example.net/auth",
        OIDC_TOKEN_ENDPOINT="https://login.example.net/token",
        OIDC_JWKS_URI="https://login.example.net/keys",
        OIDC_GROUP_ROLES="torii-editors=editor, Torii Owners=owner",
    )
    assert read["OIDC_OP_TOKEN_ENDPOINT"] == "https://login.example.net/token"
    assert read["OIDC_AUTHORIZATION_ORIGIN"] == "https://login.example.net"
    assert read["OIDC_GROUP_ROLES"] == {"torii-editors": "editor", "Torii Owners": "owner"}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"OIDC_CLIENT_ID": "torii"}, "OIDC_CLIENT_ID is set but OIDC_ISSUER is not"),
        ({**CONFIGURED, "OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET is not"),
        ({**CONFIGURED, "OIDC_ISSUER": "http://sso.example.com"}, "OIDC_ISSUER="),
        ({**CONFIGURED, "OIDC_ISSUER": "sso.example.com"}, "OIDC_ISSUER="),
        ({**CONFIGURED, "OIDC_TOKEN_ENDPOINT": "https://x.example/t"}, "OIDC_JWKS_URI"),
        ({**CONFIGURED, "OIDC_SCOPES": "openid profile"}, "OIDC_SCOPES="),
        ({**CONFIGURED, "OIDC_SIGN_ALGORITHM": "HS256"}, "OIDC_SIGN_ALGORITHM="),
        ({**CONFIGURED, "OIDC_SIGN_ALGORITHM": "none"}, "OIDC_SIGN_ALGORITHM="),
        ({**CONFIGURED, "OIDC_GROUP_ROLES": "admins=staff"}, "OIDC_GROUP_ROLES"),
        ({**CONFIGURED, "OIDC_GROUP_ROLES": "admins"}, "OIDC_GROUP_ROLES"),
        ({**CONFIGURED, "OIDC_TIMEOUT": "soon"}, "OIDC_TIMEOUT"),
        ({**CONFIGURED, "OIDC_CREATE_ACCOUNTS": "maybe"}, "OIDC_CREATE_ACCOUNTS"),
    ],
)
def test_a_misconfiguration_names_the_variable(oidc_env, values, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        oidc_env(**values)


def test_http_is_allowed_on_loopback_only(oidc_env):
    assert oidc_env(**{**CONFIGURED, "OIDC_ISSUER": "http://127.0.0.1:8080"})["OIDC_ENABLED"]


def test_the_site_starts_with_a_provider_configured():
    from tests.conftest import run_manage

    script = (
        "from django.conf import settings; from django.urls import reverse; "
        "print(reverse('oidc-callback'), settings.AUTHENTICATION_BACKENDS[-1], "
        "settings.SECURE_CSP['form-action'][-1])"
    )
    result = run_manage("shell", "-c", script, env=CONFIGURED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "/accounts/oidc/callback/",
        "shortener.oidc.backend.ProviderBackend",
        "https://sso.example.com",
    ]


def test_a_half_configured_provider_stops_start_up_naming_the_variable():
    from tests.conftest import run_manage

    result = run_manage("check", env={"OIDC_ISSUER": "https://sso.example.com"})
    assert result.returncode == 2
    assert result.stderr.startswith("Torii cannot start: OIDC_ISSUER is set but OIDC_CLIENT_ID")
    assert "Traceback" not in result.stderr
