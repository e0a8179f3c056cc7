"""The target policy (shortener/targets.py): pure functions, no database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shortener import targets

OWN = ["torii.example", "localhost", "127.0.0.1"]
BLOCKED = ["evil.example", "phish.test"]

HOSTILE = [
    # schemes
    ("javascript:alert(1)", "javascript:"),
    ("JaVaScRiPt:alert(document.cookie)", "javascript:"),
    ("data:text/html,<script>alert(1)</script>", "data:"),
    ("file:///etc/passwd", "file:"),
    ("ftp://example.com/file", "ftp:"),
    ("mailto:someone@example.com", "mailto:"),
    ("vbscript:msgbox(1)", "vbscript:"),
    ("gopher://example.com/", "gopher:"),
    # not absolute / no host
    ("/relative/path", "full address"),
    ("//example.com/protocol-relative", "full address"),
    ("example.com", "full address"),
    ("http:/example.com", "no host"),
    ("http://", "no host"),
    ("https:///path-only", "no host"),
    # credentials
    ("http://user:pass@example.com/", "user name or password"),
    ("https://admin@example.com", "user name or password"),
    ("http://example.com@127.0.0.1/", "user name or password"),
    # whitespace and control characters
    ("http://example.com/a b", "spaces"),
    ("http://example.com/\r\nSet-Cookie: x=1", "spaces"),
    ("http://example.com/\x00", "control"),
    ("http://exa\tmple.com/", "spaces"),
    ("http://example.com/\u200bhidden", "control"),
    (" http://example.com/", "spaces"),
    # loopback, private and metadata in every notation
    ("http://localhost/", "local name"),
    ("http://LOCALHOST:8000/admin", "local name"),
    ("http://foo.localhost/", "local name"),
    ("http://printer.local/", "local name"),
    ("http://metadata.google.internal/", "local name"),
    ("http://127.0.0.1/", "private"),
    ("http://127.1/", "private"),
    ("http://2130706433/", "private"),
    ("http://0177.0.0.1/", "private"),
    ("http://0x7f.0.0.1/", "private"),
    ("http://0x7f000001/", "private"),
    ("http://0/", "private"),
    ("http://0.0.0.0/", "private"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "private"),
    ("http://100.64.0.1/", "private"),
    ("http://[::1]/", "private"),
    ("http://[::]/", "private"),
    ("http://[::ffff:127.0.0.1]/", "private"),
    ("http://[::ffff:7f00:1]/", "private"),
    ("http://[::ffff:169.254.169.254]/", "private"),
    ("http://[fe80::1]/", "private"),
    ("http://[fd00:ec2::254]/", "private"),
    ("http://[64:ff9b::a9fe:a9fe]/", "private"),
    ("http://[2002:7f00:1::]/", "private"),
    ("http://224.0.0.1/", "private"),
    ("http://%31%32%37.0.0.1/", "Percent-encoded"),
    ("http://1.2.3.4.5/", "not a valid IP"),
    ("http://256.1.1.1/", "not a valid IP"),
    ("http://intranet/", "not a full domain"),
    # loops to this site
    ("https://torii.example/abc", "loop"),
    ("https://go.torii.example/abc", "loop"),
    ("http://TORII.EXAMPLE./x", "loop"),
    # blocklist, domain and subdomains
    ("https://evil.example/", "blocked"),
    ("https://login.evil.example/account", "blocked"),
    ("https://PHISH.TEST/", "blocked"),
    # malformed
    ("http://example.com:99999/", "malformed"),
    ("http://example.com:port/", "malformed"),
    ("http://[::1/", "malformed"),
    ("http://exa mple.com/", "spaces"),
    ("http://-bad-.example/", "not a valid domain"),
    ("http://example.com\\@evil.example/", "backslash"),
    ("https://" + "a" * 2050 + ".com/", "longer than"),
    ("https://example.com/" + "x" * 2040, "longer than"),
    ("", "Enter the address"),
]


@pytest.mark.parametrize(("url", "expected"), HOSTILE, ids=[u[:40] for u, _ in HOSTILE])
def test_hostile_targets_are_refused_with_a_sentence(url, expected):
    verdict = targets.check(url, own_hosts=OWN, blocked_domains=BLOCKED)
    assert not verdict.ok
    assert verdict.url is None
    assert expected.lower() in verdict.reason.lower()
    assert verdict.reason.endswith(".")


def test_there_are_at_least_forty_hostile_cases():
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://example.com", "https://example.com"),
        (
            "HTTPS://Example.COM/Path/Kept?Query=Kept#Frag",
            "https://example.com/Path/Kept?Query=Kept#Frag",
        ),
        ("http://bücher.example/straße", "http://xn--bcher-kva.example/straße"),
        ("https://example.com/a?", "https://example.com/a?"),
        ("http://134744072/", "http://8.8.8.8/"),
        ("http://8.8.8.8:8080/dns", "http://8.8.8.8:8080/dns"),
        ("https://[2001:4860:4860::8888]/", "https://[2001:4860:4860::8888]/"),
        ("https://example.com/%7Euser/a%20b", "https://example.com/%7Euser/a%20b"),
        ("https://sub_domain.example.com/", "https://sub_domain.example.com/"),
        ("https://notevil.example/", "https://notevil.example/"),
    ],
)
def test_good_targets_are_normalised_and_kept_as_given(url, normalised):
    verdict = targets.check(url, own_hosts=OWN, blocked_domains=BLOCKED)
    assert verdict.ok, verdict.reason
    assert verdict.url == normalised


def test_an_exactly_2048_character_target_is_accepted():
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    assert targets.check(url).url == url


@pytest.mark.parametrize(
    ("host", "domain", "matches"),
    [
        ("evil.example", "evil.example", True),
        ("a.b.evil.example", "evil.example", True),
        ("notevil.example", "evil.example", False),
        ("evil.example.org", "evil.example", False),
        ("x.evil.example", "*.evil.example", True),
        ("EVIL.example.", "evil.example", True),
    ],
)
def test_domain_matching_covers_subdomains_only(host, domain, matches):
    assert targets.matches_domain(host, domain) is matches


@given(st.text(max_size=300))
def test_the_policy_never_raises_and_what_it_accepts_it_accepts_again(text):
    verdict = targets.check(text, own_hosts=OWN, blocked_domains=BLOCKED)
    assert verdict.ok != (verdict.reason is not None)
    if verdict.ok:
        again = targets.check(verdict.url, own_hosts=OWN, blocked_domains=BLOCKED)
        assert again.ok and again.url == verdict.url
        assert verdict.url.startswith(("http://", "https://"))


@given(st.from_regex(r"https?://[a-zA-Z0-9.:\[\]%@_-]{0,40}(/[ -~]{0,20})?", fullmatch=True))
def test_url_shaped_input_never_raises(text):
    verdict = targets.check(text, own_hosts=OWN, blocked_domains=BLOCKED)
    assert verdict.ok != (verdict.reason is not None)
