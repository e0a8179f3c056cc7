"""Configuration comes from the environment; malformed values stop start-up naming the variable."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import environment
from tests.conftest import run_manage


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("On", True), ("yes", True), ("0", False), ("off", False)],
)
def test_boolean_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert environment.boolean("SOME_FLAG", default=not expected) is expected


def test_boolean_default_when_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert environment.boolean("SOME_FLAG", default=True) is True


def test_boolean_refuses_maybe_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        environment.boolean("DEBUG", default=False)


@pytest.mark.parametrize("value", ["junk", "mysql://x/y", "postgres://", "http://example.com/db"])
def test_database_url_refuses_junk(monkeypatch, value):
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        environment.database("DATABASE_URL", "sqlite:///x.sqlite3")


def test_database_url_parses_postgres(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    config = environment.database("DATABASE_URL", "sqlite:///x")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("test", "127.0.0.1", 5432)


def test_redis_url_refuses_other_schemes(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        environment.redis_url("REDIS_URL")


def test_integer_refuses_words(monkeypatch):
    monkeypatch.setenv("CONN_MAX_AGE", "forever")
    with pytest.raises(ImproperlyConfigured, match="CONN_MAX_AGE"):
        environment.integer("CONN_MAX_AGE", 600)


def test_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "go.example.com, example.org ,")
    assert environment.string_list("ALLOWED_HOSTS", []) == ["go.example.com", "example.org"]


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = environment.secret_key("SECRET_KEY", tmp_path / "data")
    second = environment.secret_key("SECRET_KEY", tmp_path / "data")
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "not a url"),
        ("SECURE_SSL", "perhaps"),
        ("COUNTRY_HEADER", "CF IPCountry: x"),
        ("GEOIP_PATH", "/tmp"),
        ("RATE_LIMIT_LINK_PASSWORD", "10/fortnight"),
        ("CACHE_KEY_PREFIX", "torii:live"),
    ],
)
def test_start_up_stops_on_a_malformed_variable(name, value):
    result = run_manage("check", env={name: value})
    assert result.returncode == 2
    # One paragraph naming the variable and its value, no traceback above it.
    assert result.stderr.startswith(f"Torii cannot start: {name}=")
    assert "Traceback" not in result.stderr
    assert "ImproperlyConfigured" not in result.stderr
    assert len(result.stderr.splitlines()) <= 3


def test_the_production_server_stops_on_a_malformed_variable_without_a_traceback():
    """granian imports config.wsgi in each worker: the same paragraph, and granian exits."""
    import subprocess

    from tests.conftest import ROOT
    from tests.servers import free_port

    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--port",
            str(free_port()),
            "--workers",
            "1",
            "--respawn-failed-workers",
            "--no-ws",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "maybe"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Torii cannot start: DEBUG='maybe' is not a boolean" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("value", ["torii:live", "torii*", "two words", "ü", "k" * 65])
def test_a_cache_key_prefix_that_clearing_could_not_match_exactly_is_refused(monkeypatch, value):
    # `:` ends Django's prefix and `*` is SCAN's wildcard: either would let clear() reach
    # another site's keys.
    monkeypatch.setenv("CACHE_KEY_PREFIX", value)
    with pytest.raises(ImproperlyConfigured, match="CACHE_KEY_PREFIX"):
        environment.key_prefix("CACHE_KEY_PREFIX", "torii")


def test_a_cache_key_prefix_unset_or_empty_is_the_default(monkeypatch):
    monkeypatch.setenv("CACHE_KEY_PREFIX", " torii-staging ")
    assert environment.key_prefix("CACHE_KEY_PREFIX", "torii") == "torii-staging"
    monkeypatch.setenv("CACHE_KEY_PREFIX", "")
    assert environment.key_prefix("CACHE_KEY_PREFIX", "torii") == "torii"
    monkeypatch.delenv("CACHE_KEY_PREFIX")
    assert environment.key_prefix("CACHE_KEY_PREFIX", "torii") == "torii"


def test_deploy_checks_pass_with_secure_ssl():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env={"SECURE_SSL": "true", "DEBUG": "false"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_checks_fail_without_secure_ssl():
    # Proves the check above is not vacuous: without TLS settings Django warns.
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env={"SECURE_SSL": "false"})
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_waffle_override_is_off():
    from django.conf import settings

    assert settings.WAFFLE_OVERRIDE is False


def test_country_settings_read_a_header_name_and_a_file_that_may_come_later(monkeypatch, tmp_path):
    monkeypatch.setenv("COUNTRY_HEADER", " CF-IPCountry ")
    assert environment.header_name("COUNTRY_HEADER") == "CF-IPCountry"
    monkeypatch.delenv("COUNTRY_HEADER")
    assert environment.header_name("COUNTRY_HEADER") == ""
    monkeypatch.setenv("GEOIP_PATH", "data/countries.mmdb")
    assert environment.file_path("GEOIP_PATH", tmp_path) == tmp_path / "data/countries.mmdb"
    monkeypatch.setenv("GEOIP_PATH", "")
    assert environment.file_path("GEOIP_PATH", tmp_path) is None
