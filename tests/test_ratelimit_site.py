"""Rate limits on the site's real routes: sign-in, the home page, health checks."""

import pytest
from django.urls import reverse

from tests.conftest import make_user, per_day

LIMIT = 2


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.RATE_LIMITS = {group: per_day(LIMIT) for group in settings.RATE_LIMITS}


@pytest.mark.django_db
def test_guessing_one_password_from_many_addresses_is_stopped(client):
    make_user("alice", "the-right-password")
    wrong = {"username": "alice", "password": "guess"}
    for number in range(LIMIT):
        response = client.post(reverse("login"), wrong, REMOTE_ADDR=f"198.51.100.{number}")
        assert response.status_code == 200  # the form again, with its error
    right = {"username": "alice", "password": "the-right-password"}
    response = client.post(reverse("login"), right, REMOTE_ADDR="203.0.113.1")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session  # refused before the view: not signed in


@pytest.mark.django_db
def test_the_sign_in_form_itself_is_not_counted_as_sign_in(client):
    for _ in range(LIMIT):
        client.post(reverse("login"), {"username": "x", "password": "y"})
    assert client.get(reverse("login")).status_code == 200


@pytest.mark.django_db
def test_home_page_is_default_and_health_checks_are_exempt(client):
    assert [client.get("/").status_code for _ in range(LIMIT + 1)] == [200] * LIMIT + [429]
    assert {client.get(reverse("healthz")).status_code for _ in range(LIMIT * 3)} == {200}


@pytest.mark.django_db
def test_the_favicon_is_a_static_file_served_without_the_database(
    client, django_assert_num_queries
):
    # Browsers ask for /favicon.ico on every page that names no icon (JSON, /healthz).
    with django_assert_num_queries(0):
        answers = [client.get("/favicon.ico") for _ in range(LIMIT * 3)]
    assert {answer.status_code for answer in answers} == {200}  # exempt, like static files
    assert answers[0]["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(answers[0].streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


# --- Sign-in: one bucket per account, however the username is spelled ----------------

RIGHT = "the-right-password"


def lock_out_alice(client):
    make_user("alice", RIGHT)
    for number in range(LIMIT):
        wrong = {"username": "alice", "password": "guess"}
        client.post(reverse("login"), wrong, REMOTE_ADDR=f"198.51.100.{number}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spelling", ["\uff41\uff4c\uff49\uff43\uff45", "a\uff4cice", " alice\u3000"]
)
def test_a_locked_account_stays_locked_under_any_spelling(client, spelling):
    lock_out_alice(client)
    for password in ("another-guess", RIGHT):
        attempt = {"username": spelling, "password": password}
        response = client.post(reverse("login"), attempt, REMOTE_ADDR="203.0.113.7")
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_spellings_do_sign_in_as_alice_when_not_locked(client):
    # Why they must share the bucket: the form normalises them to alice.
    alice = make_user("alice", RIGHT)
    response = client.post(reverse("login"), {"username": "a\uff4cice", "password": RIGHT})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.django_db
def test_another_case_is_not_alice_so_it_neither_signs_in_nor_is_refused(client):
    lock_out_alice(client)
    response = client.post(
        reverse("login"), {"username": "Alice", "password": RIGHT}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 200  # the form again: no such account
    assert "_auth_user_id" not in client.session


# --- Creating links: one bucket per user, through forms and the API ------------------

API_LINKS = "/api/v1/links"


@pytest.fixture
def api_on():
    from waffle.testutils import override_flag

    with override_flag("api_v1", active=True):
        yield


def api_create(client, raw, address, number=0):
    return client.post(
        API_LINKS,
        {"target": f"https://example.com/{number}"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_one_user_through_the_api_is_one_create_bucket_from_any_address(client, api_on, settings):
    from shortener.models import Link
    from shortener.tokens import personal as tokens

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": per_day(100)}
    user = make_user("script")
    raw = tokens.issue(user, "first")[1]
    other_raw = tokens.issue(user, "second")[1]
    answers = [api_create(client, raw, f"198.51.100.{n}", n).status_code for n in range(LIMIT)]
    assert answers == [201] * LIMIT
    refused = api_create(client, other_raw, "203.0.113.9", 99)  # another token, another address
    assert refused.status_code == 429
    assert '"create";r=0' in refused["RateLimit"]
    assert Link.objects.count() == LIMIT


@pytest.mark.django_db
def test_form_and_api_creates_share_the_users_bucket(client, api_on, settings):
    from shortener.models import Link
    from shortener.tokens import personal as tokens

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": per_day(100)}
    user = make_user("alice")
    client.force_login(user)
    for number in range(LIMIT):
        form = {"target": f"https://example.com/form-{number}", "redirect_code": "302"}
        assert client.post(reverse("link-list"), form).status_code in {302, 303}
    client.logout()
    raw = tokens.issue(user, "script")[1]
    assert api_create(client, raw, "203.0.113.9").status_code == 429
    assert Link.objects.count() == LIMIT


@pytest.mark.django_db
def test_the_api_bucket_is_the_users_not_the_tokens(client, api_on):
    from shortener.tokens import personal as tokens

    user = make_user("script")
    raws = [tokens.issue(user, f"token {n}")[1] for n in range(LIMIT + 1)]
    headers = [{"Authorization": f"Bearer {raw}"} for raw in raws]
    answers = [client.get(API_LINKS, headers=h).status_code for h in headers]
    assert answers == [200] * LIMIT + [429]


@pytest.mark.django_db
def test_made_up_tokens_are_failures_of_the_address(client, api_on):
    from shortener.tokens import personal as tokens

    made_up = [
        client.get(API_LINKS, headers={"Authorization": f"Bearer torii_made-up-{n}"})
        for n in range(LIMIT + 1)
    ]
    assert [answer.status_code for answer in made_up] == [401] * LIMIT + [429]
    assert made_up[-1]["Content-Type"] == "application/problem+json"
    assert '"auth-failures";r=0' in made_up[-1]["RateLimit"]
    # A real token from the same address is its user's, not a failure.
    raw = tokens.issue(make_user("script"), "real")[1]
    assert client.get(API_LINKS, headers={"Authorization": f"Bearer {raw}"}).status_code == 200


# --- Webhooks: a stranger spends its own address, never the sender's bucket ---------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forgery",
    [
        {"HTTP_WEBHOOK_SIGNATURE": "v1,bm90IGEgc2lnbmF0dXJlIG9mIGFueXRoaW5nIGF0IGFsbCE="},
        {"HTTP_WEBHOOK_SIGNATURE": ""},
        {"HTTP_WEBHOOK_TIMESTAMP": "1"},
        {"CONTENT_LENGTH": "9999999"},
    ],
    ids=["wrong-signature", "unsigned", "stale", "oversized"],
)
def test_failed_deliveries_never_spend_the_senders_bucket(client, forgery):
    from shortener.models import WebhookEvent
    from tests.webhook_delivery import deliver, make_source

    cms = make_source("cms")
    stranger = "203.0.113.66"
    answers = [
        deliver(client, cms, REMOTE_ADDR=stranger, **forgery).status_code for _ in range(LIMIT + 2)
    ]
    assert answers[LIMIT:] == [429, 429] and 429 not in answers[:LIMIT]
    assert [deliver(client, cms).status_code for _ in range(LIMIT)] == [202] * LIMIT
    assert deliver(client, cms).status_code == 429  # the sender's own bucket, spent by itself
    assert WebhookEvent.objects.count() == LIMIT


@pytest.mark.django_db
def test_made_up_source_names_are_failures_of_the_address(client):
    from tests.webhook_delivery import deliver, make_source, payload

    answers = [
        client.post(f"/webhooks/nobody-{n}/", payload(), content_type="application/json")
        for n in range(LIMIT + 1)
    ]
    assert [answer.status_code for answer in answers] == [404] * LIMIT + [429]
    cms = make_source("cms")
    assert deliver(client, cms, REMOTE_ADDR="192.0.2.50").status_code == 202


@pytest.mark.django_db
def test_strangers_failing_from_an_address_lock_out_neither_sender_nor_token(client, api_on):
    """Behind one address (a NAT, an office proxy): a stranger's bad signatures and
    made-up tokens fill the address's failure bucket; a correctly signed delivery and a
    valid token from the same address pass, and the next failure is still refused."""
    from shortener.models import WebhookEvent
    from shortener.tokens import personal as tokens
    from tests.webhook_delivery import deliver, make_source

    cms = make_source("cms")
    office = "203.0.113.80"
    bad = {"HTTP_WEBHOOK_SIGNATURE": "v1,bm90IGEgc2lnbmF0dXJlIG9mIGFueXRoaW5nIGF0IGFsbCE="}
    answers = [deliver(client, cms, REMOTE_ADDR=office, **bad).status_code for _ in range(LIMIT)]
    assert answers == [401] * LIMIT
    assert deliver(client, cms, REMOTE_ADDR=office, **bad).status_code == 429
    assert WebhookEvent.objects.count() == 0

    assert deliver(client, cms, REMOTE_ADDR=office).status_code == 202
    assert WebhookEvent.objects.count() == 1
    raw = tokens.issue(make_user("script"), "real")[1]
    valid = client.get(API_LINKS, headers={"Authorization": f"Bearer {raw}"}, REMOTE_ADDR=office)
    assert valid.status_code == 200

    assert deliver(client, cms, REMOTE_ADDR=office, **bad).status_code == 429
    made_up = client.get(
        API_LINKS, headers={"Authorization": "Bearer torii_made-up"}, REMOTE_ADDR=office
    )
    assert made_up.status_code == 429
    assert WebhookEvent.objects.count() == 1


# --- Static paths: files are exempt, anything else is the 404 page, limited -----------


@pytest.mark.django_db
def test_static_files_are_exempt_and_other_static_paths_are_limited(settings):
    from django.test import Client

    settings.WHITENOISE_USE_FINDERS = True  # serve static/ as collectstatic would
    client = Client()  # a new handler builds whitenoise with that setting
    files = [client.get("/static/css/site.css") for _ in range(LIMIT * 3)]
    assert {answer.status_code for answer in files} == {200}
    missing = [client.get(f"/static/css/no-such-{n}.css").status_code for n in range(LIMIT + 1)]
    assert missing == [404] * LIMIT + [429]
    assert client.get("/").status_code == 429  # the address's default bucket
    assert client.get("/static/css/site.css").status_code == 200


@pytest.mark.django_db
def test_reset_mails_to_one_address_are_limited_from_any_number_of_addresses(client, settings):
    from django.core import mail

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.EMAIL_CONFIGURED = True
    make_user("alice", email="alice@example.com")
    statuses = [
        client.post(
            reverse("password_reset"),
            {"email": "alice@example.com"},
            REMOTE_ADDR=f"198.51.100.{number}",
        ).status_code
        for number in range(LIMIT + 2)
    ]
    assert statuses == [302] * LIMIT + [429, 429]
    assert len(mail.outbox) == LIMIT
    other = client.post(reverse("password_reset"), {"email": "bob@example.com"})
    assert other.status_code == 302  # another person's address has its own bucket
