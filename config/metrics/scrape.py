"""GET /metrics: every process's figures added up, for the operator's Prometheus only.

A bearer token (METRICS_TOKEN) compared in constant time; unset, the path does not exist
(404); a request without it or with another gets 401 and not one figure. The counters and
histograms come from the files of every process in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's `MultiProcessCollector`); what is a state rather than a count (the
task queue, the visit journal) is read at scrape time, by the process that answers.
"""

import hmac
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from config.metrics.counting import tally

logger = logging.getLogger(__name__)


class TaskQueue(Collector):
    """The database task queue: tasks waiting (due now, or scheduled for later) and how
    long the oldest due one has waited. Two queries on the queue's partial index."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        never = get_date_max()  # django-tasks-db's run_after for "as soon as possible"
        waiting = DBTaskResult.objects.filter(status="READY")
        try:
            due = waiting.filter(Q(run_after=never) | Q(run_after__lte=now))
            depth_due = due.count()
            depth_later = waiting.count() - depth_due
            oldest = due.aggregate(
                queued=Min("enqueued_at", filter=Q(run_after=never)),
                scheduled=Min("run_after", filter=~Q(run_after=never)),
            )
        except DatabaseError as error:  # the rest of the figures still answer
            logger.warning("Task queue figures left out of /metrics: %s", error)
            return
        depth = GaugeMetricFamily(
            "torii_task_queue_depth",
            "Tasks waiting in the database queue: due now, or scheduled for later.",
            labels=["state"],
        )
        depth.add_metric(["due"], depth_due)
        depth.add_metric(["scheduled"], depth_later)
        yield depth
        since = [moment for moment in oldest.values() if moment is not None]
        age = (now - min(since)).total_seconds() if since else 0.0
        yield GaugeMetricFamily(
            "torii_task_oldest_age_seconds",
            "How long the oldest task that is due has waited for the task worker (0: none).",
            value=max(age, 0.0),
        )


class VisitJournal(Collector):
    """The visit journal's files (VISIT_JOURNAL_DIR): what is buffered and not yet
    written, and what dead processes left for a living one to write."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        directory = settings.VISIT_JOURNAL_DIR
        size = files = 0
        if directory is not None:
            for entry in os.scandir(directory):
                try:
                    if entry.is_file():
                        size += entry.stat().st_size
                        files += 1
                except FileNotFoundError:  # written and removed while we looked
                    continue
        yield GaugeMetricFamily(
            "torii_visit_journal_bytes",
            "Bytes in the visit journal's files (visits not yet written).",
            value=size,
        )
        yield GaugeMetricFamily(
            "torii_visit_journal_files", "Files in the visit journal's directory.", value=files
        )


def exposition() -> bytes:
    """Every figure in Prometheus's text format."""
    tally.publish()  # this process's last second; the others' is in the next scrape
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    registry.register(TaskQueue())
    registry.register(VisitJournal())
    return generate_latest(registry)


def authorised(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not authorised(request, token):
        response = HttpResponse(
            "Send the metrics token as Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def reset(directory: Path) -> int:
    """Empty the metrics directory before the server starts (prometheus_client's
    multi-process documentation): a new run's counters start at zero, and a new process
    that happens to get a past one's pid does not continue its figures. How many files."""
    removed = 0
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
