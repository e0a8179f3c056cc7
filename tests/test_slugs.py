"""Slugs (shortener/slugs.py): generated, custom, reserved."""

import pytest
from django.urls import get_resolver

from shortener import slugs


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
