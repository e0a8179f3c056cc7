"""A rule in words: what the board and the trail say about who gets a flag."""

from flags.rules import describe, percent_text

BASE = {
    "everyone": None,
    "percent": None,
    "groups": [],
    "users": [],
    "staff": False,
    "superusers": False,
    "authenticated": False,
    "languages": "",
    "testing": False,
    "rollout": False,
}


def rule(**changes):
    return {**BASE, **changes}


def test_everyone_overrides_the_rest():
    assert describe(rule(everyone=True, percent="10.0")) == "on for everyone"
    assert describe(rule(everyone=False, groups=["beta"])) == "off for everyone"


def test_a_percentage_groups_and_users():
    assert describe(rule(percent="12.5")) == "on for 12.5 % of visitors"
    assert describe(rule(percent="50.0")) == "on for 50 % of visitors"
    assert (
        describe(rule(percent="5.0", groups=["a", "b"], users=["bea"]))
        == "on for 5 % of visitors; groups: a, b; users: bea"
    )


def test_staff_superusers_signed_in_and_languages():
    assert describe(rule(staff=True, superusers=True)) == "on for all staff; all superusers"
    assert describe(rule(authenticated=True)) == "on for everyone signed in"
    assert describe(rule(languages="de,fr")) == "on for languages: de,fr"


def test_nobody_and_zero_percent():
    assert describe(rule()) == "off (nobody matches)"
    assert describe(rule(percent="0.0")) == "off (nobody matches)"


def test_switches_and_missing_things():
    assert describe({"active": True}) == "on"
    assert describe({"active": False}) == "off"
    assert describe(None) == "does not exist"


def test_percent_text_makes_equal_percentages_equal():
    assert percent_text(50) == percent_text("50.0") == percent_text(50.0) == "50.0"
    assert percent_text(None) is None
