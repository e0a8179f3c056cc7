"""The daily backup: into BACKUP_DIR, the newest BACKUP_KEEP kept, its last result on the
admin's front page, and always one run waiting in the task queue while it is on."""

from datetime import UTC, datetime

import pytest

from shortener.portability import schedule
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_backups_keep_the_newest_and_record_the_last_result(tmp_path):
    make_link(slug="keepme")
    for hour in range(4):
        record = schedule.backup_into(tmp_path, keep=2, now=datetime(2026, 12, 1, hour, tzinfo=UTC))
        assert record["ok"] and record["rows"] > 0
    assert sorted(p.name for p in tmp_path.glob("torii-*.zip")) == [
        "torii-20261201-020000.zip",
        "torii-20261201-030000.zip",
    ]
    assert schedule.last_result(tmp_path)["file"] == "torii-20261201-030000.zip"


def test_a_failed_backup_is_recorded_and_said_to_staff(tmp_path, settings, client, monkeypatch):
    settings.BACKUP_DIR = tmp_path

    def broken(path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(schedule.backup, "backup", broken)
    record = schedule.backup_into(tmp_path, keep=2)
    assert not record["ok"] and "No space left" in record["message"]
    make_user("root", is_staff=True, is_superuser=True)
    client.login(username="root", password="correct-horse-battery")
    page = client.get("/admin/").content.decode()
    assert "The last backup failed" in page and "No space left on device" in page


def test_staff_are_told_when_daily_backups_are_off(settings, client):
    settings.BACKUP_DIR = None
    make_user("root", is_staff=True, is_superuser=True)
    client.login(username="root", password="correct-horse-battery")
    assert "Daily backups are off" in client.get("/admin/").content.decode()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 1, 1, 0, tzinfo=UTC), datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), datetime(2026, 12, 2, 3, 0, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 3, 0, tzinfo=UTC)),
    ],
)
def test_the_next_run_is_the_next_quiet_hour(now, expected):
    assert schedule.next_run(now) == expected


def test_one_run_waits_in_the_queue_however_often_it_is_scheduled(settings, tmp_path):
    from django_tasks_db.models import DBTaskResult

    settings.BACKUP_DIR = tmp_path
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    assert schedule.schedule_next(datetime(2026, 12, 1, 1, tzinfo=UTC))
    assert not schedule.schedule_next(datetime(2026, 12, 1, 2, tzinfo=UTC))
    waiting = DBTaskResult.objects.get(task_path=schedule.daily_backup.module_path)
    assert waiting.run_after == datetime(2026, 12, 1, 3, tzinfo=UTC)
    settings.BACKUP_DIR = None
    assert not schedule.schedule_next()
