"""The link-health checker's rules, pure: when a link is due, how many requests a
destination host may get a minute, which results mean "unreachable", and which ones a
person should look at (the domain is gone, or now sends visitors to another site).

No model, setting, clock or network: the checker (shortener/safety/health.py) passes
what it saw and the time."""

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from shortener.policy import targets

EVERY = timedelta(days=1)  # a link's destination is requested at most once in this
# The results a check records (LinkHealth.Result's values).
OK, STATUS, REDIRECTED, DNS_GONE, TLS_ERROR, TIMEOUT, REFUSED, FAILED = (
    "ok",
    "status",
    "redirected",
    "dns_gone",
    "tls_error",
    "timeout",
    "refused",
    "failed",
)
REACHABLE = frozenset({OK, REDIRECTED})


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def result_of(status: int, target: str, final_url: str) -> str:
    """The result of an answer: an error status, redirected to another host, or ok."""
    if status >= 400 or status < 200:
        return STATUS
    if host_of(final_url) != host_of(target):
        return REDIRECTED
    return OK


def review_reason(target: str, result: str, final_url: str = "") -> str | None:
    """Why a person should look at a link after this check, or None: its domain no longer
    resolves (it may be re-registered by anyone), or it now redirects to a different
    registrable domain (a parked page, a sold domain, a takeover)."""
    host = host_of(target)
    if result == DNS_GONE:
        return f"Its destination's domain {host} no longer resolves."
    if result == REDIRECTED and final_url:
        went = host_of(final_url)
        if went and targets.registrable_domain(went) != targets.registrable_domain(host):
            return f"Its destination {host} now redirects to another site, {went}."
    return None


@dataclass
class HostBudget:
    """At most `limit` requests per `per` seconds to one host (a sliding window): a
    check over budget waits for a later run rather than hammering one site."""

    limit: int
    per: float = 60.0
    sent: dict[str, deque] = field(default_factory=dict)

    def take(self, host: str, now: float) -> bool:
        times = self.sent.setdefault(host, deque())
        while times and now - times[0] >= self.per:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True
