"""The client's address: REMOTE_ADDR unless trusted proxies vouch; IPv6 grouped by /64."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.ratelimit.client_address import (
    UNKNOWN,
    address_key,
    client_address,
    forwarded_address,
)


def test_remote_addr_by_default():
    assert client_address("192.0.2.7") == "192.0.2.7"


def test_forwarded_for_is_ignored_without_trusted_proxies():
    assert client_address("192.0.2.7", "203.0.113.9", trusted_proxies=0) == "192.0.2.7"


def test_one_trusted_proxy_takes_the_rightmost_entry():
    # The client forged the first entry; our proxy appended the real one.
    forged = "198.51.100.1, 203.0.113.9"
    assert client_address("10.0.0.2", forged, trusted_proxies=1) == "203.0.113.9"


def test_two_trusted_proxies_take_the_second_from_the_right():
    chain = "198.51.100.1, 203.0.113.9, 10.0.0.3"
    assert client_address("10.0.0.2", chain, trusted_proxies=2) == "203.0.113.9"


def test_fewer_entries_than_trusted_proxies_fall_back_to_remote_addr():
    assert client_address("10.0.0.2", "203.0.113.9", trusted_proxies=2) == "10.0.0.2"


@pytest.mark.parametrize(
    "forwarded_for",
    [
        "junk",
        "",
        " , ",
        "unknown",
        "203.0.113.9:443",
        "999.1.1.1",
        "203.0.113.9\x00",
        "2001:db8::1" + "0" * 50,
        "203.0.113.\u0669",  # Arabic-Indic digit nine
        "é",
        "1" * 10_000,
        "203.0.113.9, " * 1000 + "203.0.113.9",
    ],
)
def test_junk_in_the_trusted_slot_falls_back_to_remote_addr(forwarded_for):
    assert client_address("192.0.2.7", forwarded_for, trusted_proxies=1) == "192.0.2.7"


def test_junk_left_of_the_trusted_slot_is_never_read():
    assert client_address("10.0.0.2", "\xff\xfejunk, 203.0.113.9", trusted_proxies=1) == (
        "203.0.113.9"
    )


@pytest.mark.parametrize("remote_addr", ["", "junk", "\xe9", "1" * 100])
def test_unusable_remote_addr_is_one_shared_unknown_bucket(remote_addr):
    assert client_address(remote_addr) == UNKNOWN


def test_ipv4_mapped_ipv6_is_the_ipv4_client():
    assert client_address("::ffff:192.0.2.7") == "192.0.2.7"


def test_ipv6_scope_is_dropped():
    assert client_address("fe80::1%eth0") == "fe80::1"


def test_ipv6_clients_share_their_64():
    first = address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    second = address_key("2001:db8:1:2::1")
    other = address_key("2001:db8:1:3::1")
    assert first == second == "2001:db8:1:2::/64"
    assert other != first


def test_ipv4_clients_are_keyed_by_their_address():
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.8") != address_key("192.0.2.7")


def test_address_key_of_unknown_is_unknown():
    assert address_key(UNKNOWN) == UNKNOWN


def test_forwarded_address_without_proxies_is_none():
    assert forwarded_address("203.0.113.9", 0) is None


@given(st.text(max_size=300), st.text(max_size=60), st.integers(min_value=0, max_value=5))
def test_client_address_never_raises(forwarded_for, remote_addr, trusted_proxies):
    address = client_address(remote_addr, forwarded_for, trusted_proxies)
    assert address == UNKNOWN or address_key(address) != UNKNOWN
