"""Editing a link's redirect rules one at a time (add, move, remove), as the link's page
does; each is an `edit()` of the whole list, so every rule is judged the same way."""

from shortener.links.models import Link
from shortener.links.refusal import LinkRefused
from shortener.links.writes import edit


def add_rule(link: Link, rule, *, by, own_host: str | None = None) -> Link:
    return edit(link, by=by, own_host=own_host, rules=[*link.rules, rule])


def remove_rule(link: Link, number: int, *, by) -> Link:
    """Remove rule `number` (counted from 1, as the page shows them)."""
    rules = list(link.rules)
    check_number(rules, number)
    del rules[number - 1]
    return edit(link, by=by, rules=rules)


def move_rule(link: Link, number: int, offset: int, *, by) -> Link:
    """Move rule `number` up (-1) or down (+1); at either end it stays."""
    rules = list(link.rules)
    check_number(rules, number)
    to = min(max(number - 1 + offset, 0), len(rules) - 1)
    rules.insert(to, rules.pop(number - 1))
    return edit(link, by=by, rules=rules)


def check_number(rules: list, number: int) -> None:
    if not 1 <= number <= len(rules):
        raise LinkRefused("rules", f"This link has no rule {number}.")
