"""The production path: the database queue and `manage.py task_worker` in another process;
deferred retries and the read_only re-check on a queue that can defer."""

from datetime import timedelta

import pytest
from django.utils import timezone
from waffle.testutils import override_switch

from shortener.events import handlers, processing
from shortener.models import EventStatus, Link, WebhookEvent
from tests.conftest import run_manage, test_database_url
from tests.webhook_delivery import deliver, make_source, payload

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
DUMMY_QUEUE = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_processed_by_the_task_worker_in_another_process(client, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DATABASE_QUEUE
    source = make_source()
    response = deliver(client, source, payload(url="https://example.com/queued"))
    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PENDING and Link.objects.count() == 0
    from shortener.events.processing import process_event

    # committed with the event (the outbound webhooks' sweep, queued by each flush, aside)
    assert DBTaskResult.objects.filter(task_path=process_event.module_path).count() == 1

    result = run_manage(
        "task_worker",
        "--batch",
        "--no-startup-delay",
        env={"DATABASE_URL": test_database_url()},
    )
    assert result.returncode == 0, result.stderr
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED, event.outcome
    assert Link.objects.get().target == "https://example.com/queued"


@pytest.mark.django_db
def test_retries_are_deferred_with_backoff_on_a_queue_that_can_defer(client, settings, monkeypatch):
    from django.tasks import default_task_backend

    settings.TASKS = DUMMY_QUEUE
    monkeypatch.setitem(handlers.HANDLERS, "link.create", lambda e, d: 1 / 0)
    deliver(client, make_source())
    event = WebhookEvent.objects.get()
    before = timezone.now()
    processing.process_event.call(event.pk)
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING and event.attempts == 1
    assert "ZeroDivisionError" in event.outcome
    queued = default_task_backend.results
    assert queued[0].task.run_after is None  # the receiver's own enqueue
    retry_at = queued[-1].task.run_after
    assert timedelta(seconds=29) < retry_at - before < timedelta(seconds=31)


@pytest.mark.django_db
def test_read_only_reschedules_the_event_a_minute_later(client, settings):
    from django.tasks import default_task_backend

    settings.TASKS = DUMMY_QUEUE
    deliver(client, make_source())
    event = WebhookEvent.objects.get()
    with override_switch("read_only", active=True):
        assert "read_only" in processing.process_event.call(event.pk)
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING and event.attempts == 0
    later = default_task_backend.results[-1].task.run_after
    assert later - timezone.now() > timedelta(seconds=50)
    assert Link.objects.count() == 0
