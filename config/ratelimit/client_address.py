"""The client's address for rate-limit keys: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies.

Pure functions of header strings, so they are tested without a request or a database.
"""

import ipaddress
from functools import lru_cache

# Longest textual IPv6 address (with an embedded IPv4 tail) is 45 characters.
MAX_ADDRESS_LENGTH = 45
# Beyond this the header is not something a proxy chain of sane length writes.
MAX_FORWARDED_FOR_LENGTH = 4096
IPV6_PREFIX = 64
UNKNOWN = "unknown"


@lru_cache(maxsize=8192)  # on every request: the same few addresses come again and again
def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from text, or None for junk, overlong or non-ASCII values."""
    text = value.strip()
    if not text or len(text) > MAX_ADDRESS_LENGTH or not text.isascii():
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return address.ipv4_mapped
        if address.scope_id:
            address = ipaddress.IPv6Address(address.packed)
    return address


def forwarded_address(forwarded_for: str, trusted_proxies: int) -> str | None:
    """The address `trusted_proxies` hops from the right of X-Forwarded-For, if valid.

    Each trusted proxy appends the address it received the request from, so the
    entry that many places from the right was written by our outermost proxy;
    whatever the client put to the left of it is never read.
    """
    if trusted_proxies < 1 or not forwarded_for or len(forwarded_for) > MAX_FORWARDED_FOR_LENGTH:
        return None
    entries = forwarded_for.rsplit(",", trusted_proxies)
    if len(entries) < trusted_proxies:
        return None  # fewer hops than trusted proxies: the chain is not what we were told
    address = parse_address(entries[-trusted_proxies])
    return str(address) if address else None


def client_address(remote_addr: str, forwarded_for: str = "", trusted_proxies: int = 0) -> str:
    """The client's address as text; REMOTE_ADDR unless trusted proxies vouch for another."""
    chosen = forwarded_address(forwarded_for, trusted_proxies)
    if chosen:
        return chosen
    address = parse_address(remote_addr or "")
    return str(address) if address else UNKNOWN


def address_key(address: str) -> str:
    """The rate-limit bucket for an address: IPv4 as is, IPv6 by its /64 network.

    One IPv6 host usually holds a whole /64, so per-address buckets would let it
    rotate through 2**64 addresses.
    """
    parsed = parse_address(address)
    if parsed is None:
        return UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False)
        return f"{network.network_address}/{IPV6_PREFIX}"
    return str(parsed)
