"""The redirect fast path (config/fast_redirects.py) answers exactly as Django's request
cycle does: every kind and state of link, and bad input, sent through both WSGI
applications with the same state before each, compared by status, headers and body.

Pages Django renders carry a fresh CSP nonce and CSRF token each time, and an Expires
header of the current second: those values are masked, nothing else."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from django.utils import timezone

from config.fast_redirects import FastRedirects
from shortener.links import passwords
from shortener.redirect.lookup import forget_lookups
from shortener.visits.recording import buffer
from tests.conftest import make_domain, make_link

pytestmark = pytest.mark.django_db

SITE = "testserver"
MOBILE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
NONCE = re.compile(rb"nonce-[A-Za-z0-9+/=_-]+|nonce=\"[^\"]+\"|\"X-CSRFToken\": \"[^\"]+\"")


@pytest.fixture
def apps(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.CONFIGURED_HOSTS = [SITE, "127.0.0.1"]
    # As Django's test client does: the test's connection (and its transaction) stays
    # open across the WSGI requests made here.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield FastRedirects(), WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def environ(path: str, method: str = "GET", host: str = SITE, **headers) -> dict:
    made = RequestFactory().generic(method, "/", HTTP_HOST=host, **headers).environ
    made["PATH_INFO"] = path  # as a server hands it: Latin-1 text, odd bytes and all
    made.pop("torii.context", None)
    return made


def call(app, env: dict) -> tuple[str, list, bytes]:
    env = {**env, "wsgi.input": BytesIO(b"")}
    answered = []

    def start_response(status, headers, exc_info=None):
        answered.append((status, headers))

    body = b"".join(app(env, start_response))
    status, headers = answered[0]
    shown = [(name, NONCE.sub(b"nonce", value.encode()).decode()) for name, value in headers]
    shown = [(n, v.split("=")[0] if n == "Set-Cookie" else v) for n, v in shown]
    # never_cache's Expires is the clock's second: two requests may straddle one.
    shown = [(n, "a date" if n == "Expires" else v) for n, v in shown]
    return status, sorted(shown), NONCE.sub(b"nonce", body)


def fresh_state() -> None:
    """The same state before each path's request: no cached lookups, counters or buckets."""
    forget_lookups()
    caches["counters"].clear()


def both(apps, env: dict, times: int = 1) -> tuple[list, list]:
    fast, django = apps
    answers = []
    for app in (fast, django):
        fresh_state()
        answers.append([call(app, env) for _ in range(times)])
    return answers[0], answers[1]


def assert_same(fast: list, django: list) -> None:
    for mine, theirs in zip(fast, django, strict=True):
        assert mine[:2] == theirs[:2]  # status and headers
        assert (
            mine[2].decode(errors="replace").splitlines()
            == theirs[2].decode(errors="replace").splitlines()
        )


def links():
    short = make_domain("go.example.org")
    past = timezone.now() - timedelta(days=1)
    locked = make_link(slug="locked", password=passwords.hashed("open sesame"))
    made = {
        "plain": make_link(slug="plain"),
        "permanent": make_link(slug="perm", redirect_code=301),
        "temporary 307": make_link(slug="t307", redirect_code=307),
        "permanent 308": make_link(slug="p308", redirect_code=308),
        "short domain": make_link(slug="plain", domain=short, target="https://example.org/x"),
        "disabled": make_link(slug="off", is_active=False),
        "expired": make_link(slug="old", expires_at=past),
        "used up": make_link(slug="done", max_visits=1, visit_count=1),
        "limited": make_link(slug="lim", max_visits=5),
        "quarantined": make_link(slug="quar", quarantined_at=past),
        "deleted": make_link(slug="gone", delete=True),
        "ruled": make_link(
            slug="ruled",
            rules=[{"target": "https://m.example.com/", "when": {"device": ["mobile"]}}],
        ),
        "forwarding": make_link(slug="fwd", forward_query="merge"),
        "locked": locked,
    }
    return made, short, locked


CASES = [
    ("plain", "/plain", {}),
    ("HEAD of a plain link", "/plain", {"method": "HEAD"}),
    ("301", "/perm", {}),
    ("307", "/t307", {}),
    ("308", "/p308", {}),
    ("short domain", "/plain", {"host": "go.example.org"}),
    ("short domain with a port", "/plain", {"host": "go.example.org:8443"}),
    ("another domain's slug", "/perm", {"host": "go.example.org"}),
    ("disabled", "/off", {}),
    ("expired", "/old", {}),
    ("used up", "/done", {}),
    ("visit limit left", "/lim", {}),
    ("quarantined", "/quar", {}),
    ("deleted", "/gone", {}),
    ("unknown", "/nosuchslug", {}),
    ("longest slug, unknown", "/" + "a" * 64, {}),
    ("overlong", "/" + "a" * 65, {}),
    ("rule for mobiles, desktop", "/ruled", {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux)"}),
    ("rule for mobiles, mobile", "/ruled", {"HTTP_USER_AGENT": MOBILE}),
    ("forwarding a query", "/fwd", {"QUERY_STRING": "utm=x&b=%C3%BC"}),
    ("protected, no cookie", "/locked", {}),
    ("protected, a forged cookie", "/locked", {"HTTP_COOKIE": "torii_link_pass=1:forged"}),
    ("health path", "/healthz", {}),
    ("liveness", "/livez", {}),
    ("a page's name", "/links", {}),
    ("odd bytes", "/ab\xffc", {}),
    ("a NUL", "/abc\x00", {}),
    ("a trailing slash", "/plain/", {}),
    ("OPTIONS", "/plain", {"method": "OPTIONS"}),
    ("POST", "/plain", {"method": "POST"}),
    ("a host not ours", "/plain", {"host": "evil.example"}),
    ("a malformed host", "/plain", {"host": "bad host"}),
    ("an absurd host", "/plain", {"host": "a" * 300}),
    ("a forwarded-for of garbage", "/plain", {"HTTP_X_FORWARDED_FOR": "zz, 300.1.1.1, ::g"}),
    ("a long forwarded-for", "/plain", {"HTTP_X_FORWARDED_FOR": ", ".join(["10.0.0.1"] * 500)}),
]


@pytest.mark.parametrize(("name", "path", "how"), CASES, ids=[case[0] for case in CASES])
def test_each_request_gets_the_same_answer_on_both_paths(apps, name, path, how):
    links()
    how = dict(how)
    env = environ(path, how.pop("method", "GET"), how.pop("host", SITE), **how)
    fast, django = both(apps, env)
    assert_same(fast, django)


def test_a_protected_link_with_its_cookie_redirects_alike(apps):
    _, _, locked = links()
    cookie = passwords.cookie_value(locked.pk, locked.password)
    env = environ("/locked", HTTP_COOKIE=f"{passwords.COOKIE_NAME}={cookie}")
    fast, django = both(apps, env)
    assert_same(fast, django)
    assert fast[0][0].startswith("302") and ("Vary", "Cookie") in fast[0][1]


def test_the_fast_path_answers_live_redirects_itself_and_records_each_visit(apps, monkeypatch):
    made, _, _ = links()
    fast, _ = apps
    called = []
    monkeypatch.setattr(WSGIHandler, "__call__", lambda *a: called.append(a) or [])
    before = buffer.pending()
    status, headers, body = call(fast, environ("/plain"))
    assert status == "302 Found" and ("Location", made["plain"].target) in headers
    assert body == b"" and called == []  # Django's handler never ran
    assert buffer.pending() == before + 1


def test_a_flood_from_one_address_is_refused_alike(apps, settings):
    from config.ratelimit.rates import Rate

    links()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "redirect": Rate(3, 60)}
    fast, django = both(apps, environ("/plain", REMOTE_ADDR="203.0.113.9"), times=5)
    assert [answer[0][:3] for answer in fast] == ["302"] * 3 + ["429"] * 2
    assert_same(fast, django)


def test_a_refusal_passed_on_is_not_counted_twice(apps, settings):
    """An unknown slug is counted once by the fast path, then answered by Django."""
    from config.ratelimit.rates import Rate

    links()
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "redirect": Rate(2, 60)}
    fast, django = both(apps, environ("/nosuchslug", REMOTE_ADDR="203.0.113.10"), times=3)
    assert [answer[0][:3] for answer in fast] == ["404", "404", "429"]
    assert_same(fast, django)


def test_with_the_access_log_on_the_fast_path_logs_its_answers_too(settings, caplog):
    links()
    settings.ACCESS_LOG = True
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        fast = FastRedirects()
        with caplog.at_level("INFO", logger="torii.access"):
            status, _, _ = call(fast, environ("/plain", REMOTE_ADDR="198.51.100.4"))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert status == "302 Found"
    lines = [r.getMessage() for r in caplog.records if r.name == "torii.access"]
    assert len(lines) == 1 and re.fullmatch(r"GET /plain 302 \d+\.\d\dms 198\.51\.100\.4", lines[0])
