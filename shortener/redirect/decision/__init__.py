"""The one decision of a redirect: from a link's snapshot and the request's facts, the
answer — redirect to a URL, ask for the password, or gone (pure).

The hot path (shortener/redirects.py) and the password page both call `decide()`, so the
password is always checked before any rule, whatever asks. Links without a password,
rules or query forwarding never get here: the redirect answers them as it always did.
"""

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

from shortener.policy.redirect_rules import Rule

ACTIVE = "active"  # LinkState.ACTIVE; a pure module names no model
MAX_QUERY = 2048  # a forwarded query string beyond this is cut: Location stays sane


class Forwarding(StrEnum):
    OFF = "off"
    MERGE = "merge"  # the destination's own parameters win
    OVERRIDE = "override"  # the visitor's parameters win


@dataclass(frozen=True, slots=True)
class SmartLink:
    """What a snapshot adds for a link with a password, rules or query forwarding."""

    password: str  # Django's hash, or "" for none
    rules: tuple[Rule, ...]
    forwarding: Forwarding
    needs: frozenset[str]  # the facts its rules read


def smart_link(password: str, rules: tuple[Rule, ...], forwarding: str) -> SmartLink | None:
    """None for a plain link: it keeps the plain path."""
    mode = Forwarding(forwarding) if forwarding in Forwarding._value2member_map_ else Forwarding.OFF
    if not password and not rules and mode is Forwarding.OFF:
        return None
    needs = frozenset().union(*(rule.needs for rule in rules))
    if mode is not Forwarding.OFF:
        needs |= {"query"}
    return SmartLink(password, rules, mode, needs)


@dataclass(frozen=True, slots=True)
class Facts:
    """What rules may ask of a request; unknown (None, "") never matches a condition."""

    now: float
    device: str | None = None
    os: str | None = None
    language: str | None = None
    country: str = ""
    query: str = ""
    query_pairs: frozenset = frozenset()


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str


class AskPassword:
    """Show the password page (or, for a wrong password, show it again with 403)."""


@dataclass(frozen=True, slots=True)
class Gone:
    state: str  # a LinkState value


ASK_PASSWORD = AskPassword()


def decide(link, facts: Facts, *, unlocked: bool = False) -> Redirect | AskPassword | Gone:
    """The answer for `link` (a redirects.Snapshot) given `facts`.

    `unlocked`: the visitor showed the password now or holds the link's cookie. The state
    comes first, then the password, then the rules in order, then query forwarding.
    """
    state = link.state(facts.now)
    if state != ACTIVE:
        return Gone(state)
    smart = link.smart
    if smart is None:
        return Redirect(link.target)
    if smart.password and not unlocked:
        return ASK_PASSWORD
    url = link.target
    for rule in smart.rules:
        if rule.holds(facts):
            url = rule.target
            break
    if smart.forwarding is not Forwarding.OFF and facts.query:
        url = forwarded(url, facts.query, visitor_wins=smart.forwarding is Forwarding.OVERRIDE)
    return Redirect(url)


def forwarded(url: str, query: str, *, visitor_wins: bool = False) -> str:
    """`url` with the visitor's query parameters merged in; on a name both have, the
    destination's value stays unless `visitor_wins`. The destination's own text is kept as
    stored; what the visitor sent is re-encoded, so Location stays ASCII."""
    try:
        visitor = parse_qsl(query[:MAX_QUERY], keep_blank_values=True, max_num_fields=100)
    except ValueError:
        return url
    if not visitor:
        return url
    base, hash_, fragment = url.partition("#")
    path, _, own = base.partition("?")
    own_pairs = [pair for pair in own.split("&") if pair]
    own_names = {unquote_plus(pair.partition("=")[0]) for pair in own_pairs}
    if visitor_wins:
        names = {name for name, _ in visitor}
        own_pairs = [p for p in own_pairs if unquote_plus(p.partition("=")[0]) not in names]
    else:
        visitor = [(name, value) for name, value in visitor if name not in own_names]
    added = urlencode(visitor, quote_via=quote, encoding="utf-8", errors="replace")
    merged = "&".join(part for part in (*own_pairs, added) if part)
    return path + ("?" + merged if merged else "") + hash_ + fragment
