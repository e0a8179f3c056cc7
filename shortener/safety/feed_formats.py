"""Reading a blocklist feed: which domains a file names, and what it says that is not one.

Pure: bytes in (as chunks, so a file of any size streams through in bounded memory per
line), domains and counted skips out; no model, setting or file. The formats:

- `domains`: one domain a line; `#` starts a comment, on its own line or after the name.
- `hosts`: `0.0.0.0 domain [domain ...]` (any address first; `localhost` and its kin
  are the file's boilerplate, passed over uncounted).
- `urlhaus`: URLhaus-style CSV, `#` comment lines, a URL in one column: its host.
- `adblock`: `||domain^` (or `||domain^$important`) lines; `!` comments and the
  `[Adblock Plus]` header pass; narrower rules (paths, options, `@@` exceptions,
  element hiding) are counted, never widened to the whole domain.
- `auto`: each line read as the format it looks like, so a file is read without being
  told what it is.

What is skipped and counted: lines that are not a domain (malformed), IP addresses
(a domain blocklist holds names; targets to private addresses are refused anyway),
wildcards (`*.example.com` says "subdomains", and blocking example.com would be more
than the feed said), public suffixes and other names the blocklist refuses
(`targets.blocklist_entry`), the site's own short domains (and domains above or below
them), and lines longer than MAX_LINE bytes. IDNs are kept, as their A-label
(xn--), as every blocklist entry is.
"""

import csv
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shortener.policy import targets

FORMATS = ("auto", "domains", "hosts", "urlhaus", "adblock")
MAX_LINE = 4096  # bytes; no domain line is longer, and a longer one is not read whole
MAX_DOMAINS = 2_000_000  # a feed beyond this is refused whole (memory: ~100 bytes each)

SKIPS = {  # the counted reasons, in the order a summary names them
    "malformed": "malformed",
    "ip": "IP addresses",
    "wildcard": "wildcards",
    "refused": "public suffixes or names the blocklist refuses",
    "own": "this site's own short domains",
    "narrower": "rules narrower than a whole domain",
    "overlong": f"lines longer than {MAX_LINE} bytes",
}
HOSTS_BOILERPLATE = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",  # noqa: S104 (a name hosts files list, not an address bound to)
    }
)
ADBLOCK_DOMAIN = re.compile(r"\|\|([^/^$|]+)\^(?:\$important)?\|?")
OVERLONG = None  # what split_lines yields for a line it did not read whole


class FeedTooLarge(ValueError):
    """More domains than MAX_DOMAINS: nothing of the feed is imported."""


@dataclass
class Reading:
    """What a feed says: its domains (first-seen order, no duplicates), the lines read,
    and the skips counted by reason (keys of SKIPS)."""

    domains: dict[str, None] = field(default_factory=dict)
    lines: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_sentence(self) -> str:
        if not self.skipped:
            return "skipped nothing"
        parts = [
            f"{self.skipped[key]} {label}" for key, label in SKIPS.items() if self.skipped[key]
        ]
        return f"skipped {self.skipped_total}: " + ", ".join(parts)


def split_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[bytes | None]:
    """The lines of a byte stream, without their ends; OVERLONG (None) for a line longer
    than `max_line`, whose rest is passed over without being kept."""
    pending = b""
    dropping = False
    for chunk in chunks:
        pending += chunk
        while True:
            end = pending.find(b"\n")
            if end < 0:
                break
            line, pending = pending[:end], pending[end + 1 :]
            if dropping:
                dropping = False
                continue
            yield OVERLONG if len(line) > max_line else line
        if len(pending) > max_line:
            if not dropping:
                yield OVERLONG
            dropping = True
            pending = b""
    if pending and not dropping:
        yield OVERLONG if len(pending) > max_line else pending


def read(chunks: Iterable[bytes], fmt: str = "auto", own_hosts: Iterable[str] = ()) -> Reading:
    """Read a feed's bytes as `fmt` (one of FORMATS). FeedTooLarge beyond MAX_DOMAINS."""
    if fmt not in FORMATS:
        raise ValueError(f"Choose a format among {', '.join(FORMATS)}, not {fmt}.")
    own = [h.lower().strip("[]").rstrip(".") for h in own_hosts if h]
    reading = Reading()
    for raw in split_lines(chunks):
        reading.lines += 1
        if raw is OVERLONG:
            reading.skipped["overlong"] += 1
            continue
        try:
            line = raw.decode("utf-8").lstrip("\ufeff").strip()
        except UnicodeDecodeError:
            reading.skipped["malformed"] += 1
            continue
        for found in line_entries(line, fmt):
            verdict = found if found in SKIPS else domain_verdict(found, own)
            if verdict in SKIPS:
                reading.skipped[verdict] += 1
            elif verdict not in reading.domains:
                if len(reading.domains) >= MAX_DOMAINS:
                    raise FeedTooLarge(
                        f"The feed names more than {MAX_DOMAINS:,} domains; nothing was imported."
                    )
                reading.domains[verdict] = None
    return reading


def line_entries(line: str, fmt: str) -> list[str]:
    """The names one line offers, or skip keys; empty for blank lines and comments."""
    if not line:
        return []
    if fmt == "auto":
        fmt = looks_like(line)
    match fmt:
        case "adblock":
            return adblock_entries(line)
        case "urlhaus":
            return urlhaus_entries(line)
        case "hosts":
            return hosts_entries(line)
        case _:
            return domain_entries(line)


def looks_like(line: str) -> str:
    if line.startswith("#"):  # a comment in every format but Adblock's (whose are `!`)
        return "domains"
    if line.startswith(("||", "@@", "!", "[")) or "##" in line:
        return "adblock"
    if "://" in line:
        return "urlhaus"
    tokens = line.split("#", 1)[0].split()
    if len(tokens) > 1 and is_address(tokens[0]):
        return "hosts"
    return "domains"


def domain_entries(line: str) -> list[str]:
    if line.startswith("#"):
        return []
    name = re.split(r"\s+#", line, maxsplit=1)[0].strip()
    return [name] if name and len(name.split()) == 1 else ["malformed"]


def hosts_entries(line: str) -> list[str]:
    tokens = line.split("#", 1)[0].split()
    if not tokens:
        return []
    if len(tokens) < 2 or not is_address(tokens[0]):
        return ["malformed"]
    return [name for name in tokens[1:] if name.lower() not in HOSTS_BOILERPLATE]


def urlhaus_entries(line: str) -> list[str]:
    if line.startswith("#"):
        return []
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return ["malformed"]
    url = next((f.strip() for f in fields if "://" in f), None)
    if url is None:
        return ["malformed"]
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return ["malformed"]
    return [host] if host else ["malformed"]


def adblock_entries(line: str) -> list[str]:
    if line.startswith(("!", "[")):
        return []
    found = ADBLOCK_DOMAIN.fullmatch(line)
    if found:
        return [found.group(1)]
    return ["narrower"]


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def domain_verdict(name: str, own: list[str]) -> str:
    """The blocklist entry `name` means, or the key of why it is skipped."""
    if "*" in name:
        return "wildcard"
    if is_address(name):
        return "ip"
    bare = name.rstrip(".")
    if "." not in bare or any(ch in bare for ch in "/?#@:\\\"'<>,;") or not bare.strip("."):
        return "malformed"
    if not targets.normalise_host(bare).ok:  # not a name (an IDN that IDNA refuses too)
        return "malformed"
    verdict = targets.blocklist_entry(bare)
    if not verdict.ok:  # a public suffix (com, co.uk, github.io)
        return "refused"
    entry = verdict.url or ""
    if any(
        targets.matches_domain(host, entry) or targets.matches_domain(entry, host) for host in own
    ):
        return "own"
    return entry
