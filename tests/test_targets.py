"""The target policy (shortener/targets.py): pure functions, no database."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shortener.policy import targets

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
    # IPv6 that is not global unicast, or that carries a non-global IPv4 address
    ("http://[::127.0.0.1]/", "private"),  # IPv4-compatible
    ("http://[::7f00:1]/", "private"),
    ("http://[::10.0.0.1]/", "private"),
    ("http://[0:0:0:0:0:0:169.254.169.254]/", "private"),
    ("http://[::ffff:0:127.0.0.1]/", "private"),  # IPv4-translated
    ("http://[::ffff:0:a00:1]/", "private"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "private"),  # IPv4-mapped, long form
    ("http://[::FFFF:7F00:0001]/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[::ffff:192.168.0.1]/", "private"),
    ("http://[::ffff:100.64.0.1]/", "private"),
    ("http://[::ffff:0.0.0.0]/", "private"),
    ("http://[64:ff9b::127.0.0.1]/", "private"),  # NAT64 well-known prefix
    ("http://[64:ff9b::10.0.0.1]/", "private"),
    ("http://[64:ff9b::c0a8:101]/", "private"),
    ("http://[64:ff9b:1::a9fe:a9fe]/", "private"),  # NAT64 local-use prefix
    ("http://[64:ff9b:1:a9fe:a9:fe00::]/", "private"),
    ("http://[2002:a9fe:a9fe::1]/", "private"),  # 6to4
    ("http://[2002:c0a8:101::]/", "private"),
    ("http://[2002:808:808::1]/", "private"),  # 6to4 of a public address: relayed, refused
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "private"),  # Teredo, client 127.0.0.1
    ("http://[2001:0:7f00:1::]/", "private"),  # Teredo, server 127.0.0.1
    ("http://[2001:4860:4860::5efe:a00:1]/", "private"),  # ISATAP id carrying 10.0.0.1
    ("http://[2001:4860:4860:0:200:5efe:7f00:1]/", "private"),  # ISATAP, universal bit
    ("http://[fec0::1]/", "private"),  # site-local (deprecated, still routed inside sites)
    ("http://[feC0:0:0:1::1]/", "private"),
    ("http://[fc00::1]/", "private"),  # unique local
    ("http://[fdff:ffff::1]/", "private"),
    ("http://[fe80::1]/", "private"),
    ("http://[febf::1]/", "private"),
    ("http://[ff02::1]/", "private"),  # multicast
    ("http://[ff0e::1]/", "private"),
    ("http://[100::1]/", "private"),  # discard-only
    ("http://[2001:db8::1]/", "private"),  # documentation
    ("http://[3fff::1]/", "private"),  # documentation (RFC 9637)
    ("http://[2001:2::1]/", "private"),  # benchmarking
    ("http://[2001:10::1]/", "private"),  # ORCHID
    ("http://[5f00::1]/", "private"),  # SRv6 SIDs
    ("http://[::2]/", "private"),
    ("http://[0::1]/", "private"),
    ("http://[::0:1]/", "private"),
    ("http://[::ffff:8.8.8.8]/", "link to 8.8.8.8 itself"),  # public, but say it plainly
    ("http://[64:ff9b::808:808]/", "link to 8.8.8.8 itself"),
    ("http://[fe80::1%25eth0]/", "Percent-encoded"),  # zone ids
    ("http://[::ffff:127.1]/", "malformed"),
    ("http://[1::2::3]/", "malformed"),
    # IPv4 written with Unicode digits or dots: UTS #46 maps them to ASCII first
    ("http://\uff11\uff12\uff17.0.0.1/", "private"),
    ("http://127\u30020\u30020\u30021/", "private"),
    ("http://127\uff0e0\uff0e0\uff0e1/", "private"),
    ("http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/", "local name"),
    ("http://LOCALHOST\u3002/", "local name"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "local name"),
    ("http://evil\uff0eexample/", "blocked"),
    ("http://\u2460\u2461\u2466.0.0.1/", "private"),  # circled digits
    ("http://0300.0250.0.1/", "private"),
    ("http://192.168.257/", "private"),
    ("http://0xc0a80101/", "private"),
    ("http://127.0.0.1./", "private"),
    ("http://loc\uff41lhost/", "local name"),
    ("http://localhost\uff0e/", "local name"),
    ("http://\uff3b::1\uff3d/", "malformed"),  # full-width brackets
    ("http://[::8.8.8.8]/", "link to 8.8.8.8 itself"),
    # IDNA: hosts that UTS #46 / IDNA 2008 refuse, as browsers do
    ("http://\u2603.net/", "not a valid domain"),  # snowman: a symbol
    ("http://\U0001f4a9.la/", "not a valid domain"),  # emoji
    ("http://xn--ls8h.la/", "not a valid domain"),  # the same, as an A-label
    ("http://xn--zz.com/", "not a valid domain"),  # not Punycode
    ("http://xn--.com/", "not a valid domain"),
    ("http://xn---bbk.com/", "not a valid domain"),  # a non-canonical spelling
    ("http://a\u200dc.com/", "control"),  # a joiner out of context (also a format char)
    ("http://\u05d0a.com/", "not a valid domain"),  # Hebrew and Latin in one label: bidi
    ("http://example..com/", "not a valid domain"),
    ("http://.example.com/", "not a valid domain"),
    ("http://exa<mple.com/", "not a valid domain"),
    ("http://exa^mple.com/", "not a valid domain"),
    ("http://exa|mple.com/", "not a valid domain"),
    ("http://\u0301e.com/", "not a valid domain"),  # starts with a combining mark
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
        ("http://bücher.example/straße", "http://xn--bcher-kva.example/stra%C3%9Fe"),
        # UTS #46 non-transitional, as browsers: ß and ς stay, ZWJ/ZWNJ in context stay
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://FAß.DE/", "https://xn--fa-hia.de/"),
        ("https://xn--fa-hia.de/", "https://xn--fa-hia.de/"),
        ("https://fass.de/", "https://fass.de/"),
        ("https://βόλος.gr/", "https://xn--nxasmm1c.gr/"),
        (
            "https://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/",
            "https://example.com/",
        ),  # full-width
        ("https://example。com/", "https://example.com/"),  # ideographic full stop
        ("https://Bücher.Example./", "https://xn--bcher-kva.example./"),
        ("https://xn--BCHER-KVA.example/", "https://xn--bcher-kva.example/"),
        ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),
        ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
        ("https://ab--cd.example/", "https://ab--cd.example/"),  # hyphens: browsers allow
        # paths, queries and fragments are stored percent-encoded, as browsers send them
        ("https://ru.wikipedia.org/wiki/Ж", "https://ru.wikipedia.org/wiki/%D0%96"),
        ("https://example.com/search?q=🙂", "https://example.com/search?q=%F0%9F%99%82"),
        ("https://example.com/€?€#€", "https://example.com/%E2%82%AC?%E2%82%AC#%E2%82%AC"),
        ("https://example.com/%E2%82%AC", "https://example.com/%E2%82%AC"),  # not twice
        ("https://example.com/a%zz%", "https://example.com/a%zz%"),  # stray % kept as is
        (
            'https://example.com/"<>`{}^?"<>\'`{}^#"<>`{}^',
            "https://example.com/%22%3C%3E%60%7B%7D%5E?%22%3C%3E%27`{}^#%22%3C%3E%60{}^",
        ),
        ("https://example.com/a?b=c&d=é#é", "https://example.com/a?b=c&d=%C3%A9#%C3%A9"),
        ("https://example.com#frag", "https://example.com#frag"),
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


@pytest.mark.parametrize(
    ("raw", "entry"),
    [
        ("evil.example", "evil.example"),
        ("  EVIL.Example.  ", "evil.example"),
        ("*.evil.example", "evil.example"),
        (".evil.example", "evil.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example.", "xn--bcher-kva.example"),
        ("xn--BCHER-kva.example", "xn--bcher-kva.example"),
        ("faß.de", "xn--fa-hia.de"),
        ("evil\uff0eexample", "evil.example"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("evil.github.io", "evil.github.io"),  # under a private suffix: one site
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # an exception to *.kawasaki.jp
        ("example.co.uk", "example.co.uk"),
        ("0x08080808", "8.8.8.8"),  # as targets write the address
        ("[2606:4700::1111]", "2606:4700::1111"),
    ],
)
def test_blocklist_entries_are_normalised_as_target_hosts_are(raw, entry):
    verdict = targets.blocklist_entry(raw)
    assert verdict.ok, verdict.reason
    assert verdict.url == entry
    host = targets.check(f"https://{raw.strip().lstrip('*.').strip()}/").url
    if host:  # the entry blocks the target written the same way
        blocked = targets.check(host, blocked_domains=[verdict.url])
        assert not blocked.ok and "blocked" in blocked.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("com", "com is a public suffix"),
        ("CO.UK.", "CO.UK is a public suffix"),
        ("*.co.uk", "co.uk is a public suffix"),
        ("github.io", "github.io is a public suffix"),
        ("blogspot.com", "public suffix"),
        ("foo.kawasaki.jp", "public suffix"),  # *.kawasaki.jp
        ("рф", "рф is a public suffix"),
        ("xn--p1ai", "public suffix"),
        ("example", "public suffix"),  # an unknown TLD counts as one
        ("", "Enter the domain"),
        ("   ", "Enter the domain"),
        ("*.", "Enter the domain"),
        ("https://evil.example/", "domain name only"),
        ("evil.example/path", "domain name only"),
        ("user@evil.example", "domain name only"),
        ("evil .example", "domain name only"),
        ("☃.com", "not a valid domain"),
        ("-evil.example", "not a valid domain"),
        ("evil..example", "not a valid domain"),
        ("%65vil.example", "Percent-encoded"),
    ],
)
def test_blocklist_entries_that_are_no_single_site_are_refused(raw, expected):
    verdict = targets.blocklist_entry(raw)
    assert not verdict.ok and verdict.url is None
    assert expected.lower() in verdict.reason.lower()
    assert verdict.reason.endswith(".")


def test_a_unicode_entry_stored_before_normalising_still_matches():
    assert targets.matches_domain("xn--bcher-kva.example", "Bücher.example")
    assert targets.matches_domain("a.xn--bcher-kva.example", "bücher.example.")


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:10.0.0.1", ["10.0.0.1"]),
        ("::10.0.0.1", ["10.0.0.1"]),
        ("::ffff:0:10.0.0.1", ["10.0.0.1"]),
        ("64:ff9b::10.0.0.1", ["10.0.0.1"]),
        ("2002:a00:1::", ["10.0.0.1"]),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", ["65.54.227.120", "10.0.0.1"]),
        ("2001:db8::5efe:a00:1", ["10.0.0.1"]),
        ("2001:db8::200:5efe:a00:1", ["10.0.0.1"]),
        ("2001:4860:4860::8888", []),
        ("::1", []),
        ("::", []),
    ],
)
def test_ipv6_addresses_are_read_for_the_ipv4_they_carry(address, carried):
    found = targets.embedded_ipv4(ipaddress.IPv6Address(address))
    assert [str(v4) for v4 in found] == carried


def test_search_looks_for_text_as_targets_store_it():
    assert targets.stored_forms("Ж") >= {"Ж", "%D0%96"}
    assert "xn--bcher-kva.example" in targets.stored_forms("Bücher.example")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("example.com/page", "https://example.com/page"),
        ("example.com", "https://example.com"),
        ("www.example.co.uk:8080/x?y#z", "https://www.example.co.uk:8080/x?y#z"),
        ("bücher.de/x", "https://bücher.de/x"),
        (
            "example.com?next=http://other.example/",
            "https://example.com?next=http://other.example/",
        ),
        ("https://example.com/", "https://example.com/"),
        ("HTTP://example.com/", "HTTP://example.com/"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("data:text/html,hi", "data:text/html,hi"),
        ("localhost:8000/", "localhost:8000/"),
        ("ftp://example.com/", "ftp://example.com/"),
        ("", ""),
    ],
)
def test_a_bare_host_is_given_https_and_nothing_else_is(typed, expected):
    assert targets.assume_https(typed) == expected
