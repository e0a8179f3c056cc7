"""Reclaiming tasks whose worker died: RUNNING for longer than the bound means lost.

django_tasks_db marks a task RUNNING when a worker claims it and keeps no heartbeat, so
a worker killed mid-task (OOM, SIGKILL, a lost machine) leaves it RUNNING for ever. A
task RUNNING for longer than TASK_RECLAIM_SECONDS is put back to READY for any worker.
Tasks must therefore be idempotent: one that really runs longer than the bound is run a
second time beside the first (webhook events are: processing.py checks the event's
status in the transaction that acts on it).
"""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# A task that has killed this many workers is failed rather than handed to the next one.
MAX_CLAIMS = 3


def reclaim_stale_tasks(
    backend_name: str, older_than: float, *, spare: str | None = None
) -> tuple[int, int]:
    """Put tasks RUNNING for more than `older_than` seconds back to READY.

    `spare` is the id of a task the calling worker is running itself, so it is alive.
    A task claimed MAX_CLAIMS times is marked FAILED instead. Returns (ready, failed).
    """
    cutoff = timezone.now() - timedelta(seconds=older_than)
    stale = DBTaskResult.objects.running().filter(
        Q(started_at__lt=cutoff) | Q(started_at=None), backend_name=backend_name
    )
    if spare is not None:
        stale = stale.exclude(pk=spare)
    ready = failed = 0
    for task_id, started_at, worker_ids in stale.values_list("id", "started_at", "worker_ids"):
        # Conditional on what was read: another worker may reclaim or finish it meanwhile.
        row = DBTaskResult.objects.filter(
            pk=task_id, status=TaskResultStatus.RUNNING, started_at=started_at
        )
        if len(worker_ids) >= MAX_CLAIMS:
            failed += row.update(
                status=TaskResultStatus.FAILED,
                finished_at=timezone.now(),
                exception_class_path="config.stale_tasks.WorkerLost",
                traceback=f"The worker died while running this task, {len(worker_ids)} times "
                f"(workers {', '.join(worker_ids)}); not tried again.",
            )
        else:
            ready += row.update(status=TaskResultStatus.READY, started_at=None)
    if ready or failed:
        logger.warning(
            "Reclaimed tasks of dead workers: %d ready again, %d failed after %d claims",
            ready,
            failed,
            MAX_CLAIMS,
        )
    return ready, failed
