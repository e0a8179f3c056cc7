"""A flag's or switch's rule as plain data (what the audit stores) and in words (for people)."""

from decimal import Decimal
from typing import Any

Rule = dict[str, Any]


def percent_text(percent: Decimal | float | str | None) -> str | None:
    """One decimal place, so 50, 50.0 and Decimal("50.0") compare equal."""
    return None if percent is None else f"{Decimal(str(percent)):.1f}"


def flag_rule(flag) -> Rule:
    """Everything that decides who gets the flag; groups and users by name, sorted."""
    return {
        "everyone": flag.everyone,
        "percent": percent_text(flag.percent),
        "groups": sorted(group.name for group in flag.groups.all()) if flag.pk else [],
        "users": sorted(user.get_username() for user in flag.users.all()) if flag.pk else [],
        "staff": flag.staff,
        "superusers": flag.superusers,
        "authenticated": flag.authenticated,
        "languages": flag.languages,
        "testing": flag.testing,
        "rollout": flag.rollout,
    }


def switch_rule(switch) -> Rule:
    return {"active": switch.active}


def describe(rule: Rule | None) -> str:
    """The rule in a few words, as the board and the trail show it."""
    if rule is None:
        return "does not exist"
    if "active" in rule:
        return "on" if rule["active"] else "off"
    if rule["everyone"] is True:
        return "on for everyone"
    if rule["everyone"] is False:
        return "off for everyone"
    parts = []
    if rule["percent"] is not None and Decimal(rule["percent"]) > 0:
        parts.append(f"{Decimal(rule['percent']).normalize():f} % of visitors")
    if rule["groups"]:
        parts.append("groups: " + ", ".join(rule["groups"]))
    if rule["users"]:
        parts.append("users: " + ", ".join(rule["users"]))
    parts += [
        label
        for key, label in (
            ("authenticated", "everyone signed in"),
            ("staff", "all staff"),
            ("superusers", "all superusers"),
        )
        if rule[key]
    ]
    if rule["languages"]:
        parts.append("languages: " + rule["languages"])
    if not parts:
        return "off (nobody matches)"
    return "on for " + "; ".join(parts)
