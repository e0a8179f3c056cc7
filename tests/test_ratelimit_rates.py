"""Rate strings: `600/m`, `5000/h`, `off`; anything else stops start-up naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import environment
from config.ratelimit.rates import InvalidRate, Rate, parse_rate
from tests.conftest import run_manage


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("600/m", Rate(600, 60)),
        ("30/M", Rate(30, 60)),
        ("5000/h", Rate(5000, 3600)),
        ("1/s", Rate(1, 1)),
        ("100/5m", Rate(100, 300)),
        ("2/d", Rate(2, 86400)),
        (" 10/m ", Rate(10, 60)),
    ],
)
def test_parse_rate_reads_count_and_window(value, expected):
    assert parse_rate(value) == expected


@pytest.mark.parametrize("value", ["off", "OFF", " off "])
def test_off_means_no_limit(value):
    assert parse_rate(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "0/m",
        "-1/s",
        "10/fortnight",
        "",
        " ",
        "10",
        "10/",
        "/m",
        "10/0m",
        "1.5/m",
        "10/m/s",
        "ten/m",
        "10 / m",
        "1e3/m",
        "\uff11\uff10/m",  # fullwidth digits
        "9999999999/m",
    ],
)
def test_parse_rate_refuses_malformed_values(value):
    with pytest.raises(InvalidRate):
        parse_rate(value)


def test_django_ratelimit_itself_would_read_fortnight_as_seconds():
    # Why the parser is ours: django-ratelimit matches a prefix and defaults the unit.
    from django_ratelimit.core import _split_rate

    assert _split_rate("10/fortnight") == (10, 1)


def test_environment_rate_names_the_variable(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "10/fortnight")
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_LOGIN='10/fortnight'"):
        environment.rate("RATE_LIMIT_LOGIN", "10/m")


def test_environment_rate_default_when_unset(monkeypatch):
    monkeypatch.delenv("RATE_LIMIT_LOGIN", raising=False)
    assert environment.rate("RATE_LIMIT_LOGIN", "10/m") == Rate(10, 60)


def test_an_empty_rate_variable_is_refused_not_read_as_the_default(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_API", "")
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_API"):
        environment.rate("RATE_LIMIT_API", "5000/h")


def test_fail_open_groups_must_be_known(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_FAIL_OPEN", "redirect,logn")
    with pytest.raises(ImproperlyConfigured, match=r"RATE_LIMIT_FAIL_OPEN.*logn"):
        environment.choices("RATE_LIMIT_FAIL_OPEN", [], ("redirect", "login"))


def test_settings_hold_a_rate_for_every_group():
    from django.conf import settings

    from config.ratelimit.rates import GROUPS

    assert set(settings.RATE_LIMITS) == set(GROUPS)
    assert set(settings.RATE_LIMIT_GROUPS.values()) <= set(GROUPS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_REDIRECT", "0/m"),
        ("RATE_LIMIT_CREATE", "-1/s"),
        ("RATE_LIMIT_LOGIN", "10/fortnight"),
        ("RATE_LIMIT_API", ""),
        ("RATE_LIMIT_WEBHOOK", "lots"),
        ("RATE_LIMIT_DEFAULT", "0/m"),
        ("RATE_LIMIT_AUTH_FAILURES", "20/minute"),
        ("RATE_LIMIT_FAIL_OPEN", "everything"),
        ("WEBHOOK_REPLAY_WINDOW_HOURS", "0"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("TRUSTED_PROXY_COUNT", "two"),
    ],
)
def test_start_up_stops_on_a_bad_rate_limit_variable(name, value):
    result = run_manage("check", env={name: value})
    assert result.returncode != 0
    # One paragraph naming the variable (config/startup.py), no traceback.
    assert result.stderr.startswith(f"Torii cannot start: {name}=")
    assert "Traceback" not in result.stderr


def test_start_up_accepts_off_and_good_rates():
    result = run_manage("check", env={"RATE_LIMIT_REDIRECT": "off", "RATE_LIMIT_API": "100/5m"})
    assert result.returncode == 0, result.stderr


def test_failed_authentication_has_its_own_group_and_fails_open_by_default():
    from django.conf import settings

    assert settings.RATE_LIMITS["auth-failures"] == Rate(20, 60)
    assert "auth-failures" in settings.RATE_LIMIT_FAIL_OPEN


def check_ids(settings_changes, settings) -> list[str]:
    from config.ratelimit.checks import rate_limit_settings

    for name, value in settings_changes.items():
        setattr(settings, name, value)
    return [error.id for error in rate_limit_settings(None)]


def test_system_checks_pass_on_the_shipped_settings(settings):
    assert check_ids({}, settings) == []


def test_system_check_refuses_a_string_rate_in_code(settings):
    rates = {**settings.RATE_LIMITS, "login": "10/m"}
    assert check_ids({"RATE_LIMITS": rates}, settings) == ["ratelimit.E001"]


def test_system_check_refuses_an_unknown_group(settings):
    groups = {**settings.RATE_LIMIT_GROUPS, "follow": "redirects"}
    assert check_ids({"RATE_LIMIT_GROUPS": groups}, settings) == ["ratelimit.E002"]


def test_system_check_refuses_the_middleware_before_authentication(settings):
    stack = [m for m in settings.MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
    stack.insert(0, "config.ratelimit.middleware.RateLimitMiddleware")
    assert check_ids({"MIDDLEWARE": stack}, settings) == ["ratelimit.E003"]
