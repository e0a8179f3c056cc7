"""One audit entry per change: who (a person, nobody signed in, or the site), what
(action, object kind and id, a sentence, the changed fields), when, and through which
entry point. Append-only: an entry is written once and never changed or removed."""

import json

from django.conf import settings
from django.db import models
from django.utils import timezone


class EntryChangeRefused(ValueError):
    """The audit log is never edited: an entry stays as it was written."""


REFUSED = "Audit entries are never changed or removed."


class Kind(models.TextChoices):
    """What an entry is about."""

    LINK = "link", "Link"
    DOMAIN = "domain", "Domain"
    BLOCKED_DOMAIN = "blocked_domain", "Blocked domain"
    TOKEN = "token", "API token"
    WEBHOOK_SOURCE = "webhook_source", "Webhook source"
    FLAG = "flag", "Flag"
    SWITCH = "switch", "Switch"
    WORKSPACE = "workspace", "Workspace"
    MEMBER = "member", "Member"


class Action(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DISABLED = "disabled", "Disabled"
    ENABLED = "enabled", "Enabled"
    DELETED = "deleted", "Deleted"
    QUARANTINED = "quarantined", "Quarantined"
    RELEASED = "released", "Quarantine lifted"
    BLOCKED = "blocked", "Blocked"
    UNBLOCKED = "unblocked", "Unblocked"
    REVOKED = "revoked", "Revoked"
    ROTATED = "rotated", "Secret rotated"
    INVITED = "invited", "Invited"
    JOINED = "joined", "Joined"
    REMOVED = "removed", "Removed"


class Via(models.TextChoices):
    """The entry point a change came through."""

    PAGE = "page", "Page"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    IMPORT = "import", "Import"
    WEBHOOK = "webhook", "Webhook"
    COMMAND = "command", "Command"


class EntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise EntryChangeRefused(REFUSED)

    def delete(self):
        raise EntryChangeRefused(REFUSED)

    def matching(
        self, *, actor: str = "", action: str = "", kind: str = "", since=None, until=None
    ):
        """The page's filters: the actor's name as recorded, an action, a kind, and the
        days from `since` to `until` (dates, both included)."""
        entries = self
        actor = actor.replace("\x00", "").strip()
        if actor:
            entries = entries.filter(actor_name__iexact=actor)
        if action in Action.values:
            entries = entries.filter(action=action)
        if kind in Kind.values:
            entries = entries.filter(kind=kind)
        if since is not None:
            entries = entries.filter(at__date__gte=since)
        if until is not None:
            entries = entries.filter(at__date__lte=until)
        return entries


class Entry(models.Model):
    at = models.DateTimeField(default=timezone.now, editable=False)
    # Null for nobody signed in and for the site itself; the name says which.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # Kept as text too, so the log still says who after the account is deleted.
    actor_name = models.CharField(max_length=150, editable=False)
    action = models.CharField(max_length=20, choices=Action.choices, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    # What people call it (a link's title, a domain's host, a token's name), as it was.
    object_name = models.CharField(max_length=200, blank=True, editable=False)
    summary = models.CharField(max_length=500, editable=False)
    # {field: [before, after]} where it helps; secrets and password hashes never.
    changes = models.JSONField(default=dict, blank=True, editable=False)
    # Blank only for the flag changes made before the log (migration 0020 copied them).
    via = models.CharField(max_length=10, choices=Via.choices, blank=True, editable=False)
    # Which one, where it says more: the webhook source's name, the command's.
    via_detail = models.CharField(max_length=100, blank=True, editable=False)
    # The workspace the change happened in (a link's, a member's), for its owners to read;
    # null for the site's own (domains, flags, the blocklist). No constraint: an entry
    # outlives its workspace, and is never changed when one goes.
    workspace = models.ForeignKey(
        "shortener.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        editable=False,
    )

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            # The page: newest first, a keyset page at a time, whole or filtered.
            models.Index(fields=["-at", "-id"], name="audit_newest"),
            models.Index(fields=["actor_name", "-at"], name="audit_actor_newest"),
            models.Index(fields=["kind", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name}: {self.summary}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise EntryChangeRefused(REFUSED)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EntryChangeRefused(REFUSED)

    @property
    def changes_text(self) -> str:
        """The changed fields in a line: `title: "Old" → "New"; rules: …`."""
        return "; ".join(
            f"{name}: {json.dumps(pair[0], ensure_ascii=False)} → "
            f"{json.dumps(pair[1], ensure_ascii=False)}"
            if isinstance(pair, list) and len(pair) == 2
            else f"{name}: {json.dumps(pair, ensure_ascii=False)}"
            for name, pair in self.changes.items()
        )
