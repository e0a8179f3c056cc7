"""Visitors' countries: a trusted proxy's header, then a MaxMind-format file, else unknown.
The address is never stored; bad headers and bad files never fail a redirect."""

import json
import os
from datetime import date

import pytest

from shortener.models import Visit
from shortener.policy import countries
from shortener.visits import countries as lookups
from tests.conftest import flush_visits, make_link
from tests.geoip import write_country_database


@pytest.fixture
def geoip(settings, tmp_path):
    settings.GEOIP_PATH = write_country_database(tmp_path / "countries.mmdb")
    lookups.lookup.cache_clear()
    yield settings.GEOIP_PATH
    lookups.lookup.cache_clear()


@pytest.fixture(autouse=True)
def _no_country_sources(settings):
    settings.GEOIP_PATH = None
    settings.COUNTRY_HEADER = ""
    settings.COUNTRY_HEADER_META = ""
    settings.TRUSTED_PROXY_COUNT = 0
    lookups.lookup.cache_clear()


def meta(address="192.0.2.7", **headers) -> dict:
    return {"REMOTE_ADDR": address, **headers}


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("192.0.2.7", "DE"),
        ("192.0.2.200", "JP"),
        ("198.51.100.1", "US"),
        ("2001:db8::1", "US"),
        ("203.0.113.9", ""),  # not in the file
        ("not an address", ""),
        ("", ""),
    ],
)
def test_the_database_file_answers_for_an_address(geoip, address, code):
    assert lookups.country_of(meta(address)) == code


def trusted_header(settings, proxies=1):
    settings.COUNTRY_HEADER = "CF-IPCountry"
    settings.COUNTRY_HEADER_META = "HTTP_CF_IPCOUNTRY"
    settings.TRUSTED_PROXY_COUNT = proxies


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"HTTP_CF_IPCOUNTRY": "fr", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "FR"),
        # No hop from our proxy: a client reached us directly and forged it.
        ({"HTTP_CF_IPCOUNTRY": "FR"}, "DE"),
        ({"HTTP_CF_IPCOUNTRY": "XX", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "DE"),
        ({"HTTP_CF_IPCOUNTRY": "T1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "DE"),
        ({"HTTP_CF_IPCOUNTRY": "<script>", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "DE"),
        ({"HTTP_CF_IPCOUNTRY": "\udcff\udcfe", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "DE"),
        ({"HTTP_CF_IPCOUNTRY": "", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, "DE"),
    ],
)
def test_a_trusted_proxys_header_comes_first_and_junk_falls_through(settings, geoip, headers, code):
    trusted_header(settings)
    assert lookups.country_of(meta(**headers)) == code


def test_the_header_is_never_read_without_trusted_proxies(settings):
    settings.COUNTRY_HEADER = "CF-IPCountry"
    settings.COUNTRY_HEADER_META = "HTTP_CF_IPCOUNTRY"
    forged = meta(HTTP_CF_IPCOUNTRY="FR", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert lookups.country_of(forged) == ""


def test_two_trusted_proxies_need_two_hops(settings):
    trusted_header(settings, proxies=2)
    assert lookups.country_of(meta(HTTP_CF_IPCOUNTRY="FR", HTTP_X_FORWARDED_FOR="1.2.3.4")) == ""
    two_hops = meta(HTTP_CF_IPCOUNTRY="FR", HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.1")
    assert lookups.country_of(two_hops) == "FR"


def test_a_missing_file_is_unknown_and_logged_once(settings, tmp_path, caplog):
    settings.GEOIP_PATH = tmp_path / "nowhere.mmdb"
    assert lookups.country_of(meta()) == ""
    assert lookups.country_of(meta("198.51.100.1")) == ""
    assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_a_corrupt_file_is_unknown(settings, tmp_path, content):
    path = tmp_path / "corrupt.mmdb"
    path.write_bytes(content)
    settings.GEOIP_PATH = path
    assert lookups.country_of(meta()) == ""


def test_a_truncated_file_is_unknown(settings, tmp_path):
    good = write_country_database(tmp_path / "good.mmdb").read_bytes()
    path = tmp_path / "cut.mmdb"
    path.write_bytes(good[: len(good) // 3] + good[-2000:])
    settings.GEOIP_PATH = path
    assert lookups.country_of(meta()) in ("", "DE")  # whatever survives, never an error


@pytest.mark.django_db
def test_a_visit_keeps_its_country_and_not_the_address(client, geoip):
    link = make_link()
    client.get(f"/{link.slug}", REMOTE_ADDR="192.0.2.200")
    flush_visits()
    visit = Visit.objects.get(link=link)
    assert visit.country == "JP"
    stored = " ".join(str(value) for value in Visit.objects.values().get().values())
    assert "192.0.2.200" not in stored


@pytest.mark.django_db
def test_a_forged_header_without_proxies_is_not_the_visits_country(client, settings, geoip):
    settings.COUNTRY_HEADER = "CF-IPCountry"
    settings.COUNTRY_HEADER_META = "HTTP_CF_IPCOUNTRY"
    link = make_link()
    client.get(f"/{link.slug}", REMOTE_ADDR="192.0.2.7", HTTP_CF_IPCOUNTRY="FR")
    flush_visits()
    assert Visit.objects.get(link=link).country == "DE"


def test_flags_are_text_and_names_are_read():
    assert countries.flag("DE") == "\U0001f1e9\U0001f1ea"
    assert countries.flag("") == "" and countries.flag("XX") == ""
    assert countries.name("JP") == "Japan" and countries.name("") == "Unknown"


def test_a_replaced_file_is_read_again_without_a_restart(settings, tmp_path, monkeypatch):
    """The monthly update renames a new file over the old one: within RECHECK_SECONDS
    every worker answers from the new file, and a file that goes missing keeps none."""
    path = write_country_database(tmp_path / "countries.mmdb")
    settings.GEOIP_PATH = path
    clock = [1000.0]
    monkeypatch.setattr(lookups, "monotonic", lambda: clock[0])
    assert lookups.country_of(meta("192.0.2.7")) == "DE"

    newer = write_country_database(tmp_path / "new.mmdb", {"FR": ["192.0.2.0/24"]})
    newer.replace(path)
    clock[0] += lookups.RECHECK_SECONDS / 2
    assert lookups.country_of(meta("192.0.2.7")) == "DE"  # not looked at yet
    clock[0] += lookups.RECHECK_SECONDS
    assert lookups.country_of(meta("192.0.2.7")) == "FR"
    assert lookups.country_of(meta("198.51.100.1")) == ""  # gone from the new file

    path.unlink()
    clock[0] += lookups.RECHECK_SECONDS + 1
    assert lookups.country_of(meta("192.0.2.7")) == ""


def shipped_database(settings):
    """The file `npm ci` installs (package-lock.json); without npm it is missing, which
    CI (which has npm) never accepts."""
    path = settings.GEOIP_DEFAULT_PATH
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: `make install` installs it with npm")
        pytest.skip(f"{path} is missing: `make install` installs it with npm")
    return path


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("8.8.8.8", "US"),  # Google's resolver
        ("193.0.6.139", "NL"),  # RIPE NCC, Amsterdam
        ("133.242.0.3", "JP"),
        ("200.160.2.3", "BR"),  # NIC.br
        ("2001:4860:4860::8888", "US"),
        ("127.0.0.1", ""),  # not a public address: in no file
        ("10.0.0.1", ""),
    ],
)
def test_the_shipped_database_answers_for_public_addresses(settings, address, code):
    settings.GEOIP_PATH = shipped_database(settings)
    assert lookups.country_of(meta(address)) == code


def test_the_shipped_database_says_what_it_is_and_when_it_was_built(settings):
    settings.GEOIP_PATH = shipped_database(settings)
    answering = lookups.answering()
    assert answering.shipped and answering.file_name == "geo-whois-asn-country.mmdb"
    assert answering.database_type == "country ipvAll"  # its metadata, as the page shows it
    assert answering.built >= date(2026, 6, 1)  # the pinned release was built 2026-06-17
    # Its data is the registries' (NRO, CC BY 4.0): the stats page credits it.
    licence = (settings.GEOIP_DEFAULT_PATH.parent / "NRO_LICENSE").read_text()
    assert "Creative Commons Attribution 4.0" in licence


def test_the_shipped_database_is_what_npm_ci_installs(settings):
    lock = json.loads((settings.BASE_DIR / "package-lock.json").read_text())
    package = "node_modules/@ip-location-db/geo-whois-asn-country-mmdb"
    assert (
        lock["packages"][package]["version"]
        == lock["packages"][""]["dependencies"][package.removeprefix("node_modules/")]
    )
    assert settings.GEOIP_DEFAULT_PATH.parent == settings.BASE_DIR / package
    assert not lock["packages"][package].get("dev")  # a runtime need, not a test tool


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "default"),
        ("", "default"),
        ("  ", "default"),
        ("off", None),
        ("OFF", None),
        (" off ", None),
        ("data/countries.mmdb", "data/countries.mmdb"),
    ],
)
def test_geoip_path_defaults_to_the_shipped_file_and_off_turns_it_off(
    monkeypatch, tmp_path, value, expected
):
    from config import environment

    if value is None:
        monkeypatch.delenv("GEOIP_PATH", raising=False)
    else:
        monkeypatch.setenv("GEOIP_PATH", value)
    default = tmp_path / "shipped.mmdb"
    found = environment.country_database("GEOIP_PATH", tmp_path, default)
    if expected == "default":
        assert found == default
    else:
        assert found == (expected and tmp_path / expected)


def test_a_shipped_file_that_npm_never_installed_is_unknown_and_said_once(
    settings, tmp_path, caplog
):
    settings.GEOIP_DEFAULT_PATH = settings.GEOIP_PATH = tmp_path / "node_modules/x.mmdb"
    assert lookups.country_of(meta("8.8.8.8")) == ""
    assert lookups.country_of(meta("193.0.6.139")) == ""
    assert lookups.answering() is None and lookups.known_from() == ""
    said = [r for r in caplog.records if "not installed" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"
    assert "make install" in said[0].getMessage()


def test_turned_off_nothing_answers_and_nothing_is_opened(settings, monkeypatch):
    settings.GEOIP_PATH = None
    monkeypatch.setattr(lookups.maxminddb, "open_database", lambda *a: pytest.fail("opened"))
    assert lookups.country_of(meta("8.8.8.8")) == ""
    assert lookups.answering() is None and lookups.known_from() == ""


@pytest.mark.parametrize("content", [b"", b"\xab\xcd\xefMaxMind.com" + b"\x00" * 64])
def test_a_corrupt_file_answers_nothing_on_the_stats_page_either(settings, tmp_path, content):
    path = tmp_path / "corrupt.mmdb"
    path.write_bytes(content)
    settings.GEOIP_PATH = path
    assert lookups.country_of(meta("8.8.8.8")) == ""
    assert lookups.answering() is None
