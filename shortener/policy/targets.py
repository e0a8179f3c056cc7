"""Target-URL policy: pure functions that normalise a URL or say, in a sentence, why not.

Nothing here touches the database or the network: the caller passes the site's own
hosts and the blocklist. The server never fetches a target. A URL is stored the way
a browser serialises it (WHATWG URL): an IDNA A-label host (UTS #46, non-transitional)
and percent-encoded UTF-8 in path, query and fragment, so the stored target is ASCII.
"""

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

MAX_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "broadcasthost"}
)
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})

# The only IPv6 space allocated for global unicast; everything outside it (loopback,
# link-local, site-local, ULA, multicast, IPv4-mapped/-compatible/-translated, NAT64,
# discard) is refused outright.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# Inside 2000::/3 but not routable, and not yet known to Python's is_global.
_NOT_ROUTED = (ipaddress.IPv6Network("3fff::/20"),)  # documentation (RFC 9637)
_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
# WHATWG URL percent-encode sets (beyond C0 controls and non-ASCII, always encoded).
_FRAGMENT_SET = frozenset(' "<>`')
_QUERY_SET = frozenset(" \"#<>'")  # the special-query set: http and https are special
_PATH_SET = frozenset(' "#<>?^`{}')


@dataclass(frozen=True)
class Verdict:
    """Either a normalised URL (`url`) or a human sentence saying what is wrong (`reason`)."""

    url: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


# A host name or IPv4 address (with an optional port) at the very start, and no scheme:
# what people paste from an address bar that hides "https://".
_BARE_HOST = re.compile(r"^(?:[\w-]+\.)+[\w-]+\.?(?::\d{1,5})?(?:[/?#]|$)")


def assume_https(raw: str) -> str:
    """`example.com/page` → `https://example.com/page`; anything else as it is.

    Only a text that begins with a dotted host name is given the scheme, so `mailto:`,
    `javascript:` and `localhost:8000` keep theirs and meet the policy as written.
    """
    if isinstance(raw, str) and "://" not in raw.split("?")[0] and _BARE_HOST.match(raw):
        return f"https://{raw}"
    return raw


def refuse(reason: str) -> Verdict:
    return Verdict(reason=reason)


def check(
    raw: str,
    *,
    own_hosts: Iterable[str] = (),
    blocked_domains: Iterable[str] = (),
    own_exact_hosts: Iterable[str] = (),
) -> Verdict:
    """Apply the whole policy to a user-supplied target URL.

    `own_hosts` are refused with their subdomains; `own_exact_hosts` (short domains
    whose subdomains belong to someone else) only as they are."""
    if not isinstance(raw, str) or raw == "":
        return refuse("Enter the address the short link should lead to.")
    if len(raw) > MAX_LENGTH:
        return refuse(f"The address is longer than {MAX_LENGTH:,} characters.")
    # Printable ASCII but the space holds none of them: only the rest is looked at.
    plain = raw.isascii() and raw.isprintable() and " " not in raw
    if not plain and any(_is_forbidden_char(ch) for ch in raw):
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

    host_verdict = normalise_host(_raw_host(parts.netloc))
    if not host_verdict.ok:
        return host_verdict
    host = host_verdict.url or ""

    try:
        address = ip_literal(host)
    except ValueError:
        return refuse(f"{host} is not a valid IP address.")
    if address is not None:
        problem = address_problem(address)
        if problem:
            return refuse(problem)
        if address.version == 4:
            host = str(address)  # 134744072 and 0x8.8.8.8 are written 8.8.8.8
    else:
        name_problem = local_name_problem(host)
        if name_problem:
            return refuse(name_problem)
    bare = host.strip("[]").rstrip(".")
    if any(matches_domain(bare, own) for own in own_hosts if own) or bare in set(own_exact_hosts):
        return refuse("That address is this site itself; a short link to it would loop.")
    blocked = next((d for d in blocked_domains if matches_domain(bare, d)), None)
    if blocked:
        return refuse(f"Links to {blocked} are blocked on this site.")

    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}{encode_rest(raw[len(scheme) + 3 + len(parts.netloc) :])}"
    if len(url) > MAX_LENGTH:
        return refuse(f"The address is longer than {MAX_LENGTH:,} characters once normalised.")
    return Verdict(url=url)


def _is_forbidden_char(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES


def _raw_host(netloc: str) -> str:
    """The host as typed (urlsplit's hostname lower-cases it, which is not UTS #46 mapping)."""
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def encode_rest(rest: str) -> str:
    """Percent-encode path, query and fragment the way a browser serialises them.

    Existing %XX escapes are kept as they are, so encoding twice changes nothing.
    """
    rest, hash_sign, fragment = rest.partition("#")
    path, question_mark, query = rest.partition("?")
    return (
        _percent_encode(path, _PATH_SET)
        + question_mark
        + _percent_encode(query, _QUERY_SET)
        + hash_sign
        + _percent_encode(fragment, _FRAGMENT_SET)
    )


def _percent_encode(text: str, ascii_set: frozenset[str]) -> str:
    if text.isascii() and not any(ch in ascii_set for ch in text):
        return text
    return "".join(
        "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        if ch in ascii_set or not " " <= ch <= "~"
        else ch
        for ch in text
    )


def normalise_host(host: str) -> Verdict:
    """Map and IDNA-encode a host as browsers do; IPv6 literals come back in brackets."""
    if not host:
        return refuse("The address has no host name; it should look like https://example.com/.")
    if "%" in host:
        return refuse("Percent-encoded characters are not allowed in the host name.")
    if ":" in host:  # an IPv6 literal, brackets already removed
        try:
            return Verdict(url=f"[{ipaddress.IPv6Address(host).compressed}]")
        except ValueError:
            return refuse(f"{host} is not a valid IPv6 address.")
    try:
        ascii_host = _to_ascii(host)
    except UnicodeError as error:  # IDNAError, or a lone surrogate Punycode cannot encode
        return refuse(_idna_problem(host, error))
    labels = ascii_host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.match(labels[-1]) and not all(_HOST_LABEL.match(x) for x in labels):
        return refuse(f"{host} is not a valid domain name.")
    return Verdict(url=ascii_host)


def _to_ascii(host: str) -> str:
    """UTS #46 mapping, then A-labels for labels that need them (WHATWG "domain to ASCII").

    Plain ASCII labels skip the IDNA 2008 label rules, as in browsers
    (UseSTD3ASCIIRules and CheckHyphens off), so sub_domain and ab--cd stay valid.
    idna 3.20 always maps non-transitionally: ß and ς are kept, so faß.de is
    xn--fa-hia.de (the IDNA 2003 codec wrote fass.de, another domain).
    """
    mapped = idna.uts46_remap(host, std3_rules=False)
    labels = mapped.split(".")
    trailing_dot = len(labels) > 1 and labels[-1] == ""
    if trailing_dot:
        labels.pop()
    encoded = []
    for label in labels:
        if not label:
            raise idna.IDNAError("Empty label", code="empty_label")
        if label.isascii() and not label.startswith("xn--"):
            encoded.append(label)
        else:
            encoded.append(idna.alabel(label).decode("ascii"))
    return ".".join(encoded) + ("." if trailing_dot else "")


def _idna_problem(host: str, error: UnicodeError) -> str:
    if isinstance(error, idna.IDNABidiError):
        return (
            f"{host} is not a valid domain name: it mixes right-to-left and "
            "left-to-right text in a way browsers refuse."
        )
    codepoint = getattr(error, "codepoint", None)
    if codepoint is not None:
        char = chr(codepoint)
        shown = f"{char} " if char.isprintable() and not unicodedata.combining(char) else ""
        where = " there" if isinstance(error, idna.InvalidCodepointContext) else ""
        return (
            f"{host} is not a valid domain name: domain names may not contain "
            f"{shown}(U+{codepoint:04X}){where}."
        )
    return f"{host} is not a valid domain name."


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a browser would read this host as, in any notation, or None.

    Follows the WHATWG URL standard: a host whose last label is numeric is an IPv4
    address written in decimal, octal (leading 0) or hex (0x), with 1 to 4 parts
    (so 2130706433, 0177.1 and 0x7f.0.0.1 are all 127.0.0.1). Raises ValueError
    for a numeric host that is no valid address (browsers refuse those too).
    """
    if host.startswith("["):
        return ipaddress.IPv6Address(host.strip("[]"))
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


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a short link may not lead to this IP address, or None if it may."""
    refusal = (
        f"{address} is a private, local or reserved network address; "
        "short links must lead to the public internet."
    )
    if address.version == 4:
        return None if address.is_global and not address.is_multicast else refusal
    embedded = embedded_ipv4(address)
    hidden = next((v4 for v4 in embedded if not v4.is_global or v4.is_multicast), None)
    if hidden is not None:  # say what the disguise hides: ::7f00:1 means little to anyone
        return (
            f"{address} carries the IPv4 address {hidden}, a private, local or reserved "
            "network address; short links must lead to the public internet."
        )
    if address not in _GLOBAL_UNICAST or any(address in net for net in _NOT_ROUTED):
        if embedded:  # ::ffff:8.8.8.8, 64:ff9b::8.8.8.8: public, but say it plainly
            return f"{address} wraps the IPv4 address {embedded[0]}; link to {embedded[0]} itself."
        return refusal
    if not address.is_global:
        return refusal
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries in a known transition format.

    IPv4-mapped (::ffff:0:0/96), -compatible (::/96), -translated (::ffff:0:0:0/96),
    NAT64 (64:ff9b::/96; the local-use 64:ff9b:1::/48 is refused whole), 6to4 (2002::/16),
    Teredo (2001::/32: server, and the client XOR-ed) and ISATAP interface ids.
    """
    value = int(address)
    low = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    high96 = value >> 32
    found = []
    if high96 in (0xFFFF, 0, 0xFFFF << 16, 0x0064FF9B << 64) and value > 1:
        found.append(low)
    if address in _SIXTOFOUR:
        found.append(ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))
    if address in _TEREDO:
        found.append(ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF))
        found.append(ipaddress.IPv4Address(~value & 0xFFFFFFFF))
    if (value >> 32) & 0xFDFFFFFF == 0x5EFE:  # ISATAP interface id: 0:5efe or 200:5efe
        found.append(low)
    return found


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
    if not domain.isascii():  # a Unicode entry saved before entries were normalised
        entry = blocklist_entry(domain)
        domain = entry.url or domain
    return bool(domain) and (host == domain or host.endswith("." + domain))


def stored_forms(text: str) -> set[str]:
    """How text a person types may be written inside stored targets, for search.

    Ж is stored as %D0%96 in a path and bücher as xn--bcher-kva in a host.
    """
    forms = {text, encode_rest(text)}
    host = normalise_host(text)
    if host.ok and host.url:
        forms.add(host.url.strip("[]"))
    return forms


DOMAIN_HOST_RULE = "Enter a host name only, like go.example.com: no scheme, port or path."


def domain_host(raw) -> Verdict:
    """A short domain's host as stored and compared: lower case, IDNA A-labels, no
    trailing dot, no port; or why not. `Bücher.Example.` becomes xn--bcher-kva.example."""
    text = raw.strip() if isinstance(raw, str) else ""
    text = text.rstrip(".")
    if not text:
        return refuse(DOMAIN_HOST_RULE)
    if any(_is_forbidden_char(ch) for ch in text) or any(ch in text for ch in "/?#@:[]*%"):
        return refuse(DOMAIN_HOST_RULE)
    host = normalise_host(text)
    if not host.ok:
        return refuse(f"{text} is not a valid host name.")
    name = (host.url or "").rstrip(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        return refuse(f"{text} is not a valid host name.")
    return Verdict(url=name)


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, host: str, port: int | None) -> str:
    """What a short URL starts with: `scheme://host[:port]`, the port left out where it
    is the scheme's own. Domain.origin and the SITE_URL setting both build it here."""
    shown = f":{port}" if port is not None and port != DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{shown}"


def blocklist_entry(raw: str) -> Verdict:
    """Normalise a blocklist entry exactly as target hosts are normalised, or say why not.

    `*.example.com`, `.example.com` and `example.com.` all mean example.com and its
    subdomains. A bare public suffix (com, co.uk, github.io) would block a whole
    registry or hosting service, so it is refused; so is an IP address no target may
    have anyway (127.0.0.1, 10.0.0.1, ::ffff:8.8.8.8). A public one is kept as targets
    write it.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if text.startswith("*."):
        text = text[2:]
    text = text.lstrip(".").rstrip(".")
    if not text:
        return refuse("Enter the domain to block, like example.com.")
    if any(_is_forbidden_char(ch) for ch in text) or any(ch in text for ch in "/?#@"):
        return refuse(f"Enter a domain name only, like example.com, not {text}.")
    host = normalise_host(text.strip("[]"))
    if not host.ok:
        return host
    name = (host.url or "").strip("[]")
    try:
        address = ip_literal(host.url or "")
    except ValueError:
        return refuse(f"{text} is not a valid IP address.")
    if address is not None:
        if address_problem(address):  # targets refuse it already: a row would only mislead
            return refuse(
                f"No link can lead to {address} (a private, reserved or disguised address), "
                "so there is nothing to block."
            )
        return Verdict(url=str(address))  # matched against the host as targets write it
    if is_public_suffix(name):
        return refuse(
            f"{text} is a public suffix shared by many unrelated sites; "
            f"block a domain under it (like example.{text}) instead."
        )
    return Verdict(url=name)


@functools.cache
def _public_suffix_list():
    from publicsuffixlist import PublicSuffixList  # the list ships in the package: no network

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """The part of an (A-label) host its owner registered (www.shop.example.co.uk →
    example.co.uk), by the bundled Public Suffix List; the host itself when it has none
    (an IP address, a bare suffix)."""
    name = host.lower().strip("[]").rstrip(".")
    return _public_suffix_list().privatesuffix(name) or name


def is_public_suffix(domain: str) -> bool:
    """Is this (A-label) domain a public suffix, ICANN or private (com, co.uk, github.io)?"""
    return _public_suffix_list().is_public(domain)
