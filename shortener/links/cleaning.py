"""Cleaning a link's values: every rule about what a link may hold, in one place.

`clean()` takes plain values as any entry point has them (form strings, JSON values,
Python objects), turns them into what is stored, and raises `LinkRefused` naming each
refused field with a sentence. The sentences are the same whichever entry point asked.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shortener.domains.models import BlockedDomain, Domain
from shortener.links import passwords
from shortener.links.access import may_give_to, may_use_custom_slugs, usable_domains
from shortener.links.models import Link, QueryForwarding, RedirectCode
from shortener.links.refusal import LinkRefused
from shortener.links.text import UNENCODABLE, is_unencodable, text_problem
from shortener.policy import redirect_rules, slugs, targets

TITLE_MAX = 200
NOTES_MAX = 2000
TAGS_MAX = 20
TAG_MAX = 50
TAG_PATTERN = re.compile(rf"[\w-]{{1,{TAG_MAX}}}")
MAX_VISITS_MAX = 2_147_483_647  # the column's range on every database
FIELDS = (
    "target",
    "domain",
    "slug",
    "title",
    "notes",
    "tags",
    "redirect_code",
    "expires_at",
    "max_visits",
)
FIELDS += ("password", "rules", "forward_query")
EDITABLE = tuple(name for name in FIELDS if name not in ("slug", "domain"))
DEFAULTS = {
    "title": "",
    "notes": "",
    "tags": [],
    "redirect_code": RedirectCode.FOUND,
    "expires_at": None,
    "max_visits": None,
    "password": "",
    "rules": [],
    "forward_query": QueryForwarding.OFF,
}

# What each field must be, said when a value is of the wrong kind altogether (an entry
# point's own parser, such as the API's, may refuse it first: it says the same).
SENTENCES = {
    "target": "Enter the address the short link should lead to: a full http or https address.",
    "domain": "The domain must be a host name of this site, such as go.example.com.",
    "slug": slugs.CUSTOM_RULE,
    "title": "The title must be text.",
    "notes": "The notes must be text.",
    "tags": "Tags are a list of single words of letters, digits, - or _.",
    "redirect_code": "Choose a redirect code: 301, 302, 307 or 308.",
    "expires_at": "Enter the expiry as a date and time (UTC), for example 2031-12-31T23:59.",
    "max_visits": "Maximum visits must be a whole number of at least 1, or left empty.",
    "owner": "The owner must be a user of this site.",
    "password": passwords.NOT_TEXT,
    "rules": redirect_rules.RULES_SHAPE,
    "forward_query": "Query forwarding is off, merge or override.",
}
DOMAIN_FIXED = "A link's domain never changes: links shared elsewhere must keep working."
PAST_EXPIRY = (
    "The expiry must lie in the future: a link that has expired already would be dead "
    "from the start."
)


class Refusal(ValueError):
    """A cleaner's refusal of its one field (clean() gathers them into LinkRefused)."""


@dataclass(frozen=True)
class Context:
    actor: Any
    link: Link | None
    own_host: str | None
    now: datetime
    domain: Domain | None = None  # the link's; None when it was refused
    lookups: "Lookups | None" = None
    domains: "Domains | None" = None  # as a new link's domain was chosen from them


@dataclass
class Lookups:
    """What a batch reads once instead of once a link (`batch.create_many`): the blocklist
    and the (domain id, slug) pairs already taken (tombstones included), to which each
    accepted one joins. `restoring` (an import) keeps a past expiry and the slugs links
    already had."""

    blocked_domains: list[str]
    taken_slugs: set[tuple[int, str]]  # (domain id, slug)
    restoring: bool = False
    domains: "Domains | None" = None  # read once for the batch's actor
    workspace: Any = ...  # the batch's; ... for each owner's personal one
    homes: dict = field(default_factory=dict)  # owner pk → personal workspace
    allowed: dict = field(default_factory=dict)  # workspace pk → may the actor create there


@dataclass(frozen=True)
class Domains:
    """The short domains as one cleaning sees them: every one by host, and those the
    actor may use, the default first. A handful of rows, read in two queries."""

    by_host: dict[str, Domain]
    usable: list[Domain]

    @classmethod
    def read(cls, actor, workspace=None) -> "Domains":
        """`workspace`: the one the new links go to, whose own domains they may use."""
        Domain.objects.site()  # made here if SITE_HOST changed (or a test emptied the table)
        usable = list(usable_domains(actor, workspace))
        return cls({d.host: d for d in Domain.objects.all()}, usable)

    def active_hosts(self) -> list[tuple[str, bool]]:
        """(host, its subdomains refused too) for each active domain."""
        return [(d.host, d.refuse_subdomains) for d in self.by_host.values() if d.is_active]


def clean(
    values: Mapping[str, Any],
    *,
    actor,
    link: Link | None = None,
    own_host: str | None = None,
    lookups: Lookups | None = None,
    workspace=None,
) -> dict[str, Any]:
    """The stored form of `values` for a new link (`link` None, made in `workspace`) or an
    edit of `link`.

    A new link gets the defaults for fields not given. An edit cleans only the fields
    given, and a value equal to the stored one passes as it is (so an expiry that has
    passed, or a tag from before a rule, never blocks changing a title).
    """
    if link is not None and link.deleted_at is not None:
        raise LinkRefused("__all__", "A deleted link cannot be changed.")
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    domain = domains = None
    if link is not None:
        domain = link.domain
        if values.get("domain") not in (None, "", link.domain.host):
            errors["domain"] = DOMAIN_FIXED
    else:
        domains = (lookups.domains if lookups is not None else None) or Domains.read(
            actor, workspace
        )
        try:
            domain = cleaned["domain"] = clean_domain(values.get("domain"), domains)
        except Refusal as refusal:
            errors["domain"] = str(refusal)
    context = Context(actor, link, own_host, timezone.now(), domain, lookups, domains)
    for name in values:
        if name not in CLEANERS and name != "domain":
            errors[name] = "This field is not part of a link."
    if link is not None and values.get("slug") not in (None, "", link.slug):
        errors["slug"] = "A link's slug never changes: links shared elsewhere must keep working."
    for name, cleaner in CLEANERS.items():
        if name not in values or (link is not None and name == "slug"):
            continue
        try:
            value = cleaner(values[name], context)
        except Refusal as refusal:
            errors[name] = str(refusal)
            continue
        if link is None or value != stored(link, name):
            cleaned[name] = value
    if link is None:
        if "target" not in values:
            errors.setdefault("target", SENTENCES["target"])
        for name, default in DEFAULTS.items():
            cleaned.setdefault(name, default)
    if errors:
        raise LinkRefused.of(errors)
    return cleaned


def stored(link: Link, name: str):
    if name == "tags":
        return sorted(tag.name for tag in link.tags.all())
    if name == "password":
        return object()  # a new hash never equals the old one: a given password is a change
    return getattr(link, name)


def clean_domain(value, domains: Domains) -> Domain:
    """The domain a new link goes on: the one named (a host name, as typed), else the
    default if the actor may use it, else the site's own."""
    usable = domains.usable
    if value is None or value == "":
        default = next((d for d in usable if d.is_default), None) or next(
            (d for d in usable if d.host == settings.SITE_HOST), None
        )
        if default is None:
            raise Refusal("There is no domain your account may use; ask staff for one.")
        return default
    if not isinstance(value, str) or is_unencodable(value):
        raise Refusal(SENTENCES["domain"])
    verdict = targets.domain_host(value)
    host = verdict.url or shorten(value.strip())
    domain = domains.by_host.get(host) if verdict.ok else None
    if domain is None:
        raise Refusal(f"There is no short domain {host} on this site.")
    if not domain.is_active:
        raise Refusal(f"The domain {host} is not active; choose another.")
    if all(d.pk != domain.pk for d in usable):
        raise Refusal(f"Your account cannot use the domain {host}; choose another.")
    return domain


def own_hosts(context: Context) -> tuple[list[str], list[str]]:
    """This installation's hosts, which no link may lead to (a loop): the configured
    ones and those marked so with their subdomains, the other short domains as they are."""
    configured = [h for h in settings.CONFIGURED_HOSTS if h != "*"]
    with_subdomains = [*configured, settings.SITE_HOST]
    if context.own_host:
        with_subdomains.append(split_domain_port(context.own_host)[0])
    exact = []
    active = (  # an edit reads them here: it chose no domain
        context.domains.active_hosts()
        if context.domains is not None
        else Domain.objects.filter(is_active=True).values_list("host", "refuse_subdomains")
    )
    for host, subdomains in active:
        (with_subdomains if subdomains else exact).append(host)
    return with_subdomains, exact


def clean_target(value, context: Context) -> str:
    if not isinstance(value, str):
        raise Refusal(SENTENCES["target"])
    if is_unencodable(value):
        raise Refusal(UNENCODABLE.format(label="destination"))
    if context.link is not None and value == context.link.target:
        return value  # unchanged: the policy judged it when it was set
    return judged_target(targets.assume_https(value), context)


def judged_target(value: str, context: Context) -> str:
    """The target policy, for the link's own destination and each rule's alike."""
    with_subdomains, exact = own_hosts(context)
    verdict = targets.check(
        value,
        own_hosts=with_subdomains,
        own_exact_hosts=exact,
        blocked_domains=(
            context.lookups.blocked_domains
            if context.lookups is not None
            else BlockedDomain.objects.values_list("domain", flat=True)
        ),
    )
    if not verdict.ok:
        raise Refusal(verdict.reason)
    return verdict.url


def clean_slug(value, context: Context) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or is_unencodable(value):
        raise Refusal(SENTENCES["slug"])
    slug = value.strip()
    if not slug:
        return None
    restoring = context.lookups is not None and context.lookups.restoring
    # An import keeps the slugs its links already had (they are shared elsewhere); the
    # flag governs choosing new ones. The slug rule and the taken check still apply.
    if not restoring and not may_use_custom_slugs(context.actor):
        raise Refusal("Custom slugs are not available to your account.")
    domain = context.domain
    # The reserved words are the site's own paths: a short domain has none of them.
    reserved = domain is None or domain.is_site
    if restoring:
        problem = slugs.imported_slug_problem(slug, reserved=reserved)
    else:
        problem = slugs.custom_slug_problem(slug, reserved=reserved)
    if problem:
        raise Refusal(problem)
    if domain is None:
        return slug  # the domain was refused: that is the sentence to give
    if context.lookups is not None:
        if (domain.pk, slug) in context.lookups.taken_slugs:
            raise Refusal(taken(slug, domain))
    elif Link.objects.filter(domain=domain, slug=slug).exists():
        raise Refusal(taken(slug, domain))  # tombstones included: never reissued
    return slug


def taken(slug: str, domain: Domain) -> str:
    if domain.is_site:
        return f"“{slug}” is already taken; choose another."
    return f"“{slug}” is already taken on {domain.host}; choose another."


def text_cleaner(label: str, max_length: int, *, multiline: bool) -> Callable:
    def clean_text(value, context: Context) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise Refusal(SENTENCES[label])
        value = value.strip()
        if context.link is not None and value == getattr(context.link, label):
            return value  # unchanged, even if stored before today's rule
        problem = text_problem(value, label=label, max_length=max_length, multiline=multiline)
        if problem:
            raise Refusal(problem)
        return value

    return clean_text


def clean_tags(value, context: Context) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(n, str) for n in value):
        raise Refusal(SENTENCES["tags"])
    if any(is_unencodable(name) for name in value):
        raise Refusal(UNENCODABLE.format(label="tags"))
    if context.link is not None:
        as_given = sorted(dict.fromkeys(name.strip() for name in value if name.strip()))
        if as_given == stored(context.link, "tags"):
            return as_given  # unchanged, even if stored before today's rule
    names = list(dict.fromkeys(name.strip().lower() for name in value if name.strip()))
    bad = [name for name in names if not TAG_PATTERN.fullmatch(name)]
    if bad:
        shown = ", ".join(shorten(name) for name in bad)
        raise Refusal(
            f"Tags are single words of letters, digits, - or _ (at most {TAG_MAX}): {shown}."
        )
    if len(names) > TAGS_MAX:
        raise Refusal(f"A link can carry at most {TAGS_MAX} tags.")
    return sorted(names)


def shorten(text: str, limit: int = 30) -> str:
    """A refused value as a sentence may quote it: printable, and not endless."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_redirect_code(value, context: Context) -> int:
    if value is None or value == "":
        return RedirectCode.FOUND  # left unchosen: the default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value not in RedirectCode.values:
        raise Refusal(SENTENCES["redirect_code"])
    return value


def clean_expires_at(value, context: Context) -> datetime | None:
    if value is None or value == "":
        return None
    when = parse_when(value)
    if when is None:
        raise Refusal(SENTENCES["expires_at"])
    link = context.link
    if link is not None and link.expires_at is not None and when in minutes_of(link.expires_at):
        return link.expires_at  # unchanged (forms show minutes): no new judgement
    if when <= context.now and not (context.lookups and context.lookups.restoring):
        raise Refusal(PAST_EXPIRY)
    return when


def parse_when(value) -> datetime | None:
    if isinstance(value, str) and not is_unencodable(value):
        try:
            value = parse_datetime(value.strip())
        except ValueError:  # well formed but out of range, such as month 13
            return None
    if not isinstance(value, datetime):
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)  # the site's times are UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def minutes_of(when: datetime) -> tuple[datetime, datetime]:
    return (when, when.replace(second=0, microsecond=0))


def clean_max_visits(value, context: Context) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refusal(SENTENCES["max_visits"])
    if value > MAX_VISITS_MAX:
        raise Refusal(f"Maximum visits can be at most {MAX_VISITS_MAX:,}.")
    return value


def clean_owner(value, context: Context):
    """Only staff hand a link to someone else (admin); everyone else owns what they make."""
    from django.contrib.auth import get_user_model

    if value is not None and not isinstance(value, get_user_model()):
        raise Refusal(SENTENCES["owner"])
    if not may_give_to(context.actor, value):
        raise Refusal("Only staff can make links for someone else.")
    return value


def clean_password(value, context: Context) -> str:
    """A new password is hashed at once; None removes the password ("" stored)."""
    if value is None:
        return ""
    problem = passwords.password_problem(value)
    if problem:
        raise Refusal(problem)
    return passwords.hashed(value)


def clean_rules(value, context: Context) -> list[dict]:
    """Rules read strictly, each destination judged by the same target policy."""
    if isinstance(value, list) and context.link is not None and value == context.link.rules:
        return value  # unchanged: judged when set
    try:
        rules = redirect_rules.parse_rules(value)
    except redirect_rules.RuleProblem as problem:
        raise Refusal(str(problem)) from None
    cleaned = []
    for number, rule in enumerate(rules, start=1):
        if is_unencodable(rule.target):
            raise Refusal(f"Rule {number}: " + UNENCODABLE.format(label="destination"))
        try:
            target = judged_target(rule.target, context)
        except Refusal as refusal:
            raise Refusal(f"Rule {number}: {refusal}") from None
        cleaned.append({**rule.as_json(), "target": target})
    return cleaned


def clean_forward_query(value, context: Context) -> str:
    if value is None or value == "":
        return QueryForwarding.OFF
    if isinstance(value, bool):  # a checkbox or a JSON flag: on means merge
        return QueryForwarding.MERGE if value else QueryForwarding.OFF
    if not isinstance(value, str) or value.strip().lower() not in QueryForwarding.values:
        raise Refusal(SENTENCES["forward_query"])
    return value.strip().lower()


CLEANERS: dict[str, Callable] = {
    "target": clean_target,
    "slug": clean_slug,
    "title": text_cleaner("title", TITLE_MAX, multiline=False),
    "notes": text_cleaner("notes", NOTES_MAX, multiline=True),
    "tags": clean_tags,
    "redirect_code": clean_redirect_code,
    "expires_at": clean_expires_at,
    "max_visits": clean_max_visits,
    "password": clean_password,
    "rules": clean_rules,
    "forward_query": clean_forward_query,
    "owner": clean_owner,
}
