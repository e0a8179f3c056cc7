"""The browser's bulk create as a background task: rows through the link core in small
chunks, the job's progress and each row's result saved after every chunk for the page.

The view checks the input (readable, at most `MAX_ROWS` rows) before it enqueues, so a
job fails only on what it cannot foresee, and then says so on the page. The same rows
imported twice create nothing new (slug and target given), so a task a worker runs
again after a crash repeats no link.
"""

import io
import logging
from itertools import islice

from django.contrib.auth import get_user_model
from django.tasks import task
from django.utils import timezone

from shortener.links.models import Link
from shortener.portability import formats, importing
from shortener.portability.models import BulkJob, BulkStatus
from shortener.portability.reading import Unreadable

logger = logging.getLogger(__name__)

MAX_ROWS = 1000
MAX_BYTES = 2 * 1024 * 1024
PROGRESS_EVERY = 50  # rows: the page's bar moves while a thousand rows go in
BROWSER_FORMATS = ("lines", "torii", "bitly", "yourls", "shlink", "kutt")


def count_rows(source: bytes, fmt: formats.Format) -> int:
    """How many rows `source` holds (reading it all; at most MAX_BYTES); `Unreadable`
    if the file as a whole cannot be read, or `TooMany` past MAX_ROWS."""
    rows = 0
    for _ in importing.rows_of(io.BytesIO(source), fmt):
        rows += 1
        if rows > MAX_ROWS:
            raise Unreadable(
                f"That is more than {MAX_ROWS:,} rows. Split it, or send it through the "
                "API's batch endpoint or the import_links command."
            )
    if rows == 0:
        raise Unreadable("There are no links in it.")
    return rows


def enqueue(job: BulkJob) -> None:
    process_bulk.enqueue(job.pk)


@task()
def process_bulk(job_id: int) -> str:
    job = BulkJob.objects.filter(pk=job_id).first()
    if job is None or job.finished:
        return "nothing to do"
    # A job claimed again after a worker died goes on after the rows it recorded: they
    # were committed together with their links (importing.import_rows).
    results: list[dict] = list(job.results) if job.status == BulkStatus.RUNNING else []
    job.status, job.done = BulkStatus.RUNNING, len(results)
    job.save(update_fields=["status", "done"])
    fmt = formats.FORMATS[job.format]

    def report(result: importing.RowResult) -> None:
        results.append(
            {
                "row": result.number,
                "status": result.status,
                "slug": result.slug,
                "target": result.target,
                "reason": result.reason,
                "link": result.link_id,
            }
        )

    def progress() -> None:
        BulkJob.objects.filter(pk=job.pk).update(done=len(results), results=results)

    try:
        owner = get_user_model().objects.get(pk=job.owner_id)
        importing.import_rows(
            islice(importing.rows_of(io.BytesIO(bytes(job.source)), fmt), len(results), None),
            fmt,
            actor=owner,
            restoring=job.format != "lines",
            report=report,
            chunk_size=PROGRESS_EVERY,
            after_chunk=progress,
        )
    except Unreadable as error:
        return finish(job, BulkStatus.FAILED, results, message=str(error))
    except Exception as error:
        logger.exception("bulk create %s failed", job_id)
        return finish(
            job,
            BulkStatus.FAILED,
            results,
            message=f"The import stopped at an unexpected error ({type(error).__name__}); "
            "the rows below were done. Run it again: rows already created are kept.",
        )
    job.created = sum(row["status"] == importing.CREATED for row in results)
    job.refused = sum(row["status"] == importing.REFUSED for row in results)
    return finish(job, BulkStatus.DONE, results)


def finish(job: BulkJob, status: str, results: list[dict], message: str = "") -> str:
    job.status, job.results, job.done, job.message = status, results, len(results), message
    job.finished_at = timezone.now()
    job.save()
    return message or f"{job.created} created, {job.refused} refused"


def shown_results(job: BulkJob) -> list[dict]:
    """The job's rows, each made or found link's with its short URL (`Link.short_url`, on
    the link's own domain, whatever host the page is asked on) and its key for the
    detail page, in one query. Rows recorded before the link's id was kept are matched
    by slug among the owner's links, the oldest first."""
    rows = [{**row, "short_url": "", "key": ""} for row in job.results]
    linked = [row for row in rows if row["status"] != importing.REFUSED and row["slug"]]
    ids = {row["link"] for row in linked if row.get("link")}
    slugs = {row["slug"] for row in linked if not row.get("link")}
    if not linked:
        return rows
    owned = Link.objects.filter(owner_id=job.owner_id).select_related("domain")
    by_id, by_slug = {}, {}
    for link in (owned.filter(pk__in=ids) | owned.filter(slug__in=slugs)).order_by("pk"):
        by_id[link.pk] = link
        by_slug.setdefault(link.slug, link)
    for row in linked:
        link = by_id.get(row["link"]) if row.get("link") else by_slug.get(row["slug"])
        if link is not None:
            row["short_url"], row["key"] = link.short_url, link.key
    return rows
