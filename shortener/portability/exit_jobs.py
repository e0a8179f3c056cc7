"""The way out for many links from the browser: past EXPORT_DIRECT_MAX live links, a file of
redirects (shortener/portability/exits.py) is written by the task worker into EXPORT_DIR
while a job page shows how far it got, then offered for download for a day.

A task a worker runs again after a crash writes the file again from the start (into a
`.partial` file, moved into place when whole), so a download is never half a file.
Each job, as it starts, removes the jobs and files finished more than `KEEP` ago.
"""

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.tasks import task
from django.utils import timezone

from shortener.portability import exits, export
from shortener.portability.models import BulkStatus, ExitJob

logger = logging.getLogger(__name__)

KEEP = timedelta(days=1)
PROGRESS_EVERY = 2000  # links: the export's own chunk, so the bar moves a chunk at a time


def path_of(job: ExitJob) -> Path:
    return Path(settings.EXPORT_DIR) / f"exit-{job.pk}-{exits.FILENAMES[job.kind]}"


def start(owner, kind: str, choices: dict[str, str], total: int) -> ExitJob:
    job = ExitJob.objects.create(owner=owner, kind=kind, choices=choices, total=total)
    write_exit.enqueue(job.pk)
    return job


def counted(records: Iterable[Any], every: int, report: Callable[[int], None]) -> Iterator[Any]:
    """`records` passed through, `report(how many so far)` called every `every` of them."""
    done = 0
    for record in records:
        yield record
        done += 1
        if done % every == 0:
            report(done)
    report(done)


@task()
def write_exit(job_id: int) -> str:
    prune()
    job = ExitJob.objects.filter(pk=job_id).select_related("owner").first()
    if job is None or job.finished:
        return "nothing to do"
    job.status, job.done = BulkStatus.RUNNING, 0
    job.save(update_fields=["status", "done"])

    def progress(done: int) -> None:
        ExitJob.objects.filter(pk=job.pk).update(done=done)

    path = path_of(job)
    partial = path.with_name(path.name + ".partial")
    try:
        choices = job.choices
        links = counted(export.records(export.listed(job.owner, choices)), PROGRESS_EVERY, progress)
        host = choices["host"]
        result = exits.plan(links, choices["unsupported"], exits.domain_of(job.kind, host))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as handle:
            exits.write(job.kind, result, host, handle)
        os.replace(partial, path)
    except Exception as error:
        logger.exception("redirects export %s failed", job_id)
        partial.unlink(missing_ok=True)
        job.status = BulkStatus.FAILED
        job.message = (
            f"The file could not be written ({type(error).__name__}). Ask again; if it "
            "fails again, staff will find the reason in the server's log."
        )
    else:
        job.status = BulkStatus.DONE
        job.written, job.left_out, job.plain = (
            len(result.entries),
            len(result.left_out),
            len(result.plain),
        )
        job.size = path.stat().st_size
    job.done = ExitJob.objects.values_list("done", flat=True).get(pk=job.pk)
    job.finished_at = timezone.now()
    job.save()
    return job.message or f"{job.written} written, {job.left_out} left out, {job.plain} plain"


def prune(now: datetime | None = None) -> int:
    """Remove the jobs finished more than KEEP before `now`, and their files."""
    cutoff = (now or timezone.now()) - KEEP
    old = list(
        ExitJob.objects.filter(
            status__in=[BulkStatus.DONE, BulkStatus.FAILED], finished_at__lt=cutoff
        )
    )
    for job in old:
        path_of(job).unlink(missing_ok=True)
    ExitJob.objects.filter(pk__in=[job.pk for job in old]).delete()
    return len(old)
