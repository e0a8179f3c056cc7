"""The flags' own trail (flags.models.FlagChange) joins the audit log: each change it
records is an entry too, written in the same transaction. flags knows nothing of
shortener, so the log listens from this side."""

from django.db.models.signals import post_save

from flags.models import FlagChange
from shortener.audit.models import Action, Kind
from shortener.audit.recording import THE_SITE, entry

KINDS = {FlagChange.Kind.FLAG: Kind.FLAG, FlagChange.Kind.SWITCH: Kind.SWITCH}


def said(change: FlagChange) -> tuple[str, str]:
    noun = "switch" if change.kind == FlagChange.Kind.SWITCH else "flag"
    if change.before is None:
        return Action.CREATED, f"Created the {noun} {change.name}: {change.after_text}."
    if change.after is None:
        return Action.DELETED, f"Removed the {noun} {change.name} (was: {change.before_text})."
    return (
        Action.CHANGED,
        f"Changed the {noun} {change.name}: {change.before_text} → {change.after_text}.",
    )


def entry_of(change: FlagChange):
    action, summary = said(change)
    made = entry(
        action,
        KINDS[change.kind],
        change.name,
        summary,
        actor=change.changed_by or THE_SITE,  # no user: code changed it
        name=change.name,
        changes={"rule": [change.before, change.after]},
        at=change.changed_at,
    )
    if change.changed_by is None and change.changed_by_name:
        made.actor_name = change.changed_by_name  # an account deleted since
    return made


def flag_changed(sender, instance: FlagChange, created: bool, raw=False, **kwargs) -> None:
    if created and not raw:
        entry_of(instance).save()


def connect() -> None:
    post_save.connect(flag_changed, sender=FlagChange, dispatch_uid="audit-flag-changes")
