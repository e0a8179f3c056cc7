"""One meaning of blocked: a domain on the blocklist is unreachable through Torii.

`block()` adds an entry and, in the same transaction, disables every live link whose
destination or any of whose rules' destinations is on the domain or a subdomain,
recording why on each link's history. `unblock()` removes an entry and re-enables
exactly the links that entry disabled and that no other entry still blocks; the others
stay disabled and their history says which entry holds them now. Both return what they
did, for the entry point to say. Every entry point (admin, the `domain.block` and
`domain.unblock` webhook events, `manage.py block_domain`, later a feed) calls these;
new links and edits that lead there are refused by cleaning, and `enable()` refuses a
link that leads there (`blocked_entry`).

The blocklist row lives in the domains room (`BlockedDomain`); this module lives in the
link core because it writes links.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery, TextField
from django.db.models.functions import Cast
from django.dispatch import Signal
from django.utils import timezone

from shortener.audit.models import Action, Kind
from shortener.audit.recording import record
from shortener.domains.models import BlockedDomain
from shortener.links.access import recorded_as
from shortener.links.models import Link, StateChange
from shortener.links.signals import BLOCKED, ENABLED, changed
from shortener.policy import targets

# Sent after the transaction commits, with `keys`: the (domain id, slug) of every link a
# block or unblock switched. The redirect's per-process lookup cache forgets them, so in
# this process the change holds at once (other processes: within their cache's TTL).
# A signal, because the link core must not import the redirect above it.
links_switched = Signal()

KEYS_SHOWN = 20  # in sentences; the result carries every key
CHUNK = 500  # rows a statement names at once (SQLite's limit on parameters is far above)
REASON_MAX = 200  # BlockedDomain.reason
SOURCE_MAX = 100


class BlockRefused(ValueError):
    """Not a domain the blocklist can hold; `reason` says why, in the sentence every
    entry point shows."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Blocked:
    """What `block()` did: the entry as stored, whether it is new, the links disabled."""

    domain: str
    added: bool
    disabled: tuple[str, ...]  # the keys of the links this call disabled

    def __str__(self) -> str:
        state = "Blocked" if self.added else "Already blocked:"
        return (
            f"{state} {self.domain}; disabled {len(self.disabled)} link(s){listed(self.disabled)}."
        )


@dataclass(frozen=True)
class Unblocked:
    """What `unblock()` did: the entry, whether there was one, what came back, what stays."""

    domain: str
    removed: bool
    enabled: tuple[str, ...]  # keys of links this entry had disabled, enabled again
    still_blocked: tuple[tuple[str, str], ...]  # (key, the entry that still blocks it)

    def __str__(self) -> str:
        if not self.removed:
            return f"{self.domain} was not blocked; nothing changed."
        said = f"Unblocked {self.domain}; "
        if self.enabled:
            said += f"re-enabled {len(self.enabled)} link(s) it had disabled{listed(self.enabled)}."
        else:
            said += "it had disabled no link that is still disabled, so none is re-enabled."
        if self.still_blocked:
            held = [f"{key} (by {entry})" for key, entry in self.still_blocked]
            said += (
                f" {len(held)} link(s) it had disabled stay disabled, still blocked by "
                f"another entry{listed(held)}."
            )
        return said


def listed(keys: tuple[str, ...] | list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:KEYS_SHOWN])
    more = f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else ""
    return f": {shown}{more}"


def entry_of(raw) -> str:
    """The blocklist entry `raw` means (`targets.blocklist_entry`), or BlockRefused."""
    verdict = targets.blocklist_entry(raw)
    if not verdict.ok:
        raise BlockRefused(verdict.reason)
    return verdict.url


def block(entry, *, by, reason: str = "", source: str) -> Blocked:
    """Put `entry` on the blocklist and disable every live link that leads there.

    Blocking what is blocked already keeps the entry's first reason and source and
    disables whatever still leads there (a link an older version of Torii missed)."""
    domain = entry_of(entry)
    done = block_all([domain], by=by, reason=reason, source=source)
    return Blocked(domain, bool(done.added), done.disabled)


@dataclass(frozen=True)
class BlockedAll:
    """What `block_all()` did: the entries new to the blocklist, those it held already,
    the keys of the links it disabled, and (with `disable=False`) the live, active links
    that lead to a newly added entry, locked, for the caller to act on."""

    added: tuple[str, ...]
    already: tuple[str, ...]
    disabled: tuple[str, ...]
    leading: tuple[Link, ...] = ()


def block_all(
    domains, *, by, reason: str = "", source: str, disable: bool = True, existing_too: bool = True
) -> BlockedAll:
    """Put each of `domains` (entries as `entry_of()` gives them) on the blocklist in one
    transaction; `block()` is this for one entry, so there is one meaning of blocked.

    With `disable` the links that lead there are disabled, as `block()` does; without it
    (a feed: third-party lists are wrong sometimes, so staff review rather than Torii
    deciding) they are only returned, locked, in `leading`, and new links and `enable()`
    are refused as for any entry. `existing_too` reaches the links of entries that were
    blocked already as well (what `block()` does); a feed reaches only its new ones."""
    domains = list(dict.fromkeys(domains))
    actor = recorded_as(by)
    reason = (reason or "").strip()[:REASON_MAX]
    source = (source or "")[:SOURCE_MAX]
    with transaction.atomic():
        held = set()
        for start in range(0, len(domains), CHUNK):
            held.update(
                BlockedDomain.objects.filter(domain__in=domains[start : start + CHUNK]).values_list(
                    "domain", flat=True
                )
            )
        added = [d for d in domains if d not in held]
        BlockedDomain.objects.bulk_create(
            [
                BlockedDomain(domain=d, reason=reason, source=source, blocked_by=actor)
                for d in added
            ],
            batch_size=CHUNK,
            ignore_conflicts=True,  # added meanwhile by another process: its row stands
        )
        reach = domains if existing_too else added
        hits = leading_to(reach)
        if not disable:
            said_blocked(added, hits, reason=reason, by=by, source=source, disabled=False)
            return BlockedAll(tuple(added), tuple(sorted(held)), (), tuple(hits))
        reasons = {}
        for link in hits:
            entry = blocking_entry(link, reach) or ""
            reasons[link.pk] = entry
        switch(
            hits,
            event=BLOCKED,
            active=False,
            history=lambda link: StateChange(
                link=link,
                action=StateChange.Action.DISABLED,
                reason=(f"{reasons[link.pk]} is blocked" + (f": {reason}" if reason else "") + ".")[
                    :300
                ],
                blocked_domain=reasons[link.pk],
                source=source,
                changed_by=actor,
            ),
        )
        said_blocked(added, hits, reason=reason, by=by, source=source, disabled=True)
    return BlockedAll(tuple(added), tuple(sorted(held)), tuple(link.key for link in hits), ())


def said_blocked(added, hits, *, reason: str, by, source: str, disabled: bool) -> None:
    """The audit log's entry: one a domain a person blocks; one for a feed's many."""
    if not added:
        return
    why = f" ({reason})" if reason else ""
    links = f"{'disabled' if disabled else 'found'} {len(hits)} link(s)"
    if len(added) == 1:
        domain = added[0]
        summary = f"Blocked {domain}{why}: {links}."
        record(
            Action.BLOCKED,
            Kind.BLOCKED_DOMAIN,
            domain,
            summary,
            actor=by,
            name=domain,
            changes={"links disabled" if disabled else "links found": [None, len(hits)]},
        )
        return
    shown = ", ".join(added[:KEYS_SHOWN]) + (" …" if len(added) > KEYS_SHOWN else "")
    record(
        Action.BLOCKED,
        Kind.BLOCKED_DOMAIN,
        source or "blocklist",
        f"Blocked {len(added)} domains from {source or 'a list'}{why} ({shown}): {links}.",
        actor=by,
        name=source or "blocklist",
        changes={"domains added": [None, len(added)]},
    )


SIEVE_MAX = 20  # entries sieved in SQL by their text; beyond, one pass over the links


def leading_to(domains: list[str]) -> list[Link]:
    """The live, active links that lead to any of `domains` (destination or a rule's),
    locked, in key order. A few entries are sieved by their text in SQL; a feed's
    thousands by one pass over the links' hosts, each looked up with its parents."""
    if not domains:
        return []
    live = Link.objects.live().filter(is_active=True)
    if len(domains) <= SIEVE_MAX:
        found = {}
        for domain in domains:
            for link in candidates(live, domain):
                found.setdefault(link.pk, link)
        return [link for _, link in sorted(found.items()) if blocking_entry(link, domains)]
    wanted = set(domains)
    pks = [
        pk
        for pk, target, rules in live.values_list("pk", "target", "rules").iterator(chunk_size=2000)
        if any(covered(host, wanted) for host in hosts_in(target, rules))
    ]
    locked = []
    for start in range(0, len(pks), CHUNK):
        locked += (
            live.filter(pk__in=pks[start : start + CHUNK])
            .select_related("domain")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
    return locked


def covered(host: str, entries: set[str]) -> bool:
    """Is `host` one of `entries` or a subdomain of one (`targets.matches_domain`, for a set)?"""
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in entries for i in range(len(labels)))


def unblock(entry, *, by, source: str = "") -> Unblocked:
    """Remove `entry` from the blocklist and re-enable the links it disabled, unless
    another entry blocks them too (those stay disabled, handed to that entry)."""
    verdict = targets.blocklist_entry(entry)
    actor = recorded_as(by)
    source = (source or "")[:SOURCE_MAX]
    with transaction.atomic():
        # An entry stored before today's rule (migration 0005 kept those) is found as stored.
        named = [verdict.url] if verdict.ok else []
        if isinstance(entry, str) and entry:
            named.append(entry)
        row = BlockedDomain.objects.select_for_update().filter(domain__in=named).first()
        if row is None:
            if not verdict.ok:
                raise BlockRefused(verdict.reason)
            return Unblocked(verdict.url, False, (), ())
        domain = row.domain
        row.delete()
        remaining = list(BlockedDomain.objects.values_list("domain", flat=True))
        last_block = StateChange.objects.filter(link=OuterRef("pk")).order_by("-id")
        disabled_by_it = (
            Link.objects.live()
            .filter(is_active=False)
            .filter(pk__in=StateChange.objects.filter(blocked_domain=domain).values("link_id"))
            .annotate(last_block=Subquery(last_block.values("blocked_domain")[:1]))
            .filter(last_block=domain)
            .select_related("domain")
            .order_by("pk")
        )
        back, held = [], []
        for link in disabled_by_it:
            still = blocking_entry(link, remaining)
            (held if still else back).append((link, still))
        switch(
            [link for link, _ in back],
            event=ENABLED,
            active=True,
            history=lambda link: StateChange(
                link=link,
                action=StateChange.Action.ENABLED,
                reason=f"{domain} was unblocked.",
                source=source,
                changed_by=actor,
            ),
        )
        StateChange.objects.bulk_create(
            StateChange(
                link=link,
                action=StateChange.Action.DISABLED,
                reason=f"Still disabled: {domain} was unblocked, but {still} is blocked."[:300],
                blocked_domain=still,
                source=source,
                changed_by=actor,
            )
            for link, still in held
        )
        record(
            Action.UNBLOCKED,
            Kind.BLOCKED_DOMAIN,
            domain,
            f"Unblocked {domain}: enabled {len(back)} link(s), {len(held)} stay blocked.",
            actor=by,
            name=domain,
            changes={"links enabled": [None, len(back)]},
        )
    return Unblocked(
        domain,
        True,
        tuple(link.key for link, _ in back),
        tuple((link.key, still) for link, still in held),
    )


def switch(found: list[Link], *, event: str, active: bool, history) -> None:
    """Set the links' state with one history row each, tell the rooms above (`event`,
    inside the transaction), and have the redirect's lookup cache forget them once this
    commits."""
    now = timezone.now()
    pks = [link.pk for link in found]
    for start in range(0, len(pks), CHUNK):
        Link.objects.filter(pk__in=pks[start : start + CHUNK]).update(
            is_active=active, updated_at=now
        )
    StateChange.objects.bulk_create([history(link) for link in found], batch_size=CHUNK)
    for link in found:
        link.is_active = active
        link.updated_at = now
    changed(event, found)
    keys = [(link.domain_id, link.slug) for link in found]
    if keys:
        transaction.on_commit(lambda: links_switched.send(sender=Link, keys=keys))


def candidates(links, domain: str):
    """The links whose stored destination or rules mention `domain` at all, locked; the
    caller keeps those that really lead there (the text is only a cheap first sieve)."""
    mention = Q(target__icontains=domain) | Q(rules_text__icontains=domain)
    return (
        links.annotate(rules_text=Cast("rules", TextField()))
        .filter(mention)
        .select_related("domain")
        .select_for_update(of=("self",))
        .order_by("pk")
    )


def destinations(link: Link) -> list[str]:
    """Every address the link can send a visitor to: its destination and each rule's."""
    return [link.target, *(rule.get("target", "") for rule in link.rules or [])]


def hosts_of(link: Link) -> set[str]:
    return hosts_in(link.target, link.rules)


def hosts_in(target: str, rules) -> set[str]:
    hosts = set()
    for url in [target, *(rule.get("target", "") for rule in rules or [])]:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        if host:
            hosts.add(host)
    return hosts


def blocking_entry(link: Link, entries: Iterable[str]) -> str | None:
    """The first entry among `entries` that covers a host the link can send visitors to."""
    hosts = hosts_of(link)
    return next(
        (entry for entry in entries if any(targets.matches_domain(h, entry) for h in hosts)),
        None,
    )


def blocked_entry(link: Link) -> str | None:
    """The blocklist entry that covers where the link leads (destination or a rule), or None."""
    return blocking_entry(link, BlockedDomain.objects.values_list("domain", flat=True))
