"""Target-URL policy: pure functions that normalise a URL or say, in a sentence, why not.

Nothing here touches the database or the network: the caller passes the site's own
hosts and the blocklist. The server never fetches a target.
"""

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "broadcasthost"}
)
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Verdict:
    """Either a normalised URL (`url`) or a human sentence saying what is wrong (`reason`)."""

    url: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def refuse(reason: str) -> Verdict:
    return Verdict(reason=reason)


def check(
    raw: str,
    *,
    own_hosts: Iterable[str] = (),
    blocked_domains: Iterable[str] = (),
) -> Verdict:
    """Apply the whole policy to a user-supplied target URL."""
    if not isinstance(raw, str) or raw == "":
        return refuse("Enter the address the short link should lead to.")
    if len(raw) > MAX_LENGTH:
        return refuse(f"The address is longer than {MAX_LENGTH:,} characters.")
    if any(_is_forbidden_char(ch) for ch in raw):
        return refuse(
            "The address contains spaces, line breaks or control characters; "
            "encode them (for example %20) or remove them."
        )
    scheme_match = _SCHEME.match(raw)
    if not scheme_match:
        return refuse("Enter a full address that starts with http:// or https://.")
    scheme = scheme_match.group(1).lower()
    if scheme not in ALLOWED_SCHEMES:
        return refuse(f"Links to {scheme}: addresses are not allowed; only http and https.")
    if "\\" in raw.split("?")[0].split("#")[0]:
        return refuse("The address contains a backslash, which browsers read differently.")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return refuse("The address is malformed (check the host name and port).")
    if not raw[len(scheme) + 1 :].startswith("//") or not parts.netloc:
        return refuse("The address has no host name; it should look like https://example.com/.")
    if "@" in parts.netloc:
        return refuse("Addresses with a user name or password (user:pass@host) are not allowed.")

    host_verdict = normalise_host(parts.hostname or "")
    if not host_verdict.ok:
        return host_verdict
    host = host_verdict.url or ""

    try:
        address = ip_literal(host)
    except ValueError:
        return refuse(f"{host} is not a valid IP address.")
    if address is not None:
        if not address.is_global or address.is_multicast:
            return refuse(
                f"{host} is a private, local or reserved network address; "
                "short links must lead to the public internet."
            )
        if address.version == 4:
            host = str(address)  # 134744072 and 0x8.8.8.8 are written 8.8.8.8
    else:
        name_problem = local_name_problem(host)
        if name_problem:
            return refuse(name_problem)
    bare = host.strip("[]").rstrip(".")
    if any(matches_domain(bare, own) for own in own_hosts if own):
        return refuse("That address is this site itself; a short link to it would loop.")
    blocked = next((d for d in blocked_domains if matches_domain(bare, d)), None)
    if blocked:
        return refuse(f"Links to {blocked} are blocked on this site.")

    netloc = host if port is None else f"{host}:{port}"
    # Path, query and fragment stay exactly as given: only scheme and host change.
    rest = raw[len(scheme) + 3 + len(parts.netloc) :]
    url = f"{scheme}://{netloc}{rest}"
    if len(url) > MAX_LENGTH:
        return refuse(f"The address is longer than {MAX_LENGTH:,} characters once normalised.")
    return Verdict(url=url)


def _is_forbidden_char(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Zs"}


def normalise_host(host: str) -> Verdict:
    """Lower-case and IDNA-encode a host; IPv6 literals come back in brackets."""
    if not host:
        return refuse("The address has no host name; it should look like https://example.com/.")
    if "%" in host:
        return refuse("Percent-encoded characters are not allowed in the host name.")
    if ":" in host:  # urlsplit strips the brackets of an IPv6 literal
        try:
            return Verdict(url=f"[{ipaddress.IPv6Address(host).compressed}]")
        except ValueError:
            return refuse(f"{host} is not a valid IPv6 address.")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return refuse(f"{host} is not a valid domain name.")
    labels = ascii_host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.match(labels[-1]) and not all(_HOST_LABEL.match(x) for x in labels):
        return refuse(f"{host} is not a valid domain name.")
    return Verdict(url=ascii_host)


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a browser would read this host as, in any notation, or None.

    Follows the WHATWG URL standard: a host whose last label is numeric is an IPv4
    address written in decimal, octal (leading 0) or hex (0x), with 1 to 4 parts
    (so 2130706433, 0177.1 and 0x7f.0.0.1 are all 127.0.0.1). IPv4-mapped IPv6
    addresses are read as the IPv4 address they carry. Raises ValueError for a
    numeric host that is no valid address (browsers refuse those too).
    """
    if host.startswith("["):
        address = ipaddress.IPv6Address(host.strip("[]"))
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        return address.ipv4_mapped or address.sixtofour or address
    labels = host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4:
        raise ValueError("more than four parts")
    numbers = [_parse_ipv4_part(label) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("part out of range")
    value = last
    for index, number in enumerate(head):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def _parse_ipv4_part(label: str) -> int:
    if label == "":
        raise ValueError("empty part")
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label, 10)


def local_name_problem(host: str) -> str | None:
    name = host.rstrip(".")
    if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES):
        return f"{name} is a local name; short links must lead to the public internet."
    if "." not in name:
        return f"{name} is not a full domain name (like example.com)."
    return None


def matches_domain(host: str, domain: str) -> bool:
    """Is `host` the domain itself or one of its subdomains? (Blocklist and own-site rule.)"""
    domain = domain.strip().lower().rstrip(".").lstrip(".")
    host = host.lower().rstrip(".")
    if domain.startswith("*."):
        domain = domain[2:]
    return bool(domain) and (host == domain or host.endswith("." + domain))
