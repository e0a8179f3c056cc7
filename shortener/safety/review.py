"""The review queue: which links wait for staff, and each decision on one of them.

Every decision writes a Decision (who, when, what, why) and closes the link's open
reports, except a suspension, which is about the owner and leaves the link waiting for
its own decision. The link's own changes go through the link core (its StateChange
history) and blocking through `shortener.links.block()`, the one blocking function."""

from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, F, Max, Prefetch, Q

from shortener import links
from shortener.links import access
from shortener.links.access import recorded_as
from shortener.links.models import Link, ReportReason
from shortener.links.refusal import LinkRefused
from shortener.safety.models import Decision, Report
from shortener.safety.reports import gravest

NOTE_MAX = 300
ACTIONS = ("dismiss", "quarantine", "release", "disable", "block", "suspend")


class ReviewRefused(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def waiting():
    """Live links with open reports or in quarantine, the most recently reported first,
    each with its open reports, their count and its owner."""
    open_reports = Q(reports__decision__isnull=True)
    return (
        Link.objects.live()
        .annotate(
            open_count=Count("reports", filter=open_reports),
            last_report=Max("reports__created_at", filter=open_reports),
        )
        .filter(Q(open_count__gt=0) | Q(quarantined_at__isnull=False, is_active=True))
        .select_related("owner", "domain")
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=Report.objects.filter(decision__isnull=True),
                to_attr="open_reports",
            )
        )
        # PostgreSQL sorts NULLs first when descending: links without open reports last.
        .order_by(F("last_report").desc(nulls_last=True), "-quarantined_at", "-id")
    )


def block_target(link: Link) -> str:
    """The domain the queue offers to block: the host of the link's destination."""
    return (urlsplit(link.target).hostname or "").strip()


@dataclass(frozen=True)
class Decided:
    decision: Decision
    said: str


def decide(
    link: Link,
    action: str,
    *,
    by,
    note: str = "",
    passable: bool = False,
    reason: str = "",
    domain: str = "",
) -> Decided:
    """Do `action` to `link` as `by` (staff) and record it. ReviewRefused with a
    sentence when it cannot be done; nothing is written then."""
    if not access.may_review(by):
        raise ReviewRefused("Only staff review reports.")
    if action not in ACTIONS:
        raise ReviewRefused("Choose one of the actions offered.")
    note = (note or "").strip()
    if len(note) > NOTE_MAX or any(not ch.isprintable() for ch in note):
        raise ReviewRefused(f"The note is one line of at most {NOTE_MAX} characters.")
    source = "review"
    why = note or ""
    detail = ""
    try:
        with transaction.atomic():
            match action:
                case "dismiss":
                    links.release(link, by=by, why=why or "Reports dismissed.", source=source)
                    said = f"Dismissed the reports of {link.key}."
                case "quarantine":
                    if not reason:
                        reason = gravest_open(link)
                    links.quarantine(link, by=by, reason=reason, why=why, source=source)
                    links.let_continue(link, by=by, allowed=passable)
                    detail = f"{reason}; visitors may continue" if passable else reason
                    said = f"{link.key} is quarantined" + (
                        "; visitors may continue past the warning." if passable else "."
                    )
                case "release":
                    links.release(link, by=by, why=why, source=source)
                    said = f"Lifted the quarantine of {link.key}."
                case "disable":
                    links.disable(link, by=by)
                    said = f"Disabled {link.key}: it answers 410 Gone."
                case "block":
                    blocked = links.block(
                        domain or block_target(link), by=by, reason=why, source=source
                    )
                    detail = blocked.domain
                    said = str(blocked)
                case "suspend":
                    owner = link.owner
                    if not access.may_suspend(by, owner):
                        raise ReviewRefused("This link has no owner who can be suspended.")
                    group, _ = Group.objects.get_or_create(name=access.SUSPENDED_GROUP)
                    owner.groups.add(group)
                    detail = owner.get_username()
                    said = f"{detail} may no longer create links."
            decision = Decision.objects.create(
                link=link,
                action=DECISION_OF[action],
                note=note,
                detail=detail[:300],
                decided_by=recorded_as(by),
            )
            if action != "suspend":
                Report.objects.filter(link=link, decision__isnull=True).update(decision=decision)
    except LinkRefused as refusal:
        raise ReviewRefused(refusal.reason) from None
    except links.BlockRefused as refusal:
        raise ReviewRefused(refusal.reason) from None
    return Decided(decision, said)


DECISION_OF = {
    "dismiss": Decision.Action.DISMISSED,
    "quarantine": Decision.Action.QUARANTINED,
    "release": Decision.Action.RELEASED,
    "disable": Decision.Action.DISABLED,
    "block": Decision.Action.BLOCKED,
    "suspend": Decision.Action.SUSPENDED,
}


def gravest_open(link: Link) -> str:
    reasons = Counter(
        Report.objects.filter(link=link, decision__isnull=True).values_list("reason", flat=True)
    )
    return gravest(reasons) if reasons else ReportReason.OTHER
