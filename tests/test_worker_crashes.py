"""A task worker killed mid-task: its task is reclaimed within the bound, the event
processed exactly once (config/stale_tasks.py, config/management/commands/task_worker.py)."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from config.stale_tasks import MAX_CLAIMS, reclaim_stale_tasks
from shortener.events import processing
from shortener.models import EventStatus, Link, WebhookEvent
from tests.conftest import ROOT, run_manage, test_database_url
from tests.webhook_delivery import deliver, make_source, payload

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RECLAIM_SECONDS = 2


def queued_task(status="RUNNING", started_seconds_ago=None, claims=1):
    """A process_event task in the database queue, in the given state."""
    from django_tasks_db.models import DBTaskResult

    result = processing.process_event.enqueue(1)
    started_at = (
        None
        if started_seconds_ago is None
        else timezone.now() - timedelta(seconds=started_seconds_ago)
    )
    DBTaskResult.objects.filter(pk=result.id).update(
        status=status, started_at=started_at, worker_ids=[f"w{n}" for n in range(claims)]
    )
    return DBTaskResult.objects.get(pk=result.id)


@pytest.mark.django_db
def test_only_tasks_running_past_the_bound_are_reclaimed(settings):
    settings.TASKS = DATABASE_QUEUE
    lost = queued_task(started_seconds_ago=301)
    young = queued_task(started_seconds_ago=10)
    own = queued_task(started_seconds_ago=999)  # the caller's own: its worker is alive
    done = queued_task(status="SUCCESSFUL", started_seconds_ago=999)
    waiting = queued_task(status="READY")
    killer = queued_task(started_seconds_ago=301, claims=MAX_CLAIMS)

    assert reclaim_stale_tasks("default", 300, spare=str(own.pk)) == (1, 1)

    def status(task):
        task.refresh_from_db()
        return task.status

    assert status(lost) == "READY" and lost.started_at is None
    assert lost.worker_ids == ["w0"]  # who claimed it stays on record
    assert [status(t) for t in (young, own, done, waiting)] == [
        "RUNNING",
        "RUNNING",
        "SUCCESSFUL",
        "READY",
    ]
    assert status(killer) == "FAILED"
    assert f"died while running this task, {MAX_CLAIMS} times" in killer.traceback
    assert reclaim_stale_tasks("default", 300) == (1, 0)  # spared only by its own worker
    assert status(own) == "READY" and status(young) == "RUNNING"


@pytest.mark.parametrize("value", ["soon", "0"])
def test_start_up_stops_on_a_bad_reclaim_bound(value):
    result = run_manage("check", env={"TASK_RECLAIM_SECONDS": value})
    assert result.returncode != 0 and "TASK_RECLAIM_SECONDS" in result.stderr


def worker_env() -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "TASK_RECLAIM_SECONDS": str(RECLAIM_SECONDS),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def start(*command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, seconds: float, what: str, process=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"worker exited while waiting for {what}: {process.stderr.read()}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within {seconds} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["handler", "finished"])
def test_a_worker_killed_mid_task_loses_no_event_and_repeats_none(
    client, settings, tmp_path, point
):
    """Killed inside the handler (nothing committed) or after the event committed but
    before the task was marked done: a second worker finishes it, one link in the end."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DATABASE_QUEUE

    def event_tasks():  # not the outbound webhooks' sweep that each migrate (flush) queues
        from shortener.events.processing import process_event

        return DBTaskResult.objects.filter(task_path=process_event.module_path)

    source = make_source()
    assert deliver(client, source, payload(url="https://example.com/kept")).status_code == 202
    event = WebhookEvent.objects.get()

    doomed = start(
        "-m", "tests.blocking_worker", point, str(tmp_path), "--no-startup-delay", "--interval=0.1"
    )
    try:
        wait_for((tmp_path / "started").exists, 30, "task started", doomed)
        claimed = event_tasks().get()
        assert claimed.status == "RUNNING"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        doomed.kill()
    killed_at = time.monotonic()
    event.refresh_from_db()
    expected_after_kill = EventStatus.PENDING if point == "handler" else EventStatus.PROCESSED
    assert event.status == expected_after_kill
    assert event_tasks().get().status == "RUNNING"  # what the library leaves

    rescuer = start("manage.py", "task_worker", "--no-startup-delay", "--interval=0.1")
    try:
        # Reclaimed once the task has run RECLAIM_SECONDS, checked every half of it;
        # the rest is the new worker's start-up (seconds on a loaded machine).
        wait_for(
            lambda: event_tasks().get().status == "SUCCESSFUL",
            RECLAIM_SECONDS * 1.5 + 30,
            "reclaimed task finished",
            rescuer,
        )
        took = time.monotonic() - killed_at
    finally:
        stop(rescuer)

    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED, event.outcome
    assert event.attempts == 1
    assert Link.objects.get().target == "https://example.com/kept"  # exactly one link
    task = event_tasks().get()
    assert len(task.worker_ids) == 2  # the dead worker's claim, then the rescuer's
    # Not taken from the dead worker before the bound: a live one would have kept it.
    assert task.started_at - claimed.started_at >= timedelta(seconds=RECLAIM_SECONDS)
    if point == "finished":
        assert task.return_value == "not pending: nothing to do"
    print(f"{point}: finished {took:.1f} s after the kill")


@pytest.mark.django_db
@pytest.mark.parametrize("late", [processing.record_refusal, processing.record_failure])
def test_a_late_run_does_not_overwrite_an_event_another_run_settled(client, late):
    # Two runs of one task (the slow original and its reclaimed copy): the one that
    # fails last must not turn the processed event into rejected, or count an attempt.
    deliver(client, make_source(), payload(url="https://example.com/once"))
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PROCESSED
    assert late(event.pk, "slug taken") == "not pending: nothing to do"
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    assert event.outcome != "slug taken"
