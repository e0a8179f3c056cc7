"""Links and what hangs off them: tags, the destination history and the state history.

Models, querysets and model methods only: the rules and writes live in shortener.links."""

import json

from django.conf import settings
from django.db import connections, models
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from shortener.domains.models import Domain, site_domain_pk
from shortener.policy import targets
from shortener.workspaces.personal import personal_workspace


class SlugChangeRefused(ValueError):
    """A link's slug (and its domain) is fixed for life: links shared elsewhere must
    never break."""


class LinkDestroyRefused(ValueError):
    """Links are never destroyed: a deleted link keeps a tombstone (shortener.links.delete),
    so its short URL answers 410 and its slug can never be taken by someone else."""


class LinkState(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    # Reported by visitors or put aside by staff: the short URL shows a warning page
    # instead of redirecting until staff lift it (shortener/safety/).
    QUARANTINED = "quarantined", "Quarantined"
    EXPIRED = "expired", "Expired"
    EXHAUSTED = "exhausted", "Used up"
    DELETED = "deleted", "Deleted"


def state_of(
    *, deleted: bool, active: bool, expired: bool, used_up: bool, quarantined: bool = False
) -> LinkState:
    """The one rule for a link's state, for the model and the redirect's snapshot alike.
    Quarantine comes right after disabled: a quarantined link that also expired still
    warns, so nobody mistakes a reported link for one that merely ran out."""
    if deleted:
        return LinkState.DELETED
    if not active:
        return LinkState.DISABLED
    if quarantined:
        return LinkState.QUARANTINED
    if expired:
        return LinkState.EXPIRED
    if used_up:
        return LinkState.EXHAUSTED
    return LinkState.ACTIVE


class RedirectCode(models.IntegerChoices):
    FOUND = 302, "302 Found (temporary, default)"
    MOVED = 301, "301 Moved Permanently"
    TEMPORARY = 307, "307 Temporary Redirect"
    PERMANENT = 308, "308 Permanent Redirect"


class ReportReason(models.TextChoices):
    """Why a visitor reports a link, and why a link is quarantined."""

    PHISHING = "phishing", "Phishing (it asks for passwords or payment details)"
    MALWARE = "malware", "Malware (it downloads something harmful)"
    SPAM = "spam", "Spam"
    ILLEGAL = "illegal", "Illegal content"
    OTHER = "other", "Something else"


class QueryForwarding(models.TextChoices):
    OFF = "off", "Off"
    MERGE = "merge", "Forward the visitor's query; the destination's own parameters win"
    OVERRIDE = "override", "Forward the visitor's query; the visitor's parameters win"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LinkQuerySet(models.QuerySet):
    def live(self):
        """Not deleted: what lists and searches show."""
        return self.filter(deleted_at__isnull=True)

    def in_state(self, state: str):
        now = timezone.now()
        expired = Q(expires_at__isnull=False, expires_at__lte=now)
        exhausted = Q(max_visits__isnull=False, visit_count__gte=F("max_visits"))
        usable = self.filter(is_active=True, quarantined_at__isnull=True)
        match state:
            case LinkState.ACTIVE:
                return usable.exclude(expired).exclude(exhausted)
            case LinkState.DISABLED:
                return self.filter(is_active=False)
            case LinkState.QUARANTINED:
                return self.filter(is_active=True, quarantined_at__isnull=False)
            case LinkState.EXPIRED:
                return usable.filter(expired)
            case LinkState.EXHAUSTED:
                return usable.exclude(expired).filter(exhausted)
        return self

    def matching(self, *, text: str = "", tag: str = "", state: str = "", domain: str = ""):
        """The list filters of the HTML list and the API. PostgreSQL cannot hold NUL
        characters, so they are dropped rather than sent to the database."""
        text, tag = text.replace("\x00", "").strip(), tag.replace("\x00", "").strip()
        links = self
        if domain:  # as typed: Unicode or A-labels, any case, a trailing dot
            host = targets.domain_host(domain).url  # None for no host name (a NUL, a port)
            links = links.filter(domain__host=host) if host else links.none()
        if text:
            links = links.search(text)
        if tag:
            links = links.filter(tags__name=tag)
        if state in LinkState.values:
            links = links.in_state(state)
        return links

    def delete(self):
        raise LinkDestroyRefused("Links are never destroyed; delete them with shortener.links.")

    def search(self, text: str):
        """Links whose slug, title, notes or target holds `text`, any case (the target in
        any of its stored forms). The condition is always the same icontains: on
        PostgreSQL trigram indexes answer it (migration 0015). On SQLite the FTS5 trigram
        table first finds the rows holding the text in any case (a superset); when there
        are few, only those are read. Text that many rows hold is checked row by row in
        the list's order instead, which soon finds a page of it; text under three
        characters has no trigram and is checked that way too."""
        forms = targets.stored_forms(text)  # targets are stored ASCII, as browsers send them
        in_target = Q()
        for form in forms:
            in_target |= Q(target__icontains=form)
        condition = (
            in_target
            | Q(title__icontains=text)
            | Q(notes__icontains=text)
            | Q(slug__icontains=text)
        )
        found = self.filter(condition)
        vendor = connections[self.db].vendor
        if vendor == "sqlite" and min(map(len, forms | {text})) >= 3:
            candidates = sqlite_candidates(self.db, forms)
            if candidates is not None:
                # One parameter however many: the ids as a JSON array.
                found = found.filter(pk__in=RawSQL(JSON_IDS, [json.dumps(candidates)]))  # noqa: S611
        elif vendor == "postgresql":
            # Asked alone, the condition is the trigram indexes' BitmapOr; inside the list's
            # ORDER BY ... LIMIT the planner walks the order instead, reading every row
            # for a rare text (480 ms at a million). So: the ids first, when few.
            ids = Link.objects.using(self.db).filter(condition).order_by().values_list("pk")
            candidates = [pk for (pk,) in ids[: SEARCH_CANDIDATES + 1]]
            if len(candidates) <= SEARCH_CANDIDATES:
                found = found.filter(pk__in=candidates)
        return found


# Up to this many rows holding the text: read those; more: walk the list's order.
SEARCH_CANDIDATES = 10_000
SQLITE_SEARCH = (
    "SELECT rowid FROM shortener_link_search WHERE shortener_link_search MATCH %s LIMIT %s"
)
JSON_IDS = "SELECT value FROM json_each(%s)"


def sqlite_candidates(db: str, forms: set[str]) -> list[int] | None:
    """The ids of rows holding any of `forms` in any case, or None when there are more
    than SEARCH_CANDIDATES."""
    phrases = " OR ".join('"{}"'.format(form.replace('"', '""')) for form in sorted(forms))
    with connections[db].cursor() as cursor:
        cursor.execute(SQLITE_SEARCH, [phrases, SEARCH_CANDIDATES + 1])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= SEARCH_CANDIDATES else None


class Link(models.Model):
    # Unique per domain (Meta): the same slug on two domains is two links.
    slug = models.CharField(max_length=64, editable=False)
    domain = models.ForeignKey(
        Domain,
        on_delete=models.PROTECT,  # links are never destroyed, so neither is their domain
        default=site_domain_pk,
        related_name="links",
    )
    target = models.CharField(max_length=targets.MAX_LENGTH)
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="links")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="links",
    )
    # The team the link belongs to (members see it, editors change it); `owner` stays
    # who made it. None only for links made signed out, which only staff see.
    workspace = models.ForeignKey(
        "shortener.Workspace",
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # links are never destroyed, so neither is their workspace
        related_name="links",
    )
    redirect_code = models.PositiveSmallIntegerField(
        choices=RedirectCode.choices, default=RedirectCode.FOUND
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    max_visits = models.PositiveIntegerField(null=True, blank=True)
    visit_count = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Django's password hash (shortener/link_passwords.py), "" for an open link.
    password = models.CharField(max_length=128, blank=True, default="", editable=False)
    password_failures = models.PositiveIntegerField(default=0, editable=False)
    # Redirect rules in order, as shortener/redirect_rules.py reads them.
    rules = models.JSONField(default=list, blank=True, editable=False)
    forward_query = models.CharField(
        max_length=8, choices=QueryForwarding.choices, default=QueryForwarding.OFF
    )
    # Quarantine (shortener/safety/): when it began, why (a ReportReason), and whether
    # staff let visitors continue past the warning. Only staff set or lift it.
    quarantined_at = models.DateTimeField(null=True, blank=True, editable=False)
    quarantine_reason = models.CharField(
        max_length=10, choices=ReportReason.choices, blank=True, editable=False
    )
    quarantine_passable = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The redirect's lookup (host's domain, slug) is this index; tombstones keep
            # their row, so a deleted slug stays taken on its domain only.
            models.UniqueConstraint(fields=["domain", "slug"], name="link_slug_once_per_domain")
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # The API's and the list page's query: live links of one owner, newest first.
            # Partial, so PostgreSQL walks it in order for a page; deleted_at is also its
            # last column so that SQLite counts from the index alone, not the table.
            models.Index(
                fields=["owner", "-created_at", "-id", "deleted_at"],
                condition=Q(deleted_at__isnull=True),
                name="link_live_owner_newest",
            ),
            # The same for the current workspace's list (pages and API).
            models.Index(
                fields=["workspace", "-created_at", "-id", "deleted_at"],
                condition=Q(deleted_at__isnull=True),
                name="link_live_workspace_newest",
            ),
            # Staff see every live link: the same order without the owner.
            models.Index(
                F("created_at").desc(),
                F("id").desc(),
                condition=Q(deleted_at__isnull=True),
                name="link_live_newest",
            ),
            # The redirect's change feed: what changed since it last looked
            # (shortener/redirect/lookup.py, last known states through an outage).
            models.Index(fields=["updated_at"], name="link_changed"),
        ]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs):
        stored = getattr(self, "_stored_slug", None)
        if self.pk and stored is not None and stored != self.slug:
            raise SlugChangeRefused(f"The slug of link {stored!r} cannot change.")
        stored_domain = getattr(self, "_stored_domain_id", None)
        if self.pk and stored_domain is not None and stored_domain != self.domain_id:
            raise SlugChangeRefused(f"The domain of link {self.slug!r} cannot change.")
        if self.pk is None and self.workspace_id is None and self.owner_id is not None:
            # Made without naming a workspace (fixtures, the shell): its maker's own.
            self.workspace = personal_workspace(self.owner)
        super().save(*args, **kwargs)
        self._stored_slug, self._stored_domain_id = self.slug, self.domain_id

    def get_absolute_url(self) -> str:
        return reverse("link-detail", args=[self.key])

    @property
    def key(self) -> str:
        """How pages and the API name the link: its slug on the site's own host,
        `slug@host` on another domain (the same slug may live on several)."""
        from shortener.domains import served

        if self.domain_id == served.site_pk():
            return self.slug
        return f"{self.slug}@{self.domain.host}"

    @property
    def row_id(self) -> str:
        """Its HTML id's tail: the slug on the site's own host (one per host), with the
        row's number after a character no slug holds on another domain."""
        key = self.key
        return key if "@" not in key else f"{self.slug}·{self.pk}"

    @property
    def short_url(self) -> str:
        """The link's short URL, always on its own domain (never the host a page was
        asked on): pages, the copy button, QR codes, the API and CSV all use this."""
        return self.domain.url_for(self.slug)

    def delete(self, *args, **kwargs):
        raise LinkDestroyRefused(f"Link {self.slug!r} is never destroyed; delete_softly() it.")

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._stored_slug = instance.__dict__.get("slug")
        instance._stored_domain_id = instance.__dict__.get("domain_id")
        return instance

    @property
    def state(self) -> LinkState:
        return state_of(
            deleted=self.deleted_at is not None,
            active=self.is_active,
            expired=self.expires_at is not None and self.expires_at <= timezone.now(),
            used_up=self.max_visits is not None and self.visit_count >= self.max_visits,
            quarantined=self.quarantined_at is not None,
        )

    @property
    def is_quarantined(self) -> bool:
        return self.deleted_at is None and self.quarantined_at is not None

    @property
    def is_protected(self) -> bool:
        return bool(self.password)

    @property
    def can_disable(self) -> bool:
        return self.deleted_at is None and self.is_active

    @property
    def can_enable(self) -> bool:
        return self.deleted_at is None and not self.is_active

    def disable(self) -> None:
        """The short URL answers 410 until enabled. Twice changes nothing; deleted stays so."""
        if self.can_disable:
            self.is_active = False
            self.save(update_fields=["is_active", "updated_at"])

    def enable(self) -> None:
        """A disabled link redirects again. Twice changes nothing; deleted stays so."""
        if self.can_enable:
            self.is_active = True
            self.save(update_fields=["is_active", "updated_at"])

    def delete_softly(self) -> None:
        """Keep a tombstone: the short URL answers 410 forever and the slug is never reissued."""
        self.is_active = False
        self.deleted_at = timezone.now()
        self.save(update_fields=["is_active", "deleted_at", "updated_at"])


class DestinationChange(models.Model):
    """Every target a link has had: when, by whom, from what to what."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="destination_changes")
    old_target = models.CharField(max_length=targets.MAX_LENGTH, blank=True)
    new_target = models.CharField(max_length=targets.MAX_LENGTH)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.link.slug}: {self.old_target or '(new)'} → {self.new_target}"


class StateChange(models.Model):
    """A disable or enable of a link, with why, by whom and what asked: the blocklist
    disables through here (shortener.links.blocking), the owner's buttons too, and
    quarantine and its lifting (shortener.links.writes.quarantine / release)."""

    class Action(models.TextChoices):
        DISABLED = "disabled", "Disabled"
        ENABLED = "enabled", "Enabled"
        QUARANTINED = "quarantined", "Quarantined"
        RELEASED = "released", "Quarantine lifted"

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="state_changes")
    action = models.CharField(max_length=12, choices=Action.choices)
    reason = models.CharField(max_length=300, blank=True)
    # The blocklist entry that disabled the link (or kept it disabled); unblocking that
    # entry re-enables exactly the links whose latest change names it. Text, not a key:
    # the history outlives the entry.
    blocked_domain = models.CharField(max_length=253, blank=True)
    source = models.CharField(max_length=100, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(
                fields=["blocked_domain"],
                condition=~Q(blocked_domain=""),
                name="state_change_blocked_domain",
            )
        ]

    def __str__(self) -> str:
        return f"{self.link.slug}: {self.action} ({self.reason or 'no reason given'})"
