"""The daily backup: a task the task worker runs once a day while BACKUP_DIR is set, into
that folder, keeping the newest BACKUP_KEEP files; its last result is kept beside them
(`last-backup.json`) and shown to staff on the admin's front page.

The task schedules its next run when it ends, and every `migrate` (each `make run` start)
schedules one when none is waiting, so the chain survives a lost task."""

import json
import logging
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.tasks import task
from django.utils import timezone

from shortener.portability import backup

logger = logging.getLogger(__name__)
LAST = "last-backup.json"
PREFIX = "torii-"
AT = time(3, 0, tzinfo=UTC)  # the quiet hour, in UTC


def backup_into(folder: Path, keep: int, now: datetime | None = None) -> dict:
    """One backup into `folder`, the oldest beyond `keep` removed; the result recorded."""
    now = now or timezone.now()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PREFIX}{now:%Y%m%d-%H%M%S}.zip"
    record = {"at": now.isoformat(), "file": path.name}
    try:
        result = backup.backup(path)
    except Exception as error:
        logger.exception("The scheduled backup into %s failed", folder)
        record |= {"ok": False, "message": f"{type(error).__name__}: {error}"}
    else:
        record |= {
            "ok": True,
            "bytes": path.stat().st_size,
            "rows": result.rows,
            "message": " ".join(result.notes),
        }
        for old in sorted(folder.glob(f"{PREFIX}*.zip"))[:-keep]:
            old.unlink()
    partial = folder / (LAST + ".partial")
    partial.write_text(json.dumps(record))
    os.replace(partial, folder / LAST)
    return record


def last_result(folder: Path | None = None) -> dict | None:
    folder = folder or settings.BACKUP_DIR
    if not folder:
        return None
    try:
        return json.loads((Path(folder) / LAST).read_text())
    except (OSError, ValueError):
        return None


def next_run(now: datetime) -> datetime:
    today = datetime.combine(now.date(), AT)
    return today if today > now else today + timedelta(days=1)


@task()
def daily_backup() -> str:
    try:
        record = backup_into(settings.BACKUP_DIR, settings.BACKUP_KEEP)
    finally:
        schedule_next()
    return "backed up" if record["ok"] else record["message"]


def schedule_next(now: datetime | None = None) -> bool:
    """Queue the next daily backup unless one is waiting (or backups are off)."""
    if not settings.BACKUP_DIR:
        return False
    if "django_tasks_db" in settings.TASKS["default"]["BACKEND"]:
        from django_tasks_db.models import DBTaskResult  # the queue Torii runs on

        waiting = DBTaskResult.objects.filter(task_path=daily_backup.module_path, status="READY")
        if waiting.exists():
            return False
    daily_backup.using(run_after=next_run(now or timezone.now())).enqueue()
    return True
