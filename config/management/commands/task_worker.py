"""`manage.py task_worker`: django_tasks_db's `db_worker`, which also reclaims the tasks
of workers that died.

It also starts the visit buffer's thread, which writes the visit journals of processes
that died (shortener/visits/recording.py), at start-up and every few seconds.

On start-up and then every half TASK_RECLAIM_SECONDS (at most a minute) a thread puts
tasks RUNNING for longer than the bound back to READY (config/stale_tasks.py). A name of
its own rather than the library's: a command that shadows another by app order is
replaced silently the day the order changes, and `db_worker` would then run without
reclaiming. The library's command keeps its options and its meaning.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from django_tasks_db.management.commands import db_worker

from config.stale_tasks import reclaim_stale_tasks

logger = logging.getLogger(__name__)


class ReclaimingWorker(db_worker.Worker):
    def __init__(self, *, reclaim_after: float, **options) -> None:
        super().__init__(**options)
        self.reclaim_after = reclaim_after
        self.current_task_id: str | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        # The task worker recovers dead web workers' visit journals too, at its start and
        # periodically: a quiet or stopped web server is not needed for whole stats.
        from shortener.visits.recording import buffer

        buffer.start()
        self.reclaim()
        reclaimer = threading.Thread(target=self.reclaim_periodically, daemon=True)
        reclaimer.start()
        try:
            super().run()
        finally:
            self.stopped.set()

    def run_task(self, db_task_result) -> None:
        self.current_task_id = str(db_task_result.pk)
        try:
            super().run_task(db_task_result)
        finally:
            self.current_task_id = None

    def reclaim_periodically(self) -> None:
        period = min(self.reclaim_after / 2, 60)
        while not self.stopped.wait(period):
            self.reclaim()
            close_old_connections()

    def reclaim(self) -> None:
        try:
            reclaim_stale_tasks(self.backend_name, self.reclaim_after, spare=self.current_task_id)
        except Exception:  # a locked or unreachable database: try again next period
            logger.exception("could not reclaim stale tasks")


class Command(db_worker.Command):
    help = db_worker.Command.help + ", reclaiming tasks whose worker died"

    def handle(self, **options) -> None:
        # The library's handle builds its Worker by the module's name for it and has no
        # hook to pass another; hand it ours for this call (one command, one thread), so
        # its options, reloader and signals stay the library's.
        reclaim_after = settings.TASK_RECLAIM_SECONDS

        def worker(**worker_options):
            return ReclaimingWorker(reclaim_after=reclaim_after, **worker_options)

        original, db_worker.Worker = db_worker.Worker, worker
        try:
            super().handle(**options)
        finally:
            db_worker.Worker = original
