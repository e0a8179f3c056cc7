"""One action on many links at once (the list's bulk actions), row by row through the
same writes a single action uses, so each row changes exactly as it would alone.

A row the actor may not change (not theirs, deleted, unknown) is refused, as is a row
the action's rule refuses (a tag too many); the other rows still change.
"""

from dataclasses import dataclass, field

from shortener.links.access import split_key, visible_to
from shortener.links.cleaning import TAG_MAX, TAG_PATTERN
from shortener.links.models import Link
from shortener.links.refusal import LinkRefused
from shortener.links.writes import delete, disable, edit, enable

ACTIONS = {"disable": "Disabled", "enable": "Enabled", "delete": "Deleted", "tag": "Tagged"}
MAX_ROWS = 100
NOT_YOURS = "No such link of yours: it may have been deleted."


@dataclass
class Outcome:
    """What happened to each row: changed, unchanged (already so) or refused with why."""

    action: str
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def sentence(self) -> str:
        parts = []
        if self.changed:
            parts.append(f"{ACTIONS[self.action]} {len(self.changed)}: {', '.join(self.changed)}.")
        if self.unchanged:
            parts.append(f"Already so, unchanged: {', '.join(self.unchanged)}.")
        for slug, reason in self.refused.items():
            parts.append(f"Not changed, {slug}: {reason}")
        return " ".join(parts) or "Nothing was selected."


def check(action: str, slugs: list[str], tag: str = "") -> None:
    """Refuse the request as a whole before any row is touched."""
    if action not in ACTIONS:
        raise LinkRefused("action", "Choose an action: disable, enable, delete or add a tag.")
    if not slugs:
        raise LinkRefused("slug", "Select at least one link.")
    if len(slugs) > MAX_ROWS:
        raise LinkRefused("slug", f"Select at most {MAX_ROWS} links at a time.")
    if action == "tag" and not TAG_PATTERN.fullmatch(tag.strip().lower()):
        raise LinkRefused(
            "tag", f"A tag is one word of letters, digits, - or _ (at most {TAG_MAX})."
        )


def chosen(keys: list[str], *, by) -> dict[str, Link]:
    """The selected links `by` may change, by key (`slug`, or `slug@host` off the site's
    host: the same slug may live on several domains)."""
    candidates = visible_to(by).select_related("domain")
    found = candidates.filter(slug__in={split_key(key)[0] for key in keys})
    return {link.key: link for link in found if link.key in keys}


def apply(action: str, slugs: list[str], *, by, tag: str = "", own_host: str | None = None):
    """Run `action` on each selected link `by` may change (`slugs` are the rows' keys);
    an `Outcome` per row."""
    check(action, slugs, tag)
    outcome = Outcome(action)
    wanted = list(dict.fromkeys(slugs))
    found = chosen(wanted, by=by)
    for slug in wanted:
        link = found.get(slug)
        if link is None:
            outcome.refused[slug] = NOT_YOURS
            continue
        try:
            changed = one(action, link, by=by, tag=tag.strip().lower(), own_host=own_host)
        except LinkRefused as refusal:
            outcome.refused[slug] = refusal.reason
            continue
        (outcome.changed if changed else outcome.unchanged).append(slug)
    return outcome


def one(action: str, link, *, by, tag: str, own_host: str | None) -> bool:
    if action == "disable":
        return disable(link, by=by)
    if action == "enable":
        return enable(link, by=by)
    if action == "delete":
        return delete(link, by=by)
    # edit() cleans the tags as any edit would: a tag too many is refused there.
    names = sorted(t.name for t in link.tags.all())
    if tag in names:
        return False
    edit(link, by=by, own_host=own_host, tags=[*names, tag])
    return True
