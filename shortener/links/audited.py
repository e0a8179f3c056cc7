"""What the audit log says of a link write: one entry a change, in the write's
transaction, with the fields an edit changed (a password only as set or removed)."""

from collections.abc import Iterable

from shortener.audit.models import Action, Kind
from shortener.audit.recording import differences, plain, record, record_many
from shortener.links.models import Link

SENTENCES = {
    Action.CREATED: "Created {key} → {target}.",
    Action.DISABLED: "Disabled {key}.",
    Action.ENABLED: "Enabled {key}.",
    Action.DELETED: "Deleted {key} (its short URL answers 410).",
    Action.QUARANTINED: "Quarantined {key}.",
    Action.RELEASED: "Lifted the quarantine of {key}.",
}


def noted(action: str, link: Link, *, by, summary: str = "", changes: dict | None = None):
    said = summary or SENTENCES[action].format(key=link.key, target=link.target)
    record(
        action,
        Kind.LINK,
        link.pk,
        said,
        actor=by,
        name=link.title,
        changes=changes,
        workspace=link.workspace_id,
    )


def created_many(rows: Iterable[Link], *, by) -> None:
    """One entry for each link a batch made (an import, a bulk create, the API's batch)."""
    said = SENTENCES[Action.CREATED]
    record_many(
        Action.CREATED,
        Kind.LINK,
        (
            (link.pk, said.format(key=link.key, target=link.target), link.title, link.workspace_id)
            for link in rows
        ),
        actor=by,
    )


def shown(name: str, value):
    if name == "password":
        return "set" if value else "none"
    if name == "tags" and value is not None:
        return sorted(value)
    return plain(value)


def edited(link: Link, before: dict, after: dict, *, by) -> None:
    """An edit that changed something: which fields, from what to what."""
    changes = differences(
        {name: shown(name, value) for name, value in before.items()},
        {name: shown(name, value) for name, value in after.items()},
    )
    if "password" in after and after["password"] != before.get("password"):
        changes["password"] = [shown("password", before.get("password")), "changed"]
        if not after["password"]:
            changes["password"][1] = "removed"
    if not changes:
        return
    names = ", ".join(name.replace("_", " ") for name in changes)
    noted(Action.CHANGED, link, by=by, summary=f"Changed {link.key}: {names}.", changes=changes)
