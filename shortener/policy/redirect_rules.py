"""Redirect rules: their shape, the strict reading of what an entry point sends, and whether
a rule holds for a visit (pure; destinations are judged by the link core's target policy).

A rule is `{"target": URL, "when": {condition: value, ...}}`; every condition given must
hold (within one condition, any listed value will do). The first rule that holds decides.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from shortener.policy.countries import ISO_CODES
from shortener.policy.devices import DEVICE_CLASSES, OS_FAMILIES, OS_LABELS
from shortener.policy.languages import language_matches, normalized_tag

MAX_RULES = 20
MAX_VALUES = 20  # values of one condition
QUERY_NAME_MAX = 100
QUERY_VALUE_MAX = 500
CONDITIONS = ("device", "os", "language", "country", "time", "query")
SHAPE = (
    'Each rule is {"target": an address, "when": conditions}, with conditions among '
    + ", ".join(CONDITIONS)
    + "."
)
RULES_SHAPE = "Rules are a list of rules. " + SHAPE


class RuleProblem(ValueError):
    """A rule refused, in a sentence that says which rule (counted from 1) and why."""


@dataclass(frozen=True, slots=True)
class Rule:
    target: str
    devices: frozenset[str] = frozenset()
    systems: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ()
    countries: frozenset[str] = frozenset()
    starts: float | None = None
    ends: float | None = None
    query: tuple[str, str] | None = None

    @property
    def needs(self) -> frozenset[str]:
        """The request facts this rule reads (the redirect works out only those)."""
        needed = set()
        if self.devices or self.systems:
            needed.add("device")
        if self.languages:
            needed.add("language")
        if self.countries:
            needed.add("country")
        if self.query is not None:
            needed.add("query")
        return frozenset(needed)

    def holds(self, facts) -> bool:
        """Every condition given holds for `facts` (decisions.Facts); unknown facts never match."""
        if self.devices and facts.device not in self.devices:
            return False
        if self.systems and facts.os not in self.systems:
            return False
        if self.languages and not any(language_matches(w, facts.language) for w in self.languages):
            return False
        if self.countries and facts.country not in self.countries:
            return False
        if self.starts is not None and facts.now < self.starts:
            return False
        if self.ends is not None and facts.now >= self.ends:
            return False
        return self.query is None or self.query in facts.query_pairs

    def as_json(self) -> dict:
        """The stored and API form (lists sorted, times RFC 3339 UTC)."""
        when: dict = {}
        if self.devices:
            when["device"] = sorted(self.devices)
        if self.systems:
            when["os"] = sorted(self.systems)
        if self.languages:
            when["language"] = list(self.languages)
        if self.countries:
            when["country"] = sorted(self.countries)
        if self.starts is not None or self.ends is not None:
            when["time"] = {
                key: iso(moment)
                for key, moment in (("from", self.starts), ("until", self.ends))
                if moment is not None
            }
        if self.query is not None:
            when["query"] = {"name": self.query[0], "value": self.query[1]}
        return {"target": self.target, "when": when}


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def parse_rules(value) -> list[Rule]:
    """Rules from JSON-like values, strictly: anything unknown or malformed is refused."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise RuleProblem(RULES_SHAPE)
    if len(value) > MAX_RULES:
        raise RuleProblem(f"A link can have at most {MAX_RULES} rules, not {len(value)}.")
    return [parse_rule(item, number) for number, item in enumerate(value, start=1)]


def parse_rule(item, number: int) -> Rule:
    said = f"Rule {number}: "
    if not isinstance(item, dict) or set(item) - {"target", "when"}:
        raise RuleProblem(said + SHAPE)
    target, when = item.get("target"), item.get("when")
    if not isinstance(target, str) or not target.strip():
        raise RuleProblem(said + "give the address it leads to.")
    if not isinstance(when, dict) or not when:
        raise RuleProblem(
            said + "give at least one condition; without one, change the destination."
        )
    unknown = sorted(str(name) for name in when if name not in CONDITIONS)
    if unknown:
        raise RuleProblem(
            said + f"unknown condition {shown(unknown[0])}; use {', '.join(CONDITIONS)}."
        )
    try:
        starts, ends = time_window(when.get("time"))
        return Rule(
            target=target.strip(),
            devices=frozenset(
                choices(when.get("device"), DEVICE_CLASSES, "device", "a device class")
            ),
            systems=frozenset(
                choices(when.get("os"), tuple(OS_FAMILIES), "os", "an operating system family")
            ),
            languages=tuple(dict.fromkeys(languages(when.get("language")))),
            countries=frozenset(countries(when.get("country"))),
            starts=starts,
            ends=ends,
            query=query_condition(when.get("query")),
        )
    except RuleProblem as problem:
        raise RuleProblem(said + str(problem)) from None


def values_of(value, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RuleProblem(f"the {what} condition is a list of text values.")
    if not value:
        raise RuleProblem(f"the {what} condition lists no value.")
    if len(value) > MAX_VALUES:
        raise RuleProblem(f"the {what} condition lists at most {MAX_VALUES} values.")
    return [v.strip() for v in value]


def choices(value, allowed: tuple[str, ...], what: str, kind: str) -> list[str]:
    picked = [v.lower() for v in values_of(value, what)]
    bad = [v for v in picked if v not in allowed]
    if bad:
        raise RuleProblem(f"{shown(bad[0])} is not {kind}; use {', '.join(allowed)}.")
    return picked


def languages(value) -> list[str]:
    tags = []
    for text in values_of(value, "language"):
        tag = normalized_tag(text)
        if tag is None:
            raise RuleProblem(
                f"{shown(text)} is not a language code; use codes such as en, de or pt-BR."
            )
        tags.append(tag)
    return tags


def countries(value) -> list[str]:
    codes = [v.upper() for v in values_of(value, "country")]
    bad = [code for code in codes if code not in ISO_CODES]
    if bad:
        raise RuleProblem(
            f"{shown(bad[0])} is not a country code; use ISO 3166 codes such as DE, US or JP."
        )
    return codes


TIME_SHAPE = (
    'the time condition is {"from": a date and time, "until": a date and time} (UTC), '
    "with at least one of them, for example 2031-12-31T23:59."
)


def time_window(value) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or not value or set(value) - {"from", "until"}:
        raise RuleProblem(TIME_SHAPE)
    starts, ends = moment(value.get("from")), moment(value.get("until"))
    if starts is None and ends is None:
        raise RuleProblem(TIME_SHAPE)
    if starts is not None and ends is not None and ends <= starts:
        raise RuleProblem("the time window ends before it starts.")
    return starts, ends


def moment(value) -> float | None:
    if value is None or value == "":
        return None
    when = None
    if isinstance(value, str) and value.isprintable():
        try:
            # ISO 8601 as Django's parse_datetime reads it first (a date alone is midnight)
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None:
        raise RuleProblem(TIME_SHAPE)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def query_condition(value) -> tuple[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"name", "value"}
        or not all(isinstance(v, str) for v in value.values())
        or not value["name"]
    ):
        raise RuleProblem(
            'the query condition is {"name": a parameter name, "value": the value it must have}.'
        )
    if len(value["name"]) > QUERY_NAME_MAX or len(value["value"]) > QUERY_VALUE_MAX:
        raise RuleProblem(
            f"a query parameter's name is at most {QUERY_NAME_MAX} characters "
            f"and its value at most {QUERY_VALUE_MAX}."
        )
    if not (value["name"] + value["value"]).isprintable():
        raise RuleProblem("a query condition cannot hold control characters.")
    return (value["name"], value["value"])


def shown(text: str, limit: int = 30) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "“" + (text if len(text) <= limit else text[: limit - 1] + "…") + "”"


def query_pairs(query: str) -> frozenset[tuple[str, str]]:
    """The (name, value) pairs of a query string, for the query condition."""
    try:
        return frozenset(parse_qsl(query[:4096], keep_blank_values=True, max_num_fields=100))
    except ValueError:  # more fields than that: junk
        return frozenset()


def from_stored(stored) -> tuple[Rule, ...]:
    """Rules as the link core stored them (already judged); a row that somehow fails to
    read gives no rules rather than a broken redirect."""
    try:
        return tuple(parse_rules(stored or []))
    except RuleProblem:
        return ()


DEVICE_WORDS = {"desktop": "a desktop", "mobile": "a phone", "tablet": "a tablet", "bot": "a bot"}


def describe(stored: dict) -> str:
    """A stored rule's conditions in words, for the link's page and admin."""
    when = stored.get("when", {}) if isinstance(stored, dict) else {}
    parts = []
    if when.get("device"):
        parts.append("the device is " + " or ".join(DEVICE_WORDS.get(d, d) for d in when["device"]))
    if when.get("os"):
        parts.append("the system is " + " or ".join(OS_LABELS.get(o, o) for o in when["os"]))
    if when.get("language"):
        parts.append("the browser prefers " + " or ".join(when["language"]))
    if when.get("country"):
        parts.append("the visitor is in " + " or ".join(when["country"]))
    window = when.get("time") or {}
    if window.get("from"):
        parts.append(f"it is {window['from']} or later")
    if window.get("until"):
        parts.append(f"it is before {window['until']}")
    if when.get("query"):
        parts.append(f"the query has {when['query']['name']}={when['query']['value']}")
    return "When " + ", and ".join(parts) if parts else "Always"
