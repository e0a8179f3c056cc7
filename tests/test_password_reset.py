"""Password reset by mail: EMAIL_URL read strictly, the mailed link works end to end,
and without mail the pages say to ask staff instead of pretending to send."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from config import environment
from tests.conftest import make_user, run_manage

FROM = "Torii <torii@example.com>"


@pytest.fixture
def mail_set_up(settings):
    # The locmem backend keeps what is sent in mail.outbox.
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.EMAIL_CONFIGURED = True
    settings.DEFAULT_FROM_EMAIL = FROM


@pytest.fixture
def no_mail(settings):
    settings.EMAIL_CONFIGURED = False


# --- EMAIL_URL and DEFAULT_FROM_EMAIL ---


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://torii%40example.com:p%40ss@mail.example.com:587/?tls=True",
            {
                "host": "mail.example.com",
                "port": 587,
                "username": "torii@example.com",
                "password": "p@ss",
                "use_tls": True,
                "use_ssl": False,
            },
        ),
        (
            "smtp+ssl://user:secret@mail.example.com",
            {"port": None, "use_ssl": True, "use_tls": False},  # Django picks 465
        ),
        ("smtp+tls://mail.example.com", {"use_tls": True, "username": "", "password": ""}),
        ("smtp://relay.internal:2525", {"port": 2525, "use_tls": False, "use_ssl": False}),
        # django-environ would hand on the string "False", which is true
        ("smtps://relay.internal/?tls=False", {"use_tls": False}),
        ("smtp://relay.internal/?timeout=3.5", {"timeout": 3.5}),
        ("smtp://relay.internal", {"timeout": 10.0}),
    ],
)
def test_smtp_urls_become_the_default_mailer(monkeypatch, url, expected):
    monkeypatch.setenv("EMAIL_URL", url)
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", FROM)
    config = environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")
    assert config["EMAIL_CONFIGURED"] is True
    mailer = config["MAILERS"]["default"]
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert config["DEFAULT_FROM_EMAIL"] == config["SERVER_EMAIL"] == FROM
    assert {key: mailer["OPTIONS"][key] for key in expected} == expected


def test_the_mailer_django_builds_from_the_url_reaches_the_right_port(monkeypatch, settings):
    from django.core import mail as django_mail

    monkeypatch.setenv("EMAIL_URL", "smtp+ssl://user:secret@mail.example.com")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", FROM)
    settings.MAILERS = environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")["MAILERS"]
    backend = django_mail.mailers["default"]
    assert (backend.host, backend.port, backend.use_ssl, backend.timeout) == (
        "mail.example.com",
        465,
        True,
        10.0,
    )


def test_console_mail_for_development_needs_no_sender(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "console://")
    monkeypatch.delenv("DEFAULT_FROM_EMAIL", raising=False)
    config = environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")
    backend = config["MAILERS"]["default"]["BACKEND"]
    assert backend == "django.core.mail.backends.console.EmailBackend"
    assert config["EMAIL_CONFIGURED"] and config["DEFAULT_FROM_EMAIL"] == "torii@localhost"


def test_no_email_url_means_no_mail(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)
    config = environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")
    assert config == {"EMAIL_CONFIGURED": False, "MAILERS": {}}


@pytest.mark.parametrize(
    ("url", "sender", "named", "reason"),
    [
        ("mail.example.com", FROM, "EMAIL_URL", "not a mail URL"),
        ("http://mail.example.com", FROM, "EMAIL_URL", "unknown scheme 'http'"),
        ("dummymail://", FROM, "EMAIL_URL", "unknown scheme"),  # would pretend to send
        ("smtp://", FROM, "EMAIL_URL", "names no host"),
        ("smtp://:pw@/", FROM, "EMAIL_URL", "names no host"),
        ("smtp://mail.example.com:port/", FROM, "EMAIL_URL", "could not be parsed"),
        ("smtp://mail.example.com/?tls=maybe", FROM, "EMAIL_URL", "not a boolean"),
        ("smtp+ssl://mail.example.com/?tls=1", FROM, "EMAIL_URL", "both TLS and SSL"),
        ("smtp://mail.example.com/?timout=5", FROM, "EMAIL_URL", "unknown option 'timout'"),
        ("smtp://mail.example.com/?timeout=-1", FROM, "EMAIL_URL", "not a number of seconds"),
        ("smtp://mail.example.com", None, "DEFAULT_FROM_EMAIL", "is needed"),
        ("smtp://mail.example.com", "torii", "DEFAULT_FROM_EMAIL", "not a mail address"),
    ],
)
def test_bad_mail_settings_are_refused_naming_the_variable(monkeypatch, url, sender, named, reason):
    monkeypatch.setenv("EMAIL_URL", url)
    if sender is None:
        monkeypatch.delenv("DEFAULT_FROM_EMAIL", raising=False)
    else:
        monkeypatch.setenv("DEFAULT_FROM_EMAIL", sender)
    with pytest.raises(ImproperlyConfigured, match=named) as refused:
        environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")
    assert reason in str(refused.value)


def test_a_refusal_never_shows_the_password(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://torii:hunter2@mail.example.com:port/")
    with pytest.raises(ImproperlyConfigured) as refused:
        environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL")
    assert "hunter2" not in str(refused.value) and "torii:***@" in str(refused.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EMAIL_URL": "smtp://"}, "EMAIL_URL"),
        ({"EMAIL_URL": "smtp://mail.example.com", "DEFAULT_FROM_EMAIL": ""}, "DEFAULT_FROM_EMAIL"),
    ],
)
def test_start_up_stops_on_bad_mail_settings(env, named):
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("Torii cannot start: ") and named in result.stderr
    assert "Traceback" not in result.stderr


# --- The pages ---


@pytest.mark.django_db
def test_without_mail_the_reset_page_says_to_ask_staff_and_sends_nothing(client, no_mail):
    make_user("bob", email="bob@example.com")
    page = client.get(reverse("password_reset"))
    body = page.content.decode()
    assert page.status_code == 503
    assert "Mail is not set up" in body and "Ask a member of staff" in body
    assert "<form" not in body.split("<main", 1)[-1]

    posted = client.post(reverse("password_reset"), {"email": "bob@example.com"})
    assert posted.status_code == 503 and "Mail is not set up" in posted.content.decode()
    assert mail.outbox == []

    done = client.get(reverse("password_reset_done")).content.decode()
    assert "No mail was sent" in done and "on its way" not in done


@pytest.mark.django_db
def test_sign_in_links_to_the_reset_only_when_mail_is_set_up(client, settings):
    reset = f'href="{reverse("password_reset")}"'
    settings.EMAIL_CONFIGURED = False
    assert reset not in client.get(reverse("login")).content.decode()
    settings.EMAIL_CONFIGURED = True
    assert reset in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_the_mailed_link_sets_a_new_password_end_to_end(client, mail_set_up):
    make_user("bob", "the-old-password-1", email="bob@example.com")
    form = client.get(reverse("password_reset"))
    assert form.status_code == 200 and 'name="email"' in form.content.decode()

    sent = client.post(reverse("password_reset"), {"email": "bob@example.com"}, follow=True)
    assert sent.redirect_chain[-1][0] == reverse("password_reset_done")
    assert "Check your mail" in sent.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"] and message.from_email == FROM
    assert "bob" in message.body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    # Django swaps the token for a session marker, then shows the form at /set-password/.
    opened = client.get(link, follow=True)
    assert "Choose a new password" in opened.content.decode()
    set_password_url = opened.redirect_chain[-1][0]
    new = "a-brand-new-password-2"
    changed = client.post(
        set_password_url, {"new_password1": new, "new_password2": new}, follow=True
    )
    assert changed.redirect_chain[-1][0] == reverse("password_reset_complete")
    assert "Your password is changed" in changed.content.decode()

    assert client.login(username="bob", password=new)
    assert not client.login(username="bob", password="the-old-password-1")
    client.logout()
    reused = client.get(link, follow=True).content.decode()
    assert "This link no longer works" in reused


@pytest.mark.django_db
def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, mail_set_up):
    make_user("bob", email="bob@example.com")
    sent = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert sent.status_code == 302 and sent["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


@pytest.mark.django_db
def test_mismatched_new_passwords_change_nothing(client, mail_set_up):
    make_user("bob", "the-old-password-1", email="bob@example.com")
    client.post(reverse("password_reset"), {"email": "bob@example.com"})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    refused = client.post(
        set_password_url,
        {"new_password1": "a-brand-new-password-2", "new_password2": "something-else-3"},
    )
    assert refused.status_code == 200
    assert "The two password fields didn\u2019t match" in refused.content.decode()
    user = get_user_model().objects.get(username="bob")
    assert user.check_password("the-old-password-1")


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback that wants a login, keeping what it receives."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received, logins = [], []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login.decode(), auth_data.password.decode()))
            ok = logins[-1] == ("torii@example.com", "p@ss:word")
            return AuthResult(success=ok)
        return AuthResult(success=False, handled=False)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Keep(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # loopback only; TLS is smtplib's, not ours to test
    )
    controller.start()
    try:
        yield port, received, logins
    finally:
        controller.stop()


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_an_smtp_email_url_delivers_the_reset_link_to_a_real_server(
    client, settings, monkeypatch, smtp_server
):
    port, received, logins = smtp_server
    monkeypatch.setenv("EMAIL_URL", f"smtp://torii%40example.com:p%40ss%3Aword@127.0.0.1:{port}")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", FROM)
    for name, value in environment.email("EMAIL_URL", "DEFAULT_FROM_EMAIL").items():
        setattr(settings, name, value)
    make_user("bob", email="bob@example.com")

    sent = client.post(reverse("password_reset"), {"email": "bob@example.com"})
    assert sent.status_code == 302
    assert logins == [("torii@example.com", "p@ss:word")]
    [envelope] = received
    assert envelope.mail_from == "torii@example.com" and envelope.rcpt_tos == ["bob@example.com"]
    body = envelope.content.decode()
    assert "/accounts/reset/" in body and "Subject: Choose a new Torii password" in body
