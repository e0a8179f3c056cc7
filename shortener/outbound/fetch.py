"""The one safe fetcher: every request Torii makes to an address someone else chose.

Server-side request forgery is refused here, once, for every caller (outbound webhooks,
the link-health checker):

- the URL passes the target policy (`shortener.policy.targets.check`), https only unless
  `WEBHOOKS_ALLOW_HTTP` (development);
- the host is resolved once, and EVERY address it resolves to must pass
  `targets.address_problem` (no loopback, private, link-local, metadata, multicast,
  unspecified) and must not be one of Torii's own addresses; a name that resolves to one
  bad address among good ones is refused whole (DNS rebinding picks per connection);
- the connection goes to the checked address itself (no second lookup), with the Host
  header and, for https, SNI and certificate checks for the name;
- `request` and `post` follow no redirect: a 3xx is an answer like any other; `get`
  follows at most `redirects` of them, each hop checked as the first (policy, every
  address, the checked one connected to), all within one deadline;
- time is bounded (connect, and a deadline for the whole exchange however slowly the
  peer drips bytes) and so is size (at most `max_bytes` of body are read, then the
  connection is closed).

`OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS` lets loopback addresses through, and nothing else:
only the test suite sets it, for receivers it starts on 127.0.0.1. `resolver` is
injectable so tests decide what a name resolves to.
"""

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.conf import settings

from shortener.policy import targets

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
MAX_BODY = 64 * 1024
MAX_HEAD = 32 * 1024  # status line and headers
READ_CHUNK = 16 * 1024
USER_AGENT = "Torii-Webhooks/1"
REDIRECTS = 3  # hops `get` follows at most
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class FetchRefused(Exception):
    """Torii will not send this request (policy): retrying cannot help. `reason` is a
    sentence safe to show and log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class FetchFailed(Exception):
    """The request was sent or tried and went wrong on the network (timeout, reset,
    refused connection, a malformed answer): a retry may help."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NameFailed(FetchFailed):
    """The host name did not resolve (no such name, or no address)."""


class TimedOut(FetchFailed):
    """No complete answer within the time allowed (connect or the whole exchange)."""


class TlsFailed(FetchFailed):
    """The TLS handshake failed (a bad or expired certificate, a wrong name, no TLS)."""


class TooManyRedirects(FetchFailed):
    """More redirects than allowed, or a circle of them."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""  # at most max_bytes
    truncated: bool = False  # the peer had more to say than was read


NAME_GONE = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        # Only "no such name" means the name is gone; a resolver that failed may not be.
        gone = error.errno in NAME_GONE
        raise (NameFailed if gone else FetchFailed)(
            f"{host} could not be resolved ({error})."
        ) from None
    except UnicodeError as error:
        raise NameFailed(f"{host} could not be resolved ({error}).") from None
    return [info[4][0] for info in infos]


def loopback_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", False))


def http_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_HTTP", False))


def url_problem(
    url: str, *, own_hosts: Iterable[str] = (), allow_http: bool | None = None
) -> str | None:
    """Why Torii will not send requests to `url` (judged without DNS), or None. Endpoint
    forms ask this at save; `post` asks again, and checks the addresses, every time.
    `allow_http`: plain http too (link health); None: only where WEBHOOKS_ALLOW_HTTP is set."""
    verdict = targets.check(url, own_hosts=[*own_names(), *own_hosts])
    if not verdict.ok:
        if loopback_allowed() and loopback_literal(url):
            return scheme_problem(url, allow_http)
        return verdict.reason
    return scheme_problem(url, allow_http)


def scheme_problem(url: str, allow_http: bool | None = None) -> str | None:
    scheme = urlsplit(url).scheme.lower()
    if allow_http is None:
        allow_http = http_allowed()
    if scheme == "https" or (scheme == "http" and allow_http):
        return None
    if allow_http:
        return "Only http:// and https:// addresses are requested."
    return "Endpoints must use https:// (http:// only where WEBHOOKS_ALLOW_HTTP is set)."


def loopback_literal(url: str) -> bool:
    try:
        address = ipaddress.ip_address((urlsplit(url).hostname or "").strip("[]"))
    except ValueError:
        return False
    return address.is_loopback


def own_names() -> list[str]:
    """Torii's own host names: the site's and those it answers to (no wildcards)."""
    names = [getattr(settings, "SITE_HOST", "")]
    names += [h for h in getattr(settings, "CONFIGURED_HOSTS", []) if isinstance(h, str)]
    return [n.strip("[]").lstrip(".") for n in names if n and "*" not in n]


def address_refusal(address: Address, own: set[Address]) -> str | None:
    if address.is_loopback and loopback_allowed():
        return None
    if address in own:
        return f"{address} is one of this site's own addresses."
    return targets.address_problem(address)


def checked_addresses(
    host: str, port: int, resolver: Resolver, own_hosts: Iterable[str]
) -> list[Address]:
    """Every address `host` resolves to, each checked; FetchRefused names the first bad one."""
    found = []
    for text in resolver(host, port):
        try:
            found.append(ipaddress.ip_address(text.split("%")[0]))
        except ValueError:
            raise FetchFailed(f"{host} resolved to {text!r}, which is not an address.") from None
    if not found:
        raise NameFailed(f"{host} resolved to no address.")
    own = own_addresses(own_hosts, port, resolver)
    for address in found:
        problem = address_refusal(address, own)
        if problem:
            raise FetchRefused(f"{host} resolves to {address}: {problem}")
    return found


OWN_TTL = 60.0  # seconds the system resolver's answers for Torii's own names are kept
_own_seen: dict[str, tuple[float, list[str]]] = {}


def own_lookup(host: str, port: int, resolver: Resolver) -> list[str]:
    """`resolver(host)`, remembered a minute when it is the system's: every delivery asks
    for every short domain, and their addresses rarely move."""
    if resolver is not system_resolver:
        return resolver(host, port)
    now = time.monotonic()
    seen = _own_seen.get(host)
    if seen is None or seen[0] < now:
        try:
            seen = (now + OWN_TTL, resolver(host, port))
        except FetchFailed:
            seen = (now + OWN_TTL, [])
        _own_seen[host] = seen
    return seen[1]


def own_addresses(hosts: Iterable[str], port: int, resolver: Resolver) -> set[Address]:
    """The addresses Torii's own names resolve to (loopback ones are refused anyway)."""
    own: set[Address] = set()
    for host in {*own_names(), *hosts}:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            own.add(literal)
            continue
        try:
            found = own_lookup(host, port, resolver)
            own.update(ipaddress.ip_address(a.split("%")[0]) for a in found)
        except (FetchFailed, ValueError):
            continue
    return {a for a in own if not a.is_loopback}


def post(url: str, body: bytes, headers: Mapping[str, str], **options) -> Answer:
    """POST `body` to `url` safely; FetchRefused (policy) or FetchFailed (network).
    `options` are `request`'s."""
    return request("POST", url, body, headers, **options)


def request(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    resolver: Resolver | None = None,
    own_hosts: Iterable[str] = (),
    connect_timeout: float = CONNECT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int = MAX_BODY,
    clock: Callable[[], float] = time.monotonic,
    allow_http: bool | None = None,
    user_agent: str = USER_AGENT,
) -> Answer:
    problem = url_problem(url, own_hosts=own_hosts, allow_http=allow_http)
    if problem:
        raise FetchRefused(problem)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("The address's port is not a number from 0 to 65535.") from None
    host = (parts.hostname or "").strip("[]")
    tls = parts.scheme.lower() == "https"
    port = port or (443 if tls else 80)
    deadline = clock() + total_timeout
    addresses = checked_addresses(host, port, resolver or system_resolver, own_hosts)
    sock = connect(addresses, port, min(connect_timeout, total_timeout), host)
    try:
        if tls:
            sock = wrap(sock, host, remaining(deadline, clock))
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        data = request_bytes(method, target, parts.netloc, body, headers, user_agent)
        send(sock, data, deadline, clock)
        return read_answer(sock, deadline, clock, max_bytes)
    finally:
        sock.close()


@dataclass(frozen=True)
class Followed:
    """What `get` reached: the last answer, the URL that gave it, and every URL asked."""

    answer: Answer
    url: str
    hops: tuple[str, ...]


def get(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    redirects: int = REDIRECTS,
    total_timeout: float = TOTAL_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    **options,
) -> Followed:
    """GET `url`, following at most `redirects` redirects, each checked as the first: the
    whole chain within `total_timeout`. FetchRefused when any hop is refused (nothing is
    sent to it), TooManyRedirects past the limit or in a circle; `options` are `request`'s."""
    deadline = clock() + total_timeout
    hops = [url]
    while True:
        answer = request(
            "GET",
            hops[-1],
            b"",
            headers or {},
            total_timeout=remaining(deadline, clock),
            clock=clock,
            **options,
        )
        location = answer.headers.get("location", "")
        if answer.status not in REDIRECT_STATUSES or not location:
            return Followed(answer, hops[-1], tuple(hops))
        try:
            following = urljoin(hops[-1], location.strip())
        except ValueError:
            raise FetchFailed(f"{hops[-1]} redirects to {location!r}, not an address.") from None
        if following in hops:
            raise TooManyRedirects(f"The redirects go in a circle, back to {following}.")
        if len(hops) > redirects:
            raise TooManyRedirects(f"More than {redirects} redirects; the last to {following}.")
        hops.append(following)


def remaining(deadline: float, clock: Callable[[], float]) -> float:
    left = deadline - clock()
    if left <= 0:
        raise TimedOut("No complete answer within the time allowed.")
    return left


def connect(addresses: list[Address], port: int, timeout: float, host: str) -> socket.socket:
    """A connection to the first checked address that accepts one: never a new lookup."""
    last, timed_out = "", False
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
            return sock
        except OSError as error:
            sock.close()
            timed_out = isinstance(error, TimeoutError)
            last = f"{address}: {error.strerror or error}"
    raise (TimedOut if timed_out else FetchFailed)(f"Could not connect to {host} ({last}).")


def wrap(sock: socket.socket, host: str, timeout: float) -> socket.socket:
    context = ssl.create_default_context()
    sock.settimeout(timeout)
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, OSError) as error:
        sock.close()
        if isinstance(error, TimeoutError):
            raise TimedOut(f"TLS with {host} did not finish in time.") from None
        raise TlsFailed(f"TLS with {host} failed ({error}).") from None


def request_bytes(
    method, target, netloc, body: bytes, headers: Mapping[str, str], user_agent: str = USER_AGENT
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc}", f"User-Agent: {user_agent}"]
    lines += ["Connection: close", f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if "\r" in name + value or "\n" in name + value:
            raise FetchRefused("A header may not contain a line break.")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def send(sock: socket.socket, data: bytes, deadline: float, clock) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(remaining(deadline, clock))
        try:
            sent = sock.send(view)
        except TimeoutError:
            raise TimedOut("The endpoint did not take the request in time.") from None
        except OSError as error:
            raise FetchFailed(f"The connection failed while sending ({error}).") from None
        view = view[sent:]


def read_answer(sock: socket.socket, deadline: float, clock, max_bytes: int) -> Answer:
    """Read the status and headers, then at most `max_bytes` of body, before the deadline."""
    data = b""
    head_end = -1
    status, headers, wanted = 0, {}, None
    while True:
        if head_end < 0 and len(data) > MAX_HEAD:
            raise FetchFailed("The answer's headers are too long.")
        if head_end >= 0:
            body = data[head_end:]
            if len(body) >= max_bytes or (wanted is not None and len(body) >= wanted):
                break
            if headers.get("transfer-encoding", "").lower() == "chunked" and complete(body):
                break
        sock.settimeout(remaining(deadline, clock))
        try:
            chunk = sock.recv(READ_CHUNK)
        except TimeoutError:
            raise TimedOut("No complete answer within the time allowed.") from None
        except OSError as error:
            if head_end >= 0:  # a reset after the status: the status stands
                break
            raise FetchFailed(f"The connection failed ({error}).") from None
        if not chunk:
            break
        data += chunk
        if head_end < 0 and b"\r\n\r\n" in data:
            head, _, _ = data.partition(b"\r\n\r\n")
            head_end = len(head) + 4
            status, headers = parse_head(head)
            length = headers.get("content-length", "")
            wanted = int(length) if length.isdigit() else None
    if head_end < 0:
        raise FetchFailed("The endpoint closed the connection without an answer.")
    body = data[head_end:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    truncated = len(body) > max_bytes or (wanted is not None and wanted > max_bytes)
    return Answer(status, headers, body[:max_bytes], truncated)


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise FetchFailed("The answer is not HTTP.")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def complete(body: bytes) -> bool:
    return body.endswith(b"0\r\n\r\n")


def dechunk(body: bytes) -> bytes:
    """The chunked body's bytes, as far as they came (a log shows the first KB of it)."""
    out, rest = b"", body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if not sep or size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return out
