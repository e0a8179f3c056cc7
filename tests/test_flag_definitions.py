"""The flags and the switch Torii's code asks about exist from the first migrate, safely set."""

import pytest
import waffle
from django.contrib.auth.models import AnonymousUser
from waffle import get_waffle_flag_model, get_waffle_switch_model
from waffle.testutils import override_flag

from tests.conftest import make_user

DEFAULTS = {
    "custom_slugs": False,
    "qr_codes": True,
    "link_analytics": True,
    "api_v1": True,
    "open_signup": False,
    "anonymous_links": False,
}


def test_waffle_uses_torii_s_flag_model():
    from flags.models import FeatureFlag

    assert get_waffle_flag_model() is FeatureFlag


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "on"), DEFAULTS.items())
def test_each_flag_exists_with_its_safe_default_a_description_and_a_contact(rf, name, on):
    flag = get_waffle_flag_model().objects.get(name=name)
    assert flag.everyone is on
    assert flag.description and flag.contact
    assert flag.superusers is False  # on for exactly whom its rule names
    request = rf.get("/")
    request.user = AnonymousUser()
    assert waffle.flag_is_active(request, name) is on
    request.user = make_user(f"admin-{name}", is_staff=True, is_superuser=True)
    assert waffle.flag_is_active(request, name) is on


@pytest.mark.django_db
def test_anonymous_links_says_what_happens_to_the_links():
    description = get_waffle_flag_model().objects.get(name="anonymous_links").description
    assert "not signed in" in description and "cannot be edited" in description


@pytest.mark.django_db
def test_the_read_only_switch_exists_off_and_says_what_it_does():
    switch = get_waffle_switch_model().objects.get(name="read_only")
    assert switch.active is False
    assert "503" in switch.note


@pytest.mark.django_db
@pytest.mark.parametrize("on", [True, False])
def test_override_flag_flips_a_defined_flag_for_tests(rf, on):
    request = rf.get("/")
    request.user = AnonymousUser()
    with override_flag("custom_slugs", active=on):
        assert waffle.flag_is_active(request, "custom_slugs") is on


@pytest.mark.django_db
def test_a_flag_referenced_in_code_but_not_registered_is_refused_not_created(rf):
    from flags.registry import UnregisteredName

    request = rf.get("/")
    request.user = AnonymousUser()
    with pytest.raises(UnregisteredName):
        waffle.flag_is_active(request, "forgotten_flag")
    assert not get_waffle_flag_model().objects.filter(name="forgotten_flag").exists()
