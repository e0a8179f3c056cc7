"""Entries for models that admin, commands and pages save directly (domains, API
tokens, webhook sources): pre_save remembers the stored row, post_save and post_delete
compare and record. Connected by `shortener.apps` for the models it names, since this
room sits below theirs and imports none of them.

Each describer reads a saved object and its fields before (None: created; `after`
None: deleted) and answers (action, summary, changes) or None for a save that changed
nothing worth a line (a token's last use)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save

from shortener.audit.models import Action, Kind
from shortener.audit.recording import differences, record

Said = tuple[str, str, dict] | None


@dataclass(frozen=True)
class Watched:
    kind: str
    fields: tuple[str, ...]
    describe: Callable[[Any, dict | None, dict | None], Said]


def values_of(instance, fields: tuple[str, ...]) -> dict:
    # The id of a relation (owner_id), its object's name where it is loaded cheaply.
    return {name: getattr(instance, name) for name in fields}


def watch(model, watched: Watched) -> None:
    uid = f"audit-{model._meta.label_lower}"

    def remember(sender, instance, raw=False, **kwargs):
        if raw or instance.pk is None:
            instance._audit_before = None
            return
        stored = sender._base_manager.filter(pk=instance.pk).values(*watched.fields).first()
        instance._audit_before = stored

    def saved(sender, instance, created, raw=False, **kwargs):
        if raw:  # loaddata and restores: not changes anybody made
            return
        before = None if created else getattr(instance, "_audit_before", None)
        said = watched.describe(instance, before, values_of(instance, watched.fields))
        instance._audit_before = values_of(instance, watched.fields)
        if said is not None:
            action, summary, changes = said
            name = getattr(instance, "host", None) or getattr(instance, "name", "")
            record(
                action,
                watched.kind,
                instance.pk,
                summary,
                name=name,
                changes=changes,
                workspace=getattr(instance, "workspace_id", None),  # a token's, a source's
            )

    def deleted(sender, instance, **kwargs):
        said = watched.describe(instance, values_of(instance, watched.fields), None)
        if said is not None:
            action, summary, changes = said
            name = getattr(instance, "host", None) or getattr(instance, "name", "")
            record(
                action,
                watched.kind,
                instance.pk,
                summary,
                name=name,
                changes=changes,
                workspace=getattr(instance, "workspace_id", None),  # a token's, a source's
            )

    pre_save.connect(remember, sender=model, weak=False, dispatch_uid=f"{uid}-pre")
    post_save.connect(saved, sender=model, weak=False, dispatch_uid=f"{uid}-post")
    post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=f"{uid}-delete")


# --- what the log says of each ----------------------------------------------------------

DOMAIN_FIELDS = (
    "host",
    "is_default",
    "is_active",
    "http_only",
    "port",
    "root_redirect",
    "unknown_redirect",
    "refuse_subdomains",
)


def domain_said(domain, before: dict | None, after: dict | None) -> Said:
    if after is None:
        return Action.DELETED, f"Removed the domain {domain.host}.", {}
    if before is None:
        return Action.CREATED, f"Added the domain {domain.host}.", {}
    changes = differences(before, after)
    if not changes:
        return None
    names = ", ".join(name.replace("_", " ") for name in changes)
    return Action.CHANGED, f"Changed the domain {domain.host}: {names}.", changes


DOMAIN = Watched(Kind.DOMAIN, DOMAIN_FIELDS, domain_said)

TOKEN_FIELDS = ("name", "prefix", "user_id", "revoked_at", "scopes", "expires_at")


def token_said(token, before: dict | None, after: dict | None) -> Said:
    whose = token.user.get_username()
    named = f"the API token “{token.name}” ({token.prefix}…) of {whose}"
    if after is None:
        return Action.DELETED, f"Removed {named}.", {}
    if before is None:
        scopes = ", ".join(token.scopes) or "no scope"
        until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "forever"
        return Action.CREATED, f"Created {named}: {scopes}, {until}.", {}
    if before["revoked_at"] is None and after["revoked_at"] is not None:
        return Action.REVOKED, f"Revoked {named}.", {}
    changes = differences(before, after)
    changes.pop("revoked_at", None)
    if not changes:
        return None  # its last use, or a save that changed nothing
    return Action.CHANGED, f"Changed {named}.", changes


TOKEN = Watched(Kind.TOKEN, TOKEN_FIELDS, token_said)

SOURCE_FIELDS = ("name", "owner_id", "scheme", "enabled")


def source_said(source, before: dict | None, after: dict | None) -> Said:
    named = f"the webhook source {source.name}"
    if after is None:
        return Action.DELETED, f"Removed {named}.", {}
    if before is None:
        owner = source.owner.get_username()
        return Action.CREATED, f"Added {named}, acting as {owner}.", {}
    changes = differences(before, after)
    if not changes:
        return None
    if set(changes) == {"enabled"}:
        if after["enabled"]:
            return Action.ENABLED, f"Enabled {named}.", changes
        return Action.DISABLED, f"Disabled {named}.", changes
    names = ", ".join(name.removesuffix("_id") for name in changes)
    return Action.CHANGED, f"Changed {named}: {names}.", changes


WEBHOOK_SOURCE = Watched(Kind.WEBHOOK_SOURCE, SOURCE_FIELDS, source_said)
