"""What the link core tells the rooms above it, which it may not import.

`links_changed` is sent INSIDE the transaction of every write that changed links, with
`event` (`link.created`, `link.updated`, `link.disabled`, `link.enabled`,
`link.deleted`, `link.blocked`) and `links` (the links as written). A receiver that
writes rows (the outbox of outbound webhooks, `shortener.events.outbox`) writes them in
the same transaction, so the event exists exactly when the change does.
"""

from django.dispatch import Signal

links_changed = Signal()

CREATED = "link.created"
UPDATED = "link.updated"
DISABLED = "link.disabled"
ENABLED = "link.enabled"
DELETED = "link.deleted"
BLOCKED = "link.blocked"


def changed(event: str, links) -> None:
    links = list(links)
    if links:
        from shortener.links.models import Link

        links_changed.send(sender=Link, event=event, links=links)
