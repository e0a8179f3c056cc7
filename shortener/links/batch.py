"""Creating many links at once (imports, bulk create, the API's batch): the same cleaning
as `create()`, written in bulk.

Each item is cleaned by `clean()` with the blocklist and the taken slugs read once per
batch (`Lookups`) instead of once a link; the accepted ones are written a chunk at a
time with `bulk_create` (the link, its first history row, its tags) in one transaction
per chunk. Each item gets an `Outcome`: created, already there (the same slug already
leads to the same target: importing a file twice creates nothing new) or refused with
the core's sentence. One refused item never stops the others.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from shortener.domains.models import BlockedDomain
from shortener.links import access, audited, passwords
from shortener.links.access import SUSPENDED, is_signed_in, is_suspended, may_create
from shortener.links.cleaning import Domains, Lookups, clean, parse_when, taken
from shortener.links.models import DestinationChange, Link, Tag
from shortener.links.refusal import LinkRefused
from shortener.links.signals import CREATED, changed
from shortener.policy import slugs

CHUNK = 1000
MAX_HISTORY = 10_000  # changes one restored link may carry
# What a restore may carry beyond a new link's fields (an export read back).
# A quarantined link comes back disabled: only staff lift a quarantine, not a round trip.
RESTORED_STATES = ("active", "disabled", "quarantined", "deleted", "expired", "exhausted")
STATE_SENTENCE = "The state must be one of: " + ", ".join(RESTORED_STATES) + "."
VISITS_SENTENCE = "The visit count must be a whole number of at least 0."
CREATED_SENTENCE = (
    "The creation time must be a date and time in the past, for example 2024-03-01T10:15:00Z."
)
UPDATED_SENTENCE = (
    "The last change must be a date and time in the past, for example 2024-03-01T10:15:00Z."
)
HISTORY_SENTENCE = (
    "The history must be a list of changes, each with the time (`at`), the destination "
    "before (`from`) and after (`to`), as Torii exports it."
)


@dataclass
class Outcome:
    """What became of one item: `link` set when created or already there, else `refusal`."""

    link: Link | None = None
    refusal: LinkRefused | None = None
    existing: bool = False

    @property
    def created(self) -> bool:
        return self.link is not None and not self.existing


@dataclass
class Prepared:
    outcome: Outcome
    cleaned: dict[str, Any]
    tags: list[str]
    slug: str | None
    is_active: bool = True
    deleted: bool = False
    visit_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    history: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def create_many(
    items: Sequence[Mapping[str, Any]],
    *,
    actor,
    own_host: str | None = None,
    owner: Any = ...,
    workspace: Any = ...,
    restoring: bool = False,
    dry_run: bool = False,
) -> list[Outcome]:
    """One `Outcome` per item, in order. An item may name its own `owner` (staff only, as
    in `create()`). `restoring` (an import) also reads `state`, `visit_count` and
    `created_at` (when the link was first made), keeps a
    past expiry and the slugs links had; `dry_run` cleans everything and writes nothing."""
    if not may_create(actor):
        said = SUSPENDED if is_suspended(actor) else "Sign in to create links."
        refusal = LinkRefused("__all__", said)
        return [Outcome(refusal=refusal) for _ in items]
    owner = (actor if is_signed_in(actor) else None) if owner is ... else owner
    given_slugs = {
        item["slug"].strip()
        for item in items
        if isinstance(item.get("slug"), str) and item["slug"].strip()
    }
    existing = existing_links(given_slugs)  # keyed by (domain id, slug)
    lookups = Lookups(
        blocked_domains=list(BlockedDomain.objects.values_list("domain", flat=True)),
        taken_slugs=set(existing),
        restoring=restoring,
        # A batch for a workspace may use its domains; by default, the actor's own's.
        domains=Domains.read(
            actor, access.home_workspace(actor, actor) if workspace is ... else workspace
        ),
        workspace=workspace,
    )
    pending: dict[tuple[int, str], Prepared] = {}  # accepted (domain id, slug) of this batch
    prepared: list[Prepared] = []
    outcomes: list[Outcome] = []
    for item in items:
        outcome = Outcome()
        outcomes.append(outcome)
        try:
            ready = prepare(item, actor, own_host, owner, lookups, restoring)
        except LinkRefused as refusal:
            slug = item.get("slug")
            slug = slug.strip() if isinstance(slug, str) else None
            outcome.refusal = refusal
            same = same_link(
                slug, refusal, item, existing, pending, actor, own_host, owner, lookups
            )
            if same is not None:
                outcome.refusal, outcome.existing = None, True
                if isinstance(same, Link):
                    outcome.link = same
                else:
                    same.extra.setdefault("twins", []).append(outcome)
            continue
        ready.outcome = outcome
        if ready.slug:
            key = (ready.cleaned["domain"].pk, ready.slug)
            lookups.taken_slugs.add(key)
            pending[key] = ready
        prepared.append(ready)
    if not dry_run:
        for start in range(0, len(prepared), CHUNK):
            write(prepared[start : start + CHUNK], actor, lookups.taken_slugs)
    else:
        for ready in prepared:
            ready.outcome.link = Link(slug=ready.slug or "", **ready.cleaned)
    for ready in prepared:
        for twin in ready.extra.get("twins", []):
            twin.link = ready.outcome.link
            if ready.outcome.link is None:
                twin.refusal, twin.existing = ready.outcome.refusal, False
    return outcomes


def existing_links(given: set[str]) -> dict[tuple[int, str], Link]:
    """The links holding these slugs on any domain, by (domain id, slug)."""
    found: dict[tuple[int, str], Link] = {}
    names = sorted(given)
    for start in range(0, len(names), 500):  # stay under SQLite's variable limit
        for link in Link.objects.filter(slug__in=names[start : start + 500]):
            found[link.domain_id, link.slug] = link
    return found


def prepare(item, actor, own_host, owner, lookups: Lookups, restoring: bool) -> Prepared:
    values = dict(item)
    state = values.pop("state", None) if restoring else None
    visits = values.pop("visit_count", None) if restoring else None
    created = values.pop("created_at", None) if restoring else None
    updated = values.pop("updated_at", None) if restoring else None
    history = values.pop("history", None) if restoring else None
    password_hash = values.pop("password_hash", None) if restoring else None
    errors: dict[str, str] = {}
    created = past_time(created, "created_at", CREATED_SENTENCE, errors)
    updated = past_time(updated, "updated_at", UPDATED_SENTENCE, errors)
    changes = restored_history(history)
    if changes is None:
        errors["history"] = HISTORY_SENTENCE
    if password_hash is not None and passwords.restored_hash(password_hash) is None:
        errors["password_hash"] = passwords.NOT_A_HASH
    if state not in (None, "") and state not in RESTORED_STATES:
        errors["state"] = STATE_SENTENCE
    if visits not in (None, ""):
        if isinstance(visits, str) and visits.strip().isdigit() and visits.strip().isascii():
            visits = int(visits.strip())
        if isinstance(visits, bool) or not isinstance(visits, int) or visits < 0:
            errors["visit_count"] = VISITS_SENTENCE
    try:
        cleaned = clean({"owner": owner, **values}, actor=actor, own_host=own_host, lookups=lookups)
    except LinkRefused as refusal:
        raise LinkRefused.of({**refusal.errors, **errors}) from None
    if errors:
        raise LinkRefused.of(errors)
    cleaned["workspace"] = workspace_of_item(actor, cleaned["owner"], lookups)
    slug = cleaned.pop("slug", None)
    tags = cleaned.pop("tags")
    if password_hash is not None:
        cleaned["password"] = password_hash  # the source's hash: the same password opens it
    return Prepared(
        outcome=Outcome(),
        cleaned=cleaned,
        tags=tags,
        slug=slug,
        is_active=state not in ("disabled", "quarantined", "deleted"),
        deleted=state == "deleted",
        visit_count=visits if isinstance(visits, int) else 0,
        created_at=created,
        updated_at=updated,
        history=changes or [],
    )


def workspace_of_item(actor, owner, lookups: Lookups):
    """The batch's workspace, or by default the item's owner's personal one; refused
    unless `actor` may make links there (each asked once a batch)."""
    workspace = lookups.workspace
    if workspace is ...:
        key = owner.pk if owner is not None else None
        if key not in lookups.homes:
            lookups.homes[key] = access.home_workspace(actor, owner)
        workspace = lookups.homes[key]
    key = workspace.pk if workspace is not None else None
    if key not in lookups.allowed:
        lookups.allowed[key] = access.may_create_in(actor, workspace)
    if not lookups.allowed[key]:
        raise LinkRefused("__all__", access.NOT_AN_EDITOR)
    return workspace


def past_time(value, name: str, sentence: str, errors: dict[str, str]) -> datetime | None:
    if value in (None, ""):
        return None
    when = parse_when(value)
    if when is None or when > timezone.now():
        errors[name] = sentence
        return None
    return when


def restored_history(value) -> list[tuple[datetime, str, str, str]] | None:
    """An export's destination history as (when, from, to, by username); None when it is
    not one. Empty or absent: the link starts its history anew, as a new link does."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or len(value) > MAX_HISTORY:
        return None
    changes = []
    for entry in value:
        if not isinstance(entry, dict):
            return None
        at, old, new, by = (entry.get(k) for k in ("at", "from", "to", "by"))
        at = parse_when(at) if isinstance(at, str) else None
        texts = (old or "", new, by or "")
        if at is None or not all(isinstance(x, str) and len(x) <= 4096 for x in texts):
            return None
        if not new:
            return None
        changes.append((at, *texts))
    return changes


def same_link(slug, refusal, item, existing, pending, actor, own_host, owner, lookups):
    """The link (or the pending item) this refused item repeats, or None.

    Only a refusal of the slug alone as taken qualifies, and only when the same slug
    leads to the same target (compared as stored) for the same owner.
    """
    if not slug or set(refusal.errors) != {"slug"}:
        return None
    try:
        same = clean(
            {"target": item.get("target"), "domain": item.get("domain")},
            actor=actor,
            own_host=own_host,
            # For comparing a target only: blocklist and slugs do not matter here.
            lookups=Lookups([], set(), restoring=True, domains=lookups.domains),
        )
    except LinkRefused:
        return None
    target, domain = same["target"], same["domain"]
    key = (domain.pk, slug)
    if refusal.errors["slug"] != taken(slug, domain):
        return None
    if key in existing:
        link = existing[key]
        owner = item.get("owner", owner)
        owner_id = owner.pk if owner is not None else None
        if link.target == target and link.owner_id == owner_id:
            return link
        return None
    twin = pending.get(key)
    if twin is not None and twin.cleaned["target"] == target:
        return twin
    return None


def write(chunk: list[Prepared], actor, taken_slugs: set[tuple[int, str]]) -> None:
    give_slugs(chunk, taken_slugs)
    try:
        with transaction.atomic():
            insert(chunk, actor)
    except IntegrityError:
        # A slug taken by someone else between the check and the insert: one at a time,
        # so only that item is refused.
        for ready in chunk:
            try:
                with transaction.atomic():
                    insert([ready], actor)
            except IntegrityError:
                ready.outcome.link = None
                ready.outcome.refusal = LinkRefused(
                    "slug", taken(ready.slug or "", ready.cleaned["domain"])
                )


def give_slugs(chunk: list[Prepared], taken_slugs: set[tuple[int, str]]) -> None:
    """A generated slug for each item without one, unused on its domain in the database
    and the batch."""
    length = getattr(settings, "SLUG_LENGTH", slugs.DEFAULT_LENGTH)
    wanting = [ready for ready in chunk if not ready.slug]
    while wanting:
        for ready in wanting:
            domain_id = ready.cleaned["domain"].pk
            candidate = slugs.generate_slug(length)
            while (domain_id, candidate) in taken_slugs:
                candidate = slugs.generate_slug(length)
            ready.slug = candidate
            taken_slugs.add((domain_id, candidate))
        clashing = set(
            Link.objects.filter(slug__in=[ready.slug for ready in wanting]).values_list(
                "domain_id", "slug"
            )
        )
        wanting = [r for r in wanting if (r.cleaned["domain"].pk, r.slug) in clashing]


def insert(chunk: list[Prepared], actor) -> None:
    now = timezone.now()
    rows = [
        Link(
            slug=ready.slug,
            is_active=ready.is_active,
            deleted_at=now if ready.deleted else None,
            visit_count=ready.visit_count,
            **ready.cleaned,
        )
        for ready in chunk
    ]
    Link.objects.bulk_create(rows)
    restore_times(rows, chunk)
    by = actor.pk if is_signed_in(actor) else None
    adapt = connection.ops.adapt_datetimefield_value
    users = users_named({change[3] for ready in chunk for change in ready.history if change[3]})
    # The history and tag rows are plain: written without model instances, which
    # halves the time of a chunk (docs/performance.md, import).
    insert_rows(
        DestinationChange,
        ("link", "old_target", "new_target", "changed_by", "changed_at"),
        [
            row
            for link, ready in zip(rows, chunk, strict=True)
            for row in (
                [
                    (link.pk, old, new, users.get(name), adapt(at))
                    for at, old, new, name in ready.history
                ]
                or [(link.pk, "", link.target, by, adapt(ready.created_at or now))]
            )
        ],
    )
    tag_ids = tags_named({name for ready in chunk for name in ready.tags})
    Through = Link.tags.through
    insert_rows(
        Through,
        ("link", "tag"),
        [
            (link.pk, tag_ids[name])
            for link, ready in zip(rows, chunk, strict=True)
            for name in ready.tags
        ],
    )
    for link, ready in zip(rows, chunk, strict=True):
        link._stored_slug = link.slug
        # As if prefetched: what the event's payload reads, without a query a link.
        link.tag_list = [Tag(pk=tag_ids[name], name=name) for name in ready.tags]
        ready.outcome.link = link
    changed(CREATED, rows)
    audited.created_many(rows, by=actor)


def restore_times(rows: list[Link], chunk: list[Prepared]) -> None:
    """An import keeps when a link was made and last changed (both are set on insert
    otherwise); one `UPDATE … CASE` a column for the chunk."""
    for name in ("created_at", "updated_at"):
        given = [(link, getattr(ready, name)) for link, ready in zip(rows, chunk, strict=True)]
        given = [(link, when) for link, when in given if when is not None]
        if not given:
            continue
        Link.objects.filter(pk__in=[link.pk for link, _ in given]).update(
            **{name: Case(*[When(pk=link.pk, then=Value(when)) for link, when in given])}
        )
        for link, when in given:
            setattr(link, name, when)


def users_named(names: set[str]) -> dict[str, int]:
    """The users a restored history names, by username (absent ones stay unnamed)."""
    if not names:
        return {}
    User = get_user_model()
    field = User.USERNAME_FIELD
    return dict(User.objects.filter(**{f"{field}__in": names}).values_list(field, "pk"))


def insert_rows(model, names: tuple[str, ...], values: list[tuple]) -> None:
    if not values:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        # Table and column names come from the models, quoted; the values are parameters.
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, values)


def tags_named(names: Iterable[str]) -> dict[str, int]:
    names = sorted(set(names))
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    found: dict[str, int] = {}
    for start in range(0, len(names), 500):
        found.update(
            Tag.objects.filter(name__in=names[start : start + 500]).values_list("name", "id")
        )
    return found
