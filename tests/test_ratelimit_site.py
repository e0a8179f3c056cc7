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
