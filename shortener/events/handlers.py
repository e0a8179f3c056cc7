"""Event handlers: what each event type does to links and the blocklist.

Each handler takes the event and its validated data and returns the outcome as a
sentence, or raises `EventRefused` when the domain says no (the target policy, a
taken slug): that is final, and nothing is written. Any other exception is a
failure that the processing task retries.
"""

from collections.abc import Callable
from typing import Any

from shortener import links
from shortener.events.models import WebhookEvent
from shortener.links import LinkRefused, access
from shortener.policy import targets

# The event's field names → the link core's (the rest are the same).
LINK_FIELDS = {"url": "target"}


class EventRefused(Exception):
    """The event asks for something the domain refuses; `reason` says why, in a sentence."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def create(event: WebhookEvent, data: dict[str, Any]) -> str:
    values = {LINK_FIELDS.get(name, name): value for name, value in data.items()}
    try:
        link = links.create(
            values, actor=event.source.owner, workspace=event.source.workspace or ...
        )
    except LinkRefused as refusal:
        raise EventRefused(refusal.reason) from None
    return f"Created {link.short_url} → {link.target}"


def disable(event: WebhookEvent, data: dict[str, Any]) -> str:
    """Disable the live links the source's owner may disable (in its workspace, when it
    names one), as if they asked."""
    actor = event.source.owner
    found = access.visible_to(actor, event.source.workspace).filter(is_active=True)
    if "slug" in data:
        found = found.filter(slug=data["slug"])
        wanted = f"slug {data['slug']}"
    else:
        verdict = targets.check(data["url"])  # normalised like stored targets, if it can be
        found = found.filter(target__in={data["url"], verdict.url or data["url"]})
        wanted = f"url {data['url']}"
    mine = [link for link in found if access.may_disable(actor, link)]
    disabled = [link.slug for link in mine if links.disable(link, by=actor)]
    if not disabled:
        return f"No live link of {event.source.owner.username} has {wanted}."
    return f"Disabled {len(disabled)} link(s): {', '.join(disabled)}"


def block(event: WebhookEvent, data: dict[str, Any]) -> str:
    """Through the one function that blocks: the same refusals, links reached by their
    destination and by their rules' destinations alike."""
    source = event.source
    try:
        blocked = links.block(
            data["domain"],
            by=source.owner,
            reason=data.get("reason") or f"Blocked by webhook source {source.name}.",
            source=f"webhook {source.name}",
        )
    except links.BlockRefused as refusal:
        raise EventRefused(refusal.reason) from None
    return str(blocked)


def unblock(event: WebhookEvent, data: dict[str, Any]) -> str:
    try:
        unblocked = links.unblock(
            data["domain"], by=event.source.owner, source=f"webhook {event.source.name}"
        )
    except links.BlockRefused as refusal:
        raise EventRefused(refusal.reason) from None
    return str(unblocked)


HANDLERS: dict[str, Callable[[WebhookEvent, dict[str, Any]], str]] = {
    "link.create": create,
    "link.disable": disable,
    "domain.block": block,
    "domain.unblock": unblock,
}
