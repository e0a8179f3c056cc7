"""A way in on first start, and signing in with it."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from tests.conftest import make_user


@pytest.mark.django_db
def test_bootstrap_admin_creates_a_superuser_and_prints_its_password_once(client, capsys):
    call_command("bootstrap_admin")
    printed = capsys.readouterr().out
    password = re.search(r"password: (\S+)", printed).group(1)
    admin = get_user_model().objects.get()
    assert admin.username == "admin" and admin.is_superuser and admin.is_staff
    assert client.login(username="admin", password=password)

    call_command("bootstrap_admin")
    assert capsys.readouterr().out == ""
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_bootstrap_admin_does_nothing_when_users_exist(capsys):
    make_user()
    call_command("bootstrap_admin")
    assert capsys.readouterr().out == ""
    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.django_db
def test_sign_in_reaches_the_home_page(client):
    make_user("bob", "a-long-enough-password")
    response = client.post(
        reverse("login"), {"username": "bob", "password": "a-long-enough-password"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Sign out" in response.content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client):
    make_user("bob", "a-long-enough-password")
    response = client.post(reverse("login"), {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sign_out_is_a_post(client):
    user = make_user()
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_bootstrap_admin_reset_gives_the_admin_a_new_password_shown_once(client, capsys):
    admin = make_user("admin", "the-forgotten-password")
    call_command("bootstrap_admin", "--reset")
    password = re.search(r"password: (\S+)", capsys.readouterr().out).group(1)
    assert not client.login(username="admin", password="the-forgotten-password")
    assert client.login(username="admin", password=password)
    admin.refresh_from_db()
    assert admin.is_superuser and admin.is_staff
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_bootstrap_admin_reset_makes_the_admin_when_there_is_none(client, capsys):
    make_user("bob")
    call_command("bootstrap_admin", "--reset")
    password = re.search(r"password: (\S+)", capsys.readouterr().out).group(1)
    assert client.login(username="admin", password=password)


@pytest.mark.django_db
def test_sign_up_when_off_says_so_and_links_to_sign_in(client):
    response = client.get(reverse("signup"))
    assert response.status_code == 404
    page = response.content.decode()
    assert "Sign-up is off on this site" in page
    assert "mistyped" not in page
    assert f'href="{reverse("login")}"' in page
    response = client.post(
        reverse("signup"), {"username": "eve", "password1": "x" * 20, "password2": "x" * 20}
    )
    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="eve").exists()
