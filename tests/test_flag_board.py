"""The staff flag board: staff only, controls by state, confirmation, htmx row swaps, bad input."""

import pytest
from django.urls import reverse
from waffle import get_waffle_switch_model
from waffle.testutils import override_switch

from flags.models import FeatureFlag, FlagChange
from tests.conftest import make_user, set_flag

BOARD = "/flags/"


def change_url(name: str, kind: str = "flag") -> str:
    return reverse("flags:change", args=[kind, name])


@pytest.fixture
def staff(client):
    user = make_user("stella", is_staff=True)
    client.force_login(user)
    return user


def flag(name: str) -> FeatureFlag:
    return FeatureFlag.objects.get(name=name)


def htmx(client, url, data):
    return client.post(url, data, headers={"HX-Request": "true"})


@pytest.mark.django_db
def test_the_board_is_at_flags_for_staff():
    assert reverse("flags:board") == BOARD


@pytest.mark.django_db
def test_anonymous_visitors_get_404(client):
    assert client.get(BOARD).status_code == 404


@pytest.mark.django_db
def test_signed_in_non_staff_get_404(client):
    client.force_login(make_user("norm"))
    assert client.get(BOARD).status_code == 404


@pytest.mark.django_db
def test_the_nav_links_the_board_for_staff_only(client):
    client.force_login(make_user("norm"))
    assert f'href="{BOARD}"' not in client.get("/").content.decode()
    client.force_login(make_user("stella", is_staff=True))
    assert f'href="{BOARD}"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_board_lists_every_flag_with_description_contact_and_rule(client, staff):
    body = client.get(BOARD).content.decode()
    for name in ["custom_slugs", "qr_codes", "link_analytics", "api_v1", "open_signup"]:
        assert f'id="flag-{name}"' in body
    assert flag("anonymous_links").description in body
    assert "Ask: links team" in body
    assert "on for everyone" in body and "off for everyone" in body
    assert 'id="switch-read_only"' in body


@pytest.mark.django_db
def test_the_board_describes_percent_group_and_user_rules(client, staff):
    from django.contrib.auth.models import Group

    f = set_flag("custom_slugs", everyone=None, percent=12.5)
    f.groups.add(Group.objects.create(name="beta"))
    f.users.add(make_user("bea"))
    body = client.get(BOARD).content.decode()
    assert "on for 12.5 % of visitors; groups: beta; users: bea" in body


def controls_in_row(body: str, name: str) -> str:
    start = body.index(f'id="flag-{name}"')
    return body[start : body.index("</tr>", start)]


@pytest.mark.django_db
def test_controls_follow_the_flags_state(client, staff):
    body = client.get(BOARD).content.decode()
    on_for_everyone = controls_in_row(body, "qr_codes")
    assert "Turn off for everyone" in on_for_everyone
    assert "Turn on for everyone" not in on_for_everyone
    off_for_everyone = controls_in_row(body, "custom_slugs")
    assert "Turn on for everyone" in off_for_everyone
    assert "Turn off for everyone" not in off_for_everyone
    assert "Roll out to %" in off_for_everyone


@pytest.mark.django_db
def test_a_percentage_flag_offers_both_on_and_off(client, staff):
    set_flag("custom_slugs", everyone=None, percent=30)
    row = controls_in_row(client.get(BOARD).content.decode(), "custom_slugs")
    assert "Turn on for everyone" in row and "Turn off for everyone" in row
    assert 'value="30.0"' in row


@pytest.mark.django_db
def test_without_js_the_first_post_shows_a_confirmation_and_changes_nothing(client, staff):
    response = client.post(change_url("custom_slugs"), {"action": "on"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Confirm the change</h1>" in body
    assert "<dt>Now</dt><dd>off for everyone</dd>" in body
    assert "<dt>After</dt><dd>on for everyone</dd>" in body
    assert '<input type="hidden" name="confirmed" value="on">' in body
    assert flag("custom_slugs").everyone is False
    assert not FlagChange.objects.exists()


@pytest.mark.django_db
def test_without_js_the_confirmed_post_changes_the_flag_and_goes_back_to_the_board(client, staff):
    response = client.post(change_url("custom_slugs"), {"action": "on", "confirmed": "on"})
    assert response.status_code == 303
    assert response["Location"] == f"{BOARD}#flag-custom_slugs"
    assert flag("custom_slugs").everyone is True
    page = client.get(response["Location"]).content.decode()
    assert "custom_slugs is now on for everyone." in page


@pytest.mark.django_db
def test_with_htmx_the_confirmation_replaces_only_the_row(client, staff):
    response = htmx(client, change_url("qr_codes"), {"action": "off"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith('<tr id="flag-qr_codes" class="confirming">')
    assert "<html" not in body
    assert 'hx-post="/flags/flag/qr_codes/"' in body
    assert 'hx-select="#flag-qr_codes"' in body  # Cancel puts the row back from the board
    assert "HX-Request" in response["Vary"]
    assert flag("qr_codes").everyone is True


@pytest.mark.django_db
def test_with_htmx_the_confirmed_change_answers_with_the_new_row(
    client, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = htmx(client, change_url("qr_codes"), {"action": "off", "confirmed": "on"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith('<tr id="flag-qr_codes">')
    assert "off for everyone" in body and "Turn on for everyone" in body
    assert "Turn off for everyone" not in body
    assert "by stella" in body
    assert "HX-Request" in response["Vary"]
    assert flag("qr_codes").everyone is False


@pytest.mark.django_db
def test_rolling_out_to_a_percentage(client, staff):
    response = client.post(
        change_url("custom_slugs"), {"action": "percent", "percent": "25", "confirmed": "on"}
    )
    assert response.status_code == 303
    f = flag("custom_slugs")
    assert (f.everyone, float(f.percent)) == (None, 25.0)


@pytest.mark.django_db
def test_a_hundred_percent_is_accepted(client, staff):
    client.post(
        change_url("custom_slugs"), {"action": "percent", "percent": "100", "confirmed": "on"}
    )
    assert float(flag("custom_slugs").percent) == 100.0


@pytest.mark.django_db
def test_the_read_only_switch_is_on_the_board_and_flips(client, staff):
    row = client.get(BOARD).content.decode()
    assert "Turn on" in row[row.index('id="switch-read_only"') :]
    response = client.post(change_url("read_only", "switch"), {"action": "on", "confirmed": "on"})
    assert response.status_code == 303
    assert get_waffle_switch_model().objects.get(name="read_only").active is True


@pytest.mark.django_db
@override_switch("read_only", active=True)
def test_staff_can_turn_maintenance_off_on_the_board_while_read_only(client, staff):
    assert client.post("/", {}).status_code == 503  # other writes are refused
    response = client.post(change_url("read_only", "switch"), {"action": "off", "confirmed": "on"})
    assert response.status_code == 303
    assert get_waffle_switch_model().objects.get(name="read_only").active is False


# --- bad input: a 4xx, nothing changed, nothing in the trail ---


def assert_nothing_changed(name="custom_slugs"):
    assert flag(name).everyone is False
    assert flag(name).percent is None
    assert not FlagChange.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("percent", ["-1", "100.1", "250", "abc", "", "12.55"])
def test_a_percentage_outside_0_to_100_is_refused(client, staff, percent):
    data = {"action": "percent", "percent": percent, "confirmed": "on"}
    response = client.post(change_url("custom_slugs"), data)
    assert response.status_code == 422
    assert "Nothing was changed" in response.content.decode()
    assert_nothing_changed()


@pytest.mark.django_db
def test_a_bad_percentage_with_htmx_answers_the_row_with_the_error(client, staff):
    data = {"action": "percent", "percent": "101", "confirmed": "on"}
    response = htmx(client, change_url("custom_slugs"), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert body.strip().startswith('<tr id="flag-custom_slugs" class="confirming">')
    assert "less than or equal to 100" in body
    assert_nothing_changed()


@pytest.mark.django_db
def test_an_unknown_action_is_refused(client, staff):
    response = client.post(change_url("custom_slugs"), {"action": "explode", "confirmed": "on"})
    assert response.status_code == 422
    assert_nothing_changed()


@pytest.mark.django_db
def test_an_unknown_flag_name_is_404(client, staff):
    response = client.post(change_url("no_such_flag"), {"action": "on", "confirmed": "on"})
    assert response.status_code == 404
    assert not FeatureFlag.objects.filter(name="no_such_flag").exists()
    assert not FlagChange.objects.exists()


@pytest.mark.django_db
def test_an_unknown_kind_is_404(client, staff):
    response = client.post("/flags/sample/custom_slugs/", {"action": "on", "confirmed": "on"})
    assert response.status_code == 404
    assert_nothing_changed()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_a_change_posted_by_anyone_but_staff_is_404(client, who):
    if who == "non-staff":
        client.force_login(make_user("norm"))
    response = client.post(change_url("custom_slugs"), {"action": "on", "confirmed": "on"})
    assert response.status_code == 404
    assert_nothing_changed()


@pytest.mark.django_db
def test_the_board_refuses_get_for_changes(client, staff):
    assert client.get(change_url("custom_slugs"), {"action": "on"}).status_code == 405
    assert_nothing_changed()


@pytest.mark.django_db
def test_a_change_that_changes_nothing_leaves_no_trail(client, staff):
    response = client.post(change_url("qr_codes"), {"action": "on", "confirmed": "on"})
    assert response.status_code == 303
    assert flag("qr_codes").everyone is True
    assert not FlagChange.objects.exists()
