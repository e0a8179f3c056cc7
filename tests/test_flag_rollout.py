"""Who gets a flag: a percentage sticks per visitor, a group means exactly its members,
and no query string turns a flag on in production."""

import pytest
import waffle
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from flags.models import FeatureFlag
from tests.conftest import make_user, run_manage, set_flag


def flag_state(request, name):
    return HttpResponse("on" if waffle.flag_is_active(request, name) else "off")


urlpatterns = [path("state/<str:name>/", flag_state)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.test_flag_rollout")]


def state(client, name="custom_slugs", query="") -> str:
    return client.get(f"/state/{name}/{query}").content.decode()


def test_a_percentage_rollout_sticks_for_each_visitor_across_requests():
    set_flag("custom_slugs", everyone=None, percent=50)
    first_answers = []
    for _ in range(30):
        visitor = Client()
        answers = {state(visitor) for _ in range(5)}
        assert len(answers) == 1, "one visitor, one answer, every time"
        first_answers.append(answers.pop())
    # 30 visitors at 50 %: both answers appear (all alike has a chance of 2 in 10^9).
    assert set(first_answers) == {"on", "off"}


def test_the_rollout_cookie_is_what_makes_it_stick():
    set_flag("custom_slugs", everyone=None, percent=50)
    visitor = Client()
    answer = state(visitor)
    cookie = visitor.cookies["dwf_custom_slugs"]
    assert cookie.value == ("True" if answer == "on" else "False")
    assert int(cookie["max-age"]) > 24 * 3600


@pytest.mark.parametrize(("percent", "expected"), [("0", "off"), ("100", "on")])
def test_zero_and_a_hundred_percent(percent, expected):
    set_flag("custom_slugs", everyone=None, percent=percent)
    assert {state(Client()) for _ in range(10)} == {expected}


def test_a_group_flag_is_on_for_exactly_its_members():
    f = set_flag("custom_slugs", everyone=None, percent=None)
    beta = Group.objects.create(name="beta")
    f.groups.add(beta)
    member = make_user("member")
    member.groups.add(beta)
    other = make_user("other")
    staff = make_user("staffer", is_staff=True)
    superuser = make_user("root", is_staff=True, is_superuser=True)
    seen = {}
    for user in (member, other, staff, superuser):
        client = Client()
        client.force_login(user)
        seen[user.username] = state(client)
    seen["anonymous"] = state(Client())
    assert seen == {
        "member": "on",
        "other": "off",
        "staffer": "off",
        "root": "off",
        "anonymous": "off",
    }


def test_a_user_flag_is_on_for_exactly_that_user():
    f = set_flag("custom_slugs", everyone=None, percent=None)
    chosen, other = make_user("chosen"), make_user("other")
    f.users.add(chosen)
    for user, expected in ((chosen, "on"), (other, "off")):
        client = Client()
        client.force_login(user)
        assert state(client) == expected


# --- WAFFLE_OVERRIDE stays off: no query string turns a flag on ---


def test_production_settings_keep_waffle_override_off():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.WAFFLE_OVERRIDE)",
        env={"DEBUG": "false", "SECURE_SSL": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("query", ["?dwft_custom_slugs=1", "?custom_slugs=1"])
def test_a_query_string_cannot_turn_a_flag_on(settings, query):
    settings.DEBUG = False
    assert settings.WAFFLE_OVERRIDE is False
    client = Client()
    assert state(client, query=query) == "off"
    assert state(client) == "off"  # and leaves no cookie that would
    assert not any(name.startswith("dwft") for name in client.cookies)


def test_the_flags_torii_defines_are_not_in_testing_mode():
    assert not FeatureFlag.objects.filter(testing=True).exists()


def test_with_override_on_the_same_query_string_would_turn_it_on(settings):
    # What the production setting guards against: shows the test above can fail.
    settings.WAFFLE_OVERRIDE = True
    assert state(Client(), query="?custom_slugs=1") == "on"
