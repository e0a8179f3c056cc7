"""Event handlers: what each event type does to links and the blocklist.

Each handler takes the event and its validated data and returns the outcome as a
sentence, or raises `EventRefused` when the domain says no (the target policy, a
taken slug): that is final, and nothing is written. Any other exception is a
failure that the processing task retries.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError
from django.http import HttpRequest
from waffle import flag_is_active

from shortener import slugs, targets
from shortener.models import BlockedDomain, Link, WebhookEvent, check_target, create_link


class EventRefused(Exception):
    """The event asks for something the domain refuses; `reason` says why, in a sentence."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def create(event: WebhookEvent, data: dict[str, Any]) -> str:
    owner = event.source.owner
    verdict = check_target(data["url"])
    if not verdict.ok:
        raise EventRefused(verdict.reason or "The target is refused.")
    slug = data.get("slug")
    note = ""
    if slug and not may_use_custom_slugs(owner):
        slug, note = None, f" (slug ignored: custom slugs are off for {owner.username})"
    if slug:
        problem = slugs.custom_slug_problem(slug)
        if problem:
            raise EventRefused(problem)
        if Link.objects.filter(slug=slug).exists():
            raise EventRefused(f"The slug “{slug}” is taken.")
    try:
        link = create_link(
            target=verdict.url,
            owner=owner,
            slug=slug,
            tags=data.get("tags", ()),
            title=data.get("title", ""),
        )
    except IntegrityError:
        raise EventRefused(f"The slug “{slug}” is taken.") from None
    return f"Created {link.slug} → {link.target}{note}"


def disable(event: WebhookEvent, data: dict[str, Any]) -> str:
    links = Link.objects.live().filter(owner=event.source.owner, is_active=True)
    if "slug" in data:
        links = links.filter(slug=data["slug"])
        wanted = f"slug {data['slug']}"
    else:
        verdict = targets.check(data["url"])  # normalised like stored targets, if it can be
        links = links.filter(target__in={data["url"], verdict.url or data["url"]})
        wanted = f"url {data['url']}"
    disabled = [link.slug for link in links]
    for link in links:
        link.disable()
    if not disabled:
        return f"No live link of {event.source.owner.username} has {wanted}."
    return f"Disabled {len(disabled)} link(s): {', '.join(disabled)}"


def block(event: WebhookEvent, data: dict[str, Any]) -> str:
    host = targets.normalise_host(data["domain"].strip().rstrip("."))
    if not host.ok or not host.url or host.url.startswith("["):
        raise EventRefused(host.reason or f"{data['domain']} is not a domain name.")
    domain = host.url
    reason = data.get("reason") or f"Blocked by webhook source {event.source.name}."
    _, added = BlockedDomain.objects.get_or_create(domain=domain, defaults={"reason": reason})
    disabled = []
    for link in Link.objects.live().filter(is_active=True, target__icontains=domain):
        if targets.matches_domain(urlsplit(link.target).hostname or "", domain):
            link.disable()
            disabled.append(link.slug)
    state = "Blocked" if added else "Already blocked:"
    return f"{state} {domain}; disabled {len(disabled)} link(s)" + (
        f": {', '.join(disabled)}" if disabled else ""
    )


HANDLERS: dict[str, Callable[[WebhookEvent, dict[str, Any]], str]] = {
    "link.create": create,
    "link.disable": disable,
    "domain.block": block,
}


def may_use_custom_slugs(user) -> bool:
    """The `custom_slugs` flag as it stands for `user`, asked the way views ask waffle."""
    request = HttpRequest()
    request.user = user
    return flag_is_active(request, "custom_slugs")
