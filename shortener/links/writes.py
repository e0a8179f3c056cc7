"""Every write to a link: create, edit (with its destination history), disable, enable
(with its state history), delete (always a tombstone). Each cleans through `clean()`
and writes in one transaction; a refusal writes nothing."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shortener.audit.models import Action
from shortener.links import access, audited
from shortener.links.access import is_signed_in, may_create, recorded_as
from shortener.links.blocking import blocked_entry, links_switched
from shortener.links.cleaning import clean, taken
from shortener.links.models import DestinationChange, Link, ReportReason, StateChange, Tag
from shortener.links.refusal import LinkRefused
from shortener.links.signals import CREATED, DELETED, DISABLED, ENABLED, UPDATED, changed
from shortener.policy import slugs

SLUG_ATTEMPTS = 8


def create(
    values: Mapping[str, Any],
    *,
    actor,
    own_host: str | None = None,
    owner: Any = ...,
    workspace: Any = ...,
) -> Link:
    """A new link from `values`, made by `actor` (staff may name another `owner`), in
    `workspace` (by default the owner's personal one), where `actor` must be an editor."""
    if not may_create(actor):
        if access.is_suspended(actor):
            raise LinkRefused("__all__", access.SUSPENDED)
        raise LinkRefused("__all__", "Sign in to create links.")
    owner = (actor if is_signed_in(actor) else None) if owner is ... else owner
    if workspace is ...:
        workspace = access.home_workspace(actor, owner)
    if not access.may_create_in(actor, workspace):
        raise LinkRefused("__all__", access.NOT_AN_EDITOR)
    cleaned = clean({**values, "owner": owner}, actor=actor, own_host=own_host, workspace=workspace)
    cleaned["workspace"] = workspace
    slug = cleaned.pop("slug", None)
    tags = cleaned.pop("tags")
    attempts = 1 if slug else SLUG_ATTEMPTS
    length = getattr(settings, "SLUG_LENGTH", slugs.DEFAULT_LENGTH)
    for attempt in range(attempts):
        candidate = slug or slugs.generate_slug(length)
        try:
            with transaction.atomic():
                link = Link.objects.create(slug=candidate, **cleaned)
                DestinationChange.objects.create(
                    link=link, new_target=link.target, changed_by=recorded_as(actor)
                )
                set_tags(link, tags)
                changed(CREATED, [link])
                audited.noted(Action.CREATED, link, by=actor)
                return link
        except IntegrityError:
            if slug:  # taken between the check and the insert
                raise LinkRefused("slug", taken(slug, cleaned["domain"])) from None
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def edit(link: Link, *, by, own_host: str | None = None, **changes) -> Link:
    """Change the fields given; the slug never changes; a new target joins the history
    with `by` as who changed it. Refused if `by` may not change the link."""
    refuse_unless(access.may_change(by, link), "change")
    workspace = changes.pop("workspace", ...)
    cleaned = clean(changes, actor=by, link=link, own_host=own_host)
    if workspace is ... and "owner" in cleaned:
        # A link given to someone else (staff, in admin) goes to their personal workspace.
        workspace = access.home_workspace(by, cleaned["owner"])
    if workspace is not ... and workspace != link.workspace:
        if not access.may_create_in(by, workspace):
            raise LinkRefused("__all__", access.NOT_AN_EDITOR)
        cleaned["workspace"] = workspace
    if not cleaned:
        return link
    tags = cleaned.pop("tags", None)
    old_target = link.target
    before = {name: getattr(link, name) for name in cleaned}
    old_tags = sorted(link.tags.values_list("name", flat=True)) if tags is not None else None
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(link, name, value)
        link.save()
        if link.target != old_target:
            DestinationChange.objects.create(
                link=link,
                old_target=old_target,
                new_target=link.target,
                changed_by=recorded_as(by),
            )
        if tags is not None:
            set_tags(link, tags)
        # One event per edit that changed something: saving the same values is no change.
        if any(getattr(link, name) != was for name, was in before.items()) or (
            tags is not None and sorted(set(tags)) != old_tags
        ):
            changed(UPDATED, [link])
            after = {name: getattr(link, name) for name in before}
            if tags is not None:
                before["tags"], after["tags"] = old_tags, sorted(set(tags))
            audited.edited(link, before, after, by=by)
    return link


def set_tags(link: Link, names: list[str]) -> None:
    link.tags.set([Tag.objects.get_or_create(name=name)[0] for name in names])


def refuse_unless(allowed: bool, what: str) -> None:
    """The writes' own check, whatever the entry point asked before: an adapter answers
    404 or 403 first, so this refusal is the backstop for one that forgot."""
    if not allowed:
        raise LinkRefused("__all__", f"You may not {what} this link.")


def disable(link: Link, *, by) -> bool:
    """The short URL answers 410 until enabled. True if this changed anything."""
    refuse_unless(access.may_disable(by, link), "disable")
    was = link.can_disable
    with transaction.atomic():
        link.disable()
        if was:
            StateChange.objects.create(
                link=link, action=StateChange.Action.DISABLED, changed_by=recorded_as(by)
            )
            changed(DISABLED, [link])
            audited.noted(Action.DISABLED, link, by=by)
    return was


def enable(link: Link, *, by) -> bool:
    """A disabled link redirects again; a tombstone never does, nor a link that leads to
    a blocked domain (LinkRefused: change where it leads first). True if this changed
    anything."""
    refuse_unless(access.may_enable(by, link), "enable")
    was = link.can_enable
    if was:
        entry = blocked_entry(link)
        if entry:
            raise LinkRefused(
                "__all__",
                f"Links to {entry} are blocked on this site, so this link stays disabled.",
            )
    with transaction.atomic():
        link.enable()
        if was:
            StateChange.objects.create(
                link=link, action=StateChange.Action.ENABLED, changed_by=recorded_as(by)
            )
            changed(ENABLED, [link])
            audited.noted(Action.ENABLED, link, by=by)
    return was


def quarantine(link: Link, *, by, reason: str, why: str = "", source: str = "") -> bool:
    """Put the link behind the warning page: its short URL stops redirecting until staff
    lift it. `reason` is a ReportReason; `why` goes on the history. True if it changed."""
    refuse_unless(access.may_quarantine(by, link), "quarantine")
    if reason not in ReportReason.values:
        raise LinkRefused("reason", "Choose why the link is quarantined.")
    if link.quarantined_at is not None:
        return False
    with transaction.atomic():
        link.quarantined_at = timezone.now()
        link.quarantine_reason = reason
        link.quarantine_passable = False
        link.save(update_fields=["quarantined_at", "quarantine_reason", "quarantine_passable"])
        StateChange.objects.create(
            link=link,
            action=StateChange.Action.QUARANTINED,
            reason=(why or f"Reported as {reason}.")[:300],
            source=source[:100],
            changed_by=recorded_as(by),
        )
        audited.noted(Action.QUARANTINED, link, by=by, changes={"reason": [None, reason]})
    switched(link)
    return True


def release(link: Link, *, by, why: str = "", source: str = "") -> bool:
    """Lift the quarantine: the link redirects again (if nothing else stops it)."""
    refuse_unless(access.may_lift(by, link), "lift the quarantine of")
    if link.quarantined_at is None:
        return False
    with transaction.atomic():
        link.quarantined_at = None
        link.quarantine_reason = ""
        link.quarantine_passable = False
        link.save(update_fields=["quarantined_at", "quarantine_reason", "quarantine_passable"])
        StateChange.objects.create(
            link=link,
            action=StateChange.Action.RELEASED,
            reason=why[:300],
            source=source[:100],
            changed_by=recorded_as(by),
        )
        audited.noted(Action.RELEASED, link, by=by)
    switched(link)
    return True


def let_continue(link: Link, *, by, allowed: bool) -> bool:
    """Whether the warning page of a quarantined link offers to continue to it anyway."""
    refuse_unless(access.may_lift(by, link), "change the quarantine of")
    if link.quarantined_at is None or link.quarantine_passable == allowed:
        return False
    with transaction.atomic():
        link.quarantine_passable = allowed
        link.save(update_fields=["quarantine_passable"])
        said = "may" if allowed else "may no longer"
        audited.noted(
            Action.CHANGED,
            link,
            by=by,
            summary=f"Visitors {said} continue past the warning of {link.key}.",
            changes={"quarantine_passable": [not allowed, allowed]},
        )
    return True


def switched(link: Link) -> None:
    """The redirect's lookup cache in this process forgets the link once this commits."""
    keys = [(link.domain_id, link.slug)]
    transaction.on_commit(lambda: links_switched.send(sender=Link, keys=keys))


def delete(link: Link, *, by) -> bool:
    """Keep a tombstone: the short URL answers 410 forever and the slug is never reissued."""
    if link.deleted_at is not None:
        return False
    refuse_unless(access.may_delete(by, link), "delete")
    with transaction.atomic():
        link.delete_softly()
        changed(DELETED, [link])
        audited.noted(Action.DELETED, link, by=by)
    return True
