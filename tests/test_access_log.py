"""ACCESS_LOG: one line per request (method, path without query, status, time, address)."""

import logging
import re

import pytest

from config.access_log import line
from tests.conftest import make_link, run_manage

LINE = re.compile(r"(\S+) (\S+) (\d{3}) (\d+\.\d\d)ms (\S+)")


@pytest.fixture
def access_log(settings):
    settings.MIDDLEWARE = ["config.access_log.AccessLogMiddleware", *settings.MIDDLEWARE]
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.mark.django_db
def test_one_line_per_request_redirects_pages_and_refusals_alike(client, access_log, caplog):
    make_link(slug="launch", target="https://example.com/")
    with caplog.at_level(logging.INFO, logger="torii.access"):
        client.get("/launch?utm=secret-token", headers={"X-Forwarded-For": "203.0.113.7"})
        client.get("/accounts/login/", REMOTE_ADDR="198.51.100.2")
        client.get("/no-such-link-here")
    lines = [r.getMessage() for r in caplog.records if r.name == "torii.access"]
    assert len(lines) == 3
    parsed = [LINE.fullmatch(text).groups() for text in lines]
    assert parsed[0][:3] == ("GET", "/launch", "302") and parsed[0][4] == "203.0.113.7"
    assert parsed[1][:3] == ("GET", "/accounts/login/", "200")
    assert parsed[2][2] == "404"
    assert "secret-token" not in " ".join(lines)  # the query is never logged


def test_a_path_cannot_forge_a_log_line():
    text = line("GET", "/a\nGET /admin/ 200 0.01ms 10.0.0.1", 404, 0.0001, "192.0.2.1")
    assert "\n" not in text
    assert text == "GET /a%0AGET%20/admin/%20200%200.01ms%2010.0.0.1 404 0.10ms 192.0.2.1"


def test_off_by_default_and_on_by_the_setting():
    check = "from django.conf import settings; print('config.access_log.AccessLogMiddleware' in settings.MIDDLEWARE)"  # noqa: E501
    assert run_manage("shell", "-c", check).stdout.strip().endswith("False")
    assert (
        run_manage("shell", "-c", check, env={"ACCESS_LOG": "on"}).stdout.strip().endswith("True")
    )
    refused = run_manage("check", env={"ACCESS_LOG": "sometimes"})
    assert refused.returncode == 2 and "ACCESS_LOG='sometimes'" in refused.stderr
