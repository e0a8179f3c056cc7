"""Link health: the task worker requests each active link's destination at most once a
day (for owners the `link_health` flag is on for) and records the last result.

Every request goes through the one safe fetcher (`shortener.outbound.fetch.get`): http
and https only, the target policy on every address DNS returns and the connection made
to the checked one, at most 3 redirects each checked the same way, TIMEOUT seconds for
the whole chain, MAX_BYTES read, a User-Agent that says who asks. No destination host
gets more than LINK_HEALTH_PER_HOST_PER_MINUTE requests a minute: a link over its host's
budget waits for a later run. A run stops starting checks after RUN_SECONDS, well within
TASK_RECLAIM_SECONDS, and the next run (CHECK_EVERY later) goes on with the rest.

A check whose destination's domain no longer resolves, or that now redirects to another
registrable domain (`health_rules.review_reason`), files a report from the checker
(reporter HEALTH_REPORTER, never counted toward a quarantine) so the link shows in the
review queue; only when that verdict is new, so a dismissed flag is not raised daily.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from waffle import flag_is_active

from shortener.links.access import as_request
from shortener.links.models import Link, ReportReason
from shortener.outbound import fetch
from shortener.safety import health_rules
from shortener.safety.models import LinkHealth, Report
from shortener.safety.reports import HEALTH_REPORTER

logger = logging.getLogger(__name__)
TIMEOUT = 5.0  # seconds for one check, redirects included
MAX_BYTES = 64 * 1024
BATCH = 500  # checks a run starts at most
RUN_SECONDS = 120.0
CHECK_EVERY = timedelta(minutes=10)
UNREACHABLE = [r for r in LinkHealth.Result.values if r not in health_rules.REACHABLE]


def user_agent() -> str:
    return f"Torii-LinkHealth/1 (+{settings.SITE_URL}; checks short links' destinations)"


@dataclass(frozen=True)
class Checked:
    result: str
    status: int | None = None
    final_url: str = ""
    detail: str = ""


def check_url(url: str, *, resolver=None, total_timeout: float = TIMEOUT) -> Checked:
    """Request `url` through the safe fetcher and say what came of it."""
    try:
        followed = fetch.get(
            url,
            {"Accept": "text/html,*/*;q=0.5"},
            total_timeout=total_timeout,
            max_bytes=MAX_BYTES,
            allow_http=True,
            user_agent=user_agent(),
            resolver=resolver,
        )
    except fetch.FetchRefused as refusal:
        return Checked(health_rules.REFUSED, detail=refusal.reason)
    except fetch.NameFailed as failure:
        return Checked(health_rules.DNS_GONE, detail=failure.reason)
    except fetch.TlsFailed as failure:
        return Checked(health_rules.TLS_ERROR, detail=failure.reason)
    except fetch.TimedOut as failure:
        return Checked(health_rules.TIMEOUT, detail=failure.reason)
    except fetch.FetchFailed as failure:
        return Checked(health_rules.FAILED, detail=failure.reason)
    status = followed.answer.status
    result = health_rules.result_of(status, url, followed.url)
    detail = f"Answered {status}." if result == health_rules.STATUS else ""
    if len(followed.hops) > 1:
        detail = f"Redirected {len(followed.hops) - 1} time(s). {detail}".strip()
    return Checked(result, status, followed.url if followed.url != url else "", detail)


def record(link: Link, checked: Checked, now: datetime) -> str | None:
    """Store the check as the link's last; flag the link for review when the check says
    something new a person should look at. Returns that reason, or None."""
    with transaction.atomic():
        before = LinkHealth.objects.select_for_update().filter(link=link).first()
        reachable = checked.result in health_rules.REACHABLE
        since = None
        if not reachable:
            since = before.failing_since if before and before.failing_since else now
        LinkHealth.objects.update_or_create(
            link=link,
            defaults={
                "result": checked.result,
                "status": checked.status,
                "final_url": checked.final_url[:2048],
                "detail": checked.detail[:300],
                "checked_at": now,
                "failing_since": since,
            },
        )
        reason = health_rules.review_reason(link.target, checked.result, checked.final_url)
        was = before and health_rules.review_reason(link.target, before.result, before.final_url)
        if not reason or reason == was:
            return None
        Report.objects.create(
            link=link,
            reason=ReportReason.OTHER,
            text=reason,
            reporter=HEALTH_REPORTER,
            created_at=now,
        )
        return reason


def due(now: datetime):
    """Live, active links not checked within a day, the longest unchecked first."""
    stale = now - health_rules.EVERY
    return (
        Link.objects.live()
        .filter(is_active=True, quarantined_at__isnull=True)
        .filter(Q(health__isnull=True) | Q(health__checked_at__lte=stale))
        .select_related("owner")
        .order_by(F("health__checked_at").asc(nulls_first=True), "pk")
    )


@dataclass
class Run:
    """What one run did, for the command and the task to say."""

    checked: dict[str, int] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    over_budget: int = 0
    left: bool = False  # stopped by BATCH or RUN_SECONDS with links still due

    def __str__(self) -> str:
        total = sum(self.checked.values())
        results = ", ".join(
            f"{self.checked[r]} {LinkHealth.Result(r).label.lower()}"
            for r in LinkHealth.Result.values
            if self.checked.get(r)
        )
        said = f"Checked {total} link(s)" + (f": {results}" if results else "") + "."
        if self.flagged:
            said += f" Flagged {len(self.flagged)} for review: {', '.join(self.flagged)}."
        if self.over_budget:
            said += f" {self.over_budget} wait for their host's budget of requests a minute."
        if self.left:
            said += " More are due: the next run goes on."
        return said


def run(
    *,
    now: datetime | None = None,
    limit: int = BATCH,
    run_seconds: float = RUN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    resolver=None,
    total_timeout: float = TIMEOUT,
) -> Run:
    """Check the links that are due, for owners the flag is on for."""
    now = now or timezone.now()
    done = Run()
    budget = health_rules.HostBudget(settings.LINK_HEALTH_PER_HOST_PER_MINUTE)
    opted: dict[int | None, bool] = {}
    started = clock()
    for link in due(now).iterator(chunk_size=200):
        if link.owner_id not in opted:
            opted[link.owner_id] = flag_is_active(as_request(link.owner), "link_health")
        if not opted[link.owner_id]:
            continue
        if sum(done.checked.values()) >= limit or clock() - started >= run_seconds:
            done.left = True
            break
        if not budget.take(health_rules.host_of(link.target), clock()):
            done.over_budget += 1
            continue
        checked = check_url(link.target, resolver=resolver, total_timeout=total_timeout)
        done.checked[checked.result] = done.checked.get(checked.result, 0) + 1
        if record(link, checked, now):
            done.flagged.append(link.key)
    return done


@task()
def check_link_health() -> str:
    try:
        said = str(run())
    finally:
        schedule_next()
    logger.info("Link health: %s", said)
    return said


def schedule_next(now: datetime | None = None) -> bool:
    """Queue the next run unless one waits; only the database queue can wait."""
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        return False
    from django_tasks_db.models import DBTaskResult  # the queue Torii runs on

    waiting = DBTaskResult.objects.filter(task_path=check_link_health.module_path, status="READY")
    if waiting.exists():
        return False
    check_link_health.using(run_after=(now or timezone.now()) + CHECK_EVERY).enqueue()
    return True


FILTERS = {  # the links list's health filter: value → label
    "reachable": "Reachable",
    "unreachable": "Unreachable",
    "redirected": "Redirects elsewhere",
    "unchecked": "Not checked yet",
}


def with_health(links, wanted: str):
    """The links list filtered by their last check (`FILTERS`); anything else: all."""
    match wanted:
        case "reachable":
            return links.filter(health__result__in=health_rules.REACHABLE)
        case "unreachable":
            return links.filter(health__result__in=UNREACHABLE)
        case "redirected":
            return links.filter(health__result=health_rules.REDIRECTED)
        case "unchecked":
            return links.filter(health__isnull=True)
    return links


def unreachable_since(link: Link) -> LinkHealth | None:
    """The link's last check when it says the destination is unreachable, else None."""
    try:
        health = link.health
    except LinkHealth.DoesNotExist:
        return None
    return None if health.reachable else health
