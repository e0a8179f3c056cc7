"""Raw visits kept VISIT_RETENTION_DAYS days (unset: forever), then deleted; the rollups stay.

Days are whole UTC days: with 30, today and the 29 days before keep their raw visits and
every older day lives only in the daily rollups (the link's and the site's), so the
stats pages, the API and the site's stats say the same before and after. The visitor
rows behind the old days' unique visitors (DailyVisitor) go with the visits: a day's
count of them is in its DailyStat already.

`prune()` first makes sure the rollups cover what it deletes: a link-day whose rollup
counts fewer clicks than its raw visits (visits written around the flush, say, by a
restore of a backup made before rollups) is rebuilt from them first. Then it moves the
mark (`PrunedVisits`) that tells `rollup_visits` to leave those days alone, and deletes
in short transactions of `batch` rows, one link at a time through its (link, at)
index, so a flush waits for at most one batch. Run daily by the task worker
(`daily_prune`) and by `manage.py prune_visits`.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.db.models.functions import TruncDate
from django.tasks import task
from django.utils import timezone

from shortener.links.models import Link
from shortener.visits import rebuild
from shortener.visits.models import DailyStat, DailyVisitor, PrunedVisits, Visit

logger = logging.getLogger(__name__)
BATCH = 5000  # rows a transaction deletes: a flush waits for one batch at most
LINKS_PER_READ = 1000
AT = time(3, 30, tzinfo=UTC)  # after the daily backup (shortener/portability/schedule.py)


def first_kept_day(days: int, now: datetime) -> date:
    """The oldest UTC day whose raw visits stay: `days` days, today included."""
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


@dataclass
class Pruned:
    before: date  # raw visits of earlier days are (or, in a dry run, would be) deleted
    visits: int = 0
    rolled_up: int = 0  # link-days rebuilt from their raw visits first
    left: list[tuple[int, date]] = field(default_factory=list)  # (link, day) not covered

    def sentence(self, dry_run: bool) -> str:
        did = "Would delete" if dry_run else "Deleted"
        text = f"{did} {self.visits} raw visit(s) from before {self.before.isoformat()}"
        if self.rolled_up:
            rebuilt = "would be" if dry_run else "were"
            text += f"; {self.rolled_up} link-day(s) {rebuilt} rolled up from them first"
        if self.left:
            text += (
                f"; kept the visits of {len({pk for pk, _ in self.left})} link(s) whose "
                "rollups count fewer clicks on days already pruned"
            )
        return text + ". The daily rollups keep every day's counts."


def links_in_order():
    last = 0
    while True:
        ids = list(
            Link.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:LINKS_PER_READ]
        )
        yield from ids
        if len(ids) < LINKS_PER_READ:
            return
        last = ids[-1]


def old_visits(link_id: int, before: date):
    return Visit.objects.filter(link_id=link_id, at__lt=datetime.combine(before, time(), UTC))


def uncovered(link_id: int, before: date) -> dict[date, int]:
    """The link's days before `before` whose rollup counts fewer clicks than their raw
    visits, and how many raw visits each has; {} when the rollups cover them all."""
    raw = dict(
        old_visits(link_id, before)
        .annotate(day=TruncDate("at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    if not raw:
        return {}
    stored = dict(
        DailyStat.objects.filter(link_id=link_id, day__lt=before).values_list("day", "clicks")
    )
    return {day: n for day, n in raw.items() if stored.get(day, 0) < n}


def prune(
    before: date,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Pruned:
    """Delete the raw visits of UTC days before `before` (the rollups first made to cover
    them); `progress(deleted)` is told after each batch. A dry run changes nothing and
    says what would go."""
    done = Pruned(before)
    marked = PrunedVisits.objects.filter(pk=1).first()
    covered_since = marked.before if marked else None
    links = []
    for link_id in links_in_order():
        short = uncovered(link_id, before)
        if any(covered_since is not None and day < covered_since for day in short):
            # Its raw visits of a pruned day are all that is left of that day: a rebuild
            # would lose the rest. They stay, and the sentence says so.
            done.left += [(link_id, day) for day in sorted(short)]
            continue
        done.rolled_up += len(short)
        if short and not dry_run:
            for day in sorted(short):
                rebuild.rebuild_locked(rebuild.Scope((link_id,), day, day))
        links.append(link_id)
    if dry_run:
        for link_id in links:
            done.visits += old_visits(link_id, before).count()
            if progress:
                progress(done.visits)
        return done
    # The mark moves before anything is deleted: a rebuild from here on leaves these days.
    if covered_since is None or covered_since < before:
        PrunedVisits.objects.update_or_create(
            pk=1, defaults={"before": before, "at": now or timezone.now()}
        )
    for link_id in links:
        while True:
            with transaction.atomic():
                ids = list(old_visits(link_id, before).values_list("pk", flat=True)[:batch])
                if ids:
                    Visit.objects.filter(pk__in=ids).delete()
            done.visits += len(ids)
            if progress and ids:
                progress(done.visits)
            if len(ids) < batch:
                break
        with transaction.atomic():
            DailyVisitor.objects.filter(link_id=link_id, day__lt=before).delete()
    PrunedVisits.objects.filter(pk=1).update(deleted=F("deleted") + done.visits)
    return done


@task()
def daily_prune() -> str:
    try:
        days = settings.VISIT_RETENTION_DAYS
        if not days:
            return "visits are kept forever"
        now = timezone.now()
        pruned = prune(first_kept_day(days, now), now=now)
        logger.info("%s", pruned.sentence(dry_run=False))
        return pruned.sentence(dry_run=False)
    finally:
        schedule_next()


def next_run(now: datetime) -> datetime:
    today = datetime.combine(now.date(), AT)
    return today if today > now else today + timedelta(days=1)


def schedule_next(now: datetime | None = None) -> bool:
    """Queue the next daily prune unless one is waiting (or visits are kept forever)."""
    if not settings.VISIT_RETENTION_DAYS:
        return False
    if "django_tasks_db" in settings.TASKS["default"]["BACKEND"]:
        from django_tasks_db.models import DBTaskResult  # the queue Torii runs on

        waiting = DBTaskResult.objects.filter(task_path=daily_prune.module_path, status="READY")
        if waiting.exists():
            return False
    daily_prune.using(run_after=next_run(now or timezone.now())).enqueue()
    return True
