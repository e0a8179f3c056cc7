"""Slugs (shortener/slugs.py): generated, custom, reserved."""

import pytest
from django.urls import get_resolver

from shortener import links
from shortener.policy import slugs


def test_generated_slugs_use_the_unambiguous_alphabet_and_length():
    for _ in range(200):
        slug = slugs.generate_slug(7)
        assert len(slug) == 7
        assert set(slug) <= set(slugs.ALPHABET)
        assert not set(slug) & set("0O1lI")


def test_generated_slugs_differ():
    assert len({slugs.generate_slug() for _ in range(1000)}) == 1000


def test_generation_skips_reserved_words(monkeypatch):
    draws = iter(["admin", "Static", "ok12345"])
    monkeypatch.setattr(slugs._generator, "random", lambda length: next(draws))
    assert slugs.generate_slug() == "ok12345"


def test_every_top_level_path_of_the_site_is_reserved():
    prefixes = set()
    for pattern in get_resolver().url_patterns:
        text = str(pattern.pattern).lstrip("^")
        first = text.split("/")[0]
        if first and "(" not in first:
            prefixes.add(first)
    assert prefixes, "the site has top-level paths"
    assert {p for p in prefixes if not slugs.is_reserved(p)} == set()


@pytest.mark.parametrize(
    ("slug", "problem"),
    [
        ("ab", "3 to 64"),
        ("a" * 65, "3 to 64"),
        ("has space", "3 to 64"),
        ("dots.not", "3 to 64"),
        ("emoji🙂", "3 to 64"),
        ("admin", "reserved"),
        ("API", "reserved"),
        ("healthz", "reserved"),
        ("webhooks", "reserved"),
    ],
)
def test_custom_slug_refusals_say_why(slug, problem):
    assert problem in slugs.custom_slug_problem(slug)


@pytest.mark.parametrize("slug", ["launch-2026", "My_Promo", "abc", "a" * 64])
def test_good_custom_slugs_pass(slug):
    assert slugs.custom_slug_problem(slug) is None


# --- One pattern everywhere a slug is matched ----------------------------------------------

SLUG_TABLE = [
    ("abc", True),
    ("a", True),
    ("x" * 64, True),
    ("_-_", True),
    ("Promo-2026_x", True),
    ("x" * 65, False),
    ("", False),
    ("a.b", False),
    ("a/b", False),
    ("é", False),
    ("%41", False),
    ("a b", False),
    ("abc\n", False),  # Python's `$` would let this through a searched pattern
]


def api_slug_patterns() -> set[str]:
    from shortener.api.views import api

    document = api.get_openapi_schema()
    return {
        parameter["schema"]["pattern"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "slug"
    }


def resolves_to(path: str, url_name: str, slug: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.url_name == url_name and match.kwargs.get("slug") == slug


@pytest.mark.parametrize(("text", "valid"), SLUG_TABLE)
def test_every_place_that_matches_a_slug_agrees(text, valid):
    from jsonschema import Draft202012Validator

    from config.ratelimit.middleware import resolved
    from shortener.events.schemas import problem_with_data
    from shortener.redirect.middleware import SLUG_PATH

    (api_pattern,) = api_slug_patterns()  # one pattern for every operation
    early_limiter_match = resolved("/" + text, "config.urls")
    verdicts = {
        "slug pattern": bool(slugs.SLUG.fullmatch(text)),
        "short URL": resolves_to("/" + text, "follow", text),
        "preview URL": resolves_to(f"/{text}+", "preview", text),
        "link page URL": resolves_to(f"/links/{text}/", "link-detail", text),
        "redirect middleware": bool(SLUG_PATH.match("/" + text)),
        "early rate limiter": early_limiter_match is not None
        and early_limiter_match.url_name == "follow",
        "API path parameter": Draft202012Validator(
            {"type": "string", "pattern": api_pattern}
        ).is_valid(text),
        # link.create's schema checks only the shape; the link core judges its slug
        # with custom_slug_problem, tested below.
        "webhook link.disable": problem_with_data("link.disable", {"slug": text}) is None,
    }
    assert verdicts == dict.fromkeys(verdicts, valid)


@pytest.mark.parametrize(("text", "valid"), SLUG_TABLE)
def test_custom_slugs_are_slugs_of_three_or_more(text, valid):
    custom = slugs.custom_slug_problem(text) is None
    assert custom == (valid and len(text) >= slugs.CUSTOM_MIN_LENGTH)


def test_the_lengths_come_from_one_place():
    from shortener.models import Link

    assert Link._meta.get_field("slug").max_length == slugs.MAX_LENGTH
    assert slugs.custom_slug_problem("ab") == slugs.CUSTOM_RULE
    assert f"{slugs.CUSTOM_MIN_LENGTH} to {slugs.MAX_LENGTH} characters" in slugs.CUSTOM_RULE
    # The core's sentence for a slug of the wrong kind says the same rule.
    assert links.SENTENCES["slug"] == slugs.CUSTOM_RULE
