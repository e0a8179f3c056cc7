"""Redirect rules, browser languages, query forwarding and the one decision, as tables
(pure: no database, no request)."""

from datetime import UTC, datetime

import pytest

from shortener.models import LinkState
from shortener.policy.languages import preferred_language
from shortener.policy.redirect_rules import MAX_RULES, Rule, RuleProblem, describe, parse_rules
from shortener.redirect.decision import (
    ASK_PASSWORD,
    Facts,
    Forwarding,
    Gone,
    Redirect,
    decide,
    forwarded,
    smart_link,
)
from shortener.redirect.lookup import Snapshot

NOW = datetime(2031, 6, 15, 12, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de-de"),
        ("en;q=0.5, fr;q=0.9", "fr"),
        ("en, fr", "en"),  # equals: the first
        ("fr;q=0, de;q=0.1", "de"),  # q=0 means not this one
        ("*", None),
        ("*;q=1, it;q=0.2", "it"),
        ("", None),
        ("de;q=2", None),  # out of range: skipped
        ("de;q=abc, en;q=0.3", "en"),
        ("de;level=1", None),
        (";;;,,,", None),
        ("x" * 2000, None),
        ("pt_BR", "pt-br"),
        ("zh-Hant-TW;q=0.8", "zh-hant-tw"),
        ("\udcff, en", "en"),
        ("ünïcode, es;q=0.4", "es"),
    ],
)
def test_the_preferred_language_honours_quality_values_and_never_fails(header, expected):
    assert preferred_language(header) == expected


BAD_RULES = [
    ("not a list", "Rules are a list of rules."),
    ([{"target": "https://a.example/"}], "Rule 1: give at least one condition"),
    (
        [{"target": "https://a.example/", "when": {"weather": "rain"}}],
        "unknown condition “weather”",
    ),
    (
        [{"target": "https://a.example/", "when": {"device": ["fridge"]}}],
        "“fridge” is not a device class",
    ),
    (
        [{"target": "https://a.example/", "when": {"os": ["beos"]}}],
        "“beos” is not an operating system family",
    ),
    ([{"target": "https://a.example/", "when": {"language": ["english"]}}], "not a language code"),
    ([{"target": "https://a.example/", "when": {"language": ["d"]}}], "“d” is not a language code"),
    ([{"target": "https://a.example/", "when": {"country": ["XX"]}}], "“XX” is not a country code"),
    ([{"target": "https://a.example/", "when": {"country": ["GER"]}}], "not a country code"),
    ([{"target": "https://a.example/", "when": {"country": 49}}], "a list of text values"),
    ([{"target": "https://a.example/", "when": {"country": []}}], "lists no value"),
    (
        [
            {
                "target": "https://a.example/",
                "when": {"time": {"from": "2031-02-01", "until": "2031-01-01"}},
            }
        ],
        "the time window ends before it starts",
    ),
    (
        [
            {
                "target": "https://a.example/",
                "when": {"time": {"from": "2031-01-01T10:00", "until": "2031-01-01T10:00"}},
            }
        ],
        "ends before it starts",
    ),
    ([{"target": "https://a.example/", "when": {"time": {"from": "soon"}}}], "the time condition"),
    ([{"target": "https://a.example/", "when": {"time": {}}}], "the time condition"),
    ([{"target": "https://a.example/", "when": {"query": {"name": "a"}}}], "the query condition"),
    ([{"target": "https://a.example/", "when": {"query": {"name": "", "value": "x"}}}], "query"),
    ([{"target": "", "when": {"device": ["mobile"]}}], "Rule 1: give the address"),
    (
        [{"target": "https://a.example/", "when": {"device": ["mobile"]}, "extra": 1}],
        "Each rule is",
    ),
    (
        [{"target": "https://a.example/", "when": {"device": ["mobile"]}}] * (MAX_RULES + 1),
        f"at most {MAX_RULES} rules, not {MAX_RULES + 1}",
    ),
]


@pytest.mark.parametrize(("value", "sentence"), BAD_RULES, ids=[s for _, s in BAD_RULES])
def test_bad_rules_are_refused_in_a_sentence(value, sentence):
    with pytest.raises(RuleProblem) as refused:
        parse_rules(value)
    assert sentence in str(refused.value)


def test_good_rules_read_normalised_and_round_trip():
    stored = [
        {
            "target": "https://m.example/",
            "when": {
                "device": ["Mobile", "tablet"],
                "os": ["iOS"],
                "language": ["de-CH", "de"],
                "country": ["de", "AT"],
                "time": {"from": "2031-01-01T00:00", "until": "2031-12-31T23:59:00Z"},
                "query": {"name": "src", "value": "qr"},
            },
        }
    ]
    (rule,) = parse_rules(stored)
    assert rule.devices == {"mobile", "tablet"} and rule.systems == {"ios"}
    assert rule.languages == ("de-ch", "de") and rule.countries == {"DE", "AT"}
    assert rule.as_json()["when"]["time"] == {
        "from": "2031-01-01T00:00:00Z",
        "until": "2031-12-31T23:59:00Z",
    }
    assert parse_rules([rule.as_json()]) == [rule]
    assert describe(rule.as_json()).startswith("When the device is a phone or a tablet")


def facts(**given) -> Facts:
    return Facts(**{"now": NOW, **given})


RULE_CASES = [
    ({"device": ["mobile"]}, facts(device="mobile"), True),
    ({"device": ["mobile"]}, facts(device="desktop"), False),
    ({"device": ["mobile"]}, facts(), False),  # unknown never matches
    ({"os": ["ios"]}, facts(device="mobile", os="ios"), True),
    ({"language": ["de"]}, facts(language="de-at"), True),
    ({"language": ["de-ch"]}, facts(language="de"), False),
    ({"language": ["de"]}, facts(language="dea"), False),
    ({"country": ["DE"]}, facts(country="DE"), True),
    ({"country": ["DE"]}, facts(country=""), False),
    ({"time": {"from": "2031-06-01"}}, facts(), True),
    ({"time": {"until": "2031-06-15T12:00"}}, facts(), False),  # until is exclusive
    ({"time": {"from": "2031-06-16"}}, facts(), False),
    (
        {"query": {"name": "src", "value": "qr"}},
        facts(query_pairs=frozenset({("src", "qr")})),
        True,
    ),
    (
        {"query": {"name": "src", "value": "qr"}},
        facts(query_pairs=frozenset({("src", "QR")})),
        False,
    ),
    ({"device": ["mobile"], "country": ["DE"]}, facts(device="mobile", country="FR"), False),
]


@pytest.mark.parametrize(("when", "given", "holds"), RULE_CASES)
def test_a_rule_holds_when_every_condition_does(when, given, holds):
    (rule,) = parse_rules([{"target": "https://a.example/", "when": when}])
    assert rule.holds(given) is holds


def snapshot(*, password="", rules=(), forwarding="off", active=True, target="https://t.example/"):
    parsed = tuple(parse_rules(list(rules)))
    return Snapshot(
        pk=1,
        domain_id=1,
        target=target,
        redirect_code=302,
        is_active=active,
        deleted=False,
        expires_at=None,
        max_visits=None,
        visit_count=0,
        smart=smart_link(password, parsed, forwarding),
    )


MOBILE = {"target": "https://m.example/", "when": {"device": ["mobile"]}}
GERMAN = {"target": "https://de.example/", "when": {"language": ["de"]}}


@pytest.mark.parametrize(
    ("link", "given", "unlocked", "answer"),
    [
        (snapshot(), facts(), False, Redirect("https://t.example/")),
        (snapshot(active=False), facts(), False, Gone(LinkState.DISABLED)),
        (snapshot(password="hash"), facts(device="mobile"), False, ASK_PASSWORD),
        # The password first, always: a rule never skips it (Dub #385).
        (snapshot(password="hash", rules=[MOBILE]), facts(device="mobile"), False, ASK_PASSWORD),
        (
            snapshot(password="hash", rules=[MOBILE]),
            facts(device="mobile"),
            True,
            Redirect("https://m.example/"),
        ),
        (
            snapshot(rules=[MOBILE, GERMAN]),
            facts(device="mobile", language="de"),
            False,
            Redirect("https://m.example/"),
        ),
        (
            snapshot(rules=[GERMAN, MOBILE]),
            facts(device="mobile", language="de"),
            False,
            Redirect("https://de.example/"),
        ),
        (snapshot(rules=[MOBILE]), facts(device="desktop"), False, Redirect("https://t.example/")),
        (
            snapshot(forwarding="merge", target="https://t.example/?a=1"),
            facts(query="a=2&b=3"),
            False,
            Redirect("https://t.example/?a=1&b=3"),
        ),
    ],
)
def test_one_decision(link, given, unlocked, answer):
    assert decide(link, given, unlocked=unlocked) == answer


def test_a_plain_link_has_no_smart_part_and_keeps_the_plain_path():
    assert smart_link("", (), "off") is None
    assert smart_link("", (), "merge").needs == {"query"}
    rule = Rule("https://a.example/", countries=frozenset({"DE"}))
    assert smart_link("", (rule,), "off").needs == {"country"}


@pytest.mark.parametrize(
    ("url", "query", "mode", "expected"),
    [
        ("https://t.example/", "utm_source=x", Forwarding.MERGE, "https://t.example/?utm_source=x"),
        ("https://t.example/?a=1", "a=2&b=3", Forwarding.MERGE, "https://t.example/?a=1&b=3"),
        ("https://t.example/?a=1", "a=2&b=3", Forwarding.OVERRIDE, "https://t.example/?a=2&b=3"),
        ("https://t.example/p#frag", "b=3", Forwarding.MERGE, "https://t.example/p?b=3#frag"),
        (
            "https://t.example/",
            "q=caf%C3%A9 x",
            Forwarding.MERGE,
            "https://t.example/?q=caf%C3%A9%20x",
        ),
        (
            "https://t.example/",
            "x=<script>\r\n",
            Forwarding.MERGE,
            "https://t.example/?x=%3Cscript%3E%0D%0A",
        ),
        ("https://t.example/", "", Forwarding.MERGE, "https://t.example/"),
        ("https://t.example/?a=%20", "a=1", Forwarding.MERGE, "https://t.example/?a=%20"),
    ],
)
def test_query_forwarding_merges_and_keeps_location_ascii(url, query, mode, expected):
    result = forwarded(url, query, visitor_wins=mode is Forwarding.OVERRIDE)
    assert result == expected and result.isascii()
