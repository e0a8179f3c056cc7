"""Retention: raw visits older than VISIT_RETENTION_DAYS deleted by a daily task and by
`manage.py prune_visits`, in batches; the rollups stay (and are made to cover what goes
first), so the link's page, the API and the site's page say the same before and after."""

import io
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener.models import DailyStat, DailyVisitor, PrunedVisits, Visit
from shortener.visits import rebuild, retention
from tests.api_client import ApiClient
from tests.conftest import flush_visits, make_link, make_user, make_visits
from tests.test_rollups import send

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)  # the injected clock of the prune


def page(client, name: str, *args, **params) -> str:
    """A stats page with what changes between two reads of the same numbers taken out:
    when it was drawn, the form tokens and the script nonces."""
    with override_flag("link_analytics", active=True):
        response = client.get(reverse(name, args=args), params)
    assert response.status_code == 200
    body = response.content.decode()
    body = re.sub(r"<time [^>]*>[^<]*</time>", "", body)
    body = re.sub(r'nonce="[^"]*"', "", body)
    return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]*"', "", body)


def everything_shown(client, api, links, period) -> dict:
    shown = {"site": page(client, "site-stats", **period)}
    for link in links:
        shown[link.slug] = page(client, "link-stats", link.slug, **period)
        with override_flag("link_analytics", active=True), override_flag("api_v1", active=True):
            answer = api.get(f"/api/v1/links/{link.slug}/stats", **period)
        assert answer.status_code == 200
        body = answer.json()
        body["_links"].pop("self")
        shown[f"api {link.slug}"] = body
    return shown


def test_the_stats_are_the_same_before_and_after_a_prune(client, monkeypatch):
    staff = make_user("stan", is_staff=True)
    client.force_login(staff)
    api = ApiClient(client, user=staff)
    links = [make_link(owner=staff, slug=f"l{n}") for n in range(3)]
    send([link.pk for link in links], 300, random.Random(6), monkeypatch)  # up to 5 days back
    assert flush_visits() == 300
    today = timezone.now().date()
    period = {"from": (today - timedelta(days=8)).isoformat(), "to": today.isoformat()}
    before = everything_shown(client, api, links, period)
    assert "300" in before["site"]

    kept_from = retention.first_kept_day(2, timezone.now())
    old = Visit.objects.filter(at__lt=datetime.combine(kept_from, datetime.min.time(), UTC))
    expected = old.count()
    assert 0 < expected < 300
    pruned = retention.prune(kept_from, batch=7)
    assert pruned.visits == expected and pruned.rolled_up == 0

    assert not old.exists() and Visit.objects.count() == 300 - expected
    assert not DailyVisitor.objects.filter(day__lt=kept_from).exists()
    assert everything_shown(client, api, links, period) == before
    # A rebuild afterwards leaves the pruned days alone, and finds the rest exact.
    call_command("rollup_visits", stdout=io.StringIO())
    assert everything_shown(client, api, links, period) == before
    assert rebuild.check(rebuild.Scope()) == []


def test_visits_the_rollups_do_not_count_are_rolled_up_before_they_go(client):
    link = make_link(slug="bare")
    old_day = (NOW - timedelta(days=40)).date()
    Visit.objects.bulk_create(  # written around the rollups, as an old restore could
        Visit(link=link, at=NOW - timedelta(days=40), visitor="x", browser="Firefox")
        for _ in range(4)
    )
    assert not DailyStat.objects.filter(link=link).exists()
    pruned = retention.prune(retention.first_kept_day(30, NOW), now=NOW)
    assert (pruned.visits, pruned.rolled_up) == (4, 1)
    assert DailyStat.objects.get(link=link, day=old_day).clicks == 4
    assert not Visit.objects.exists()
    assert PrunedVisits.objects.get().before == retention.first_kept_day(30, NOW)
    assert PrunedVisits.objects.get().deleted == 4


def test_a_dry_run_says_what_would_go_and_changes_nothing():
    link = make_link()
    make_visits(link, 3, at=NOW - timedelta(days=10))
    make_visits(link, 2, at=NOW)
    pruned = retention.prune(retention.first_kept_day(7, NOW), dry_run=True, now=NOW)
    assert pruned.visits == 3
    assert "Would delete 3 raw visit(s) from before 2026-12-02" in pruned.sentence(dry_run=True)
    assert Visit.objects.count() == 5 and not PrunedVisits.objects.exists()


def test_the_command_deletes_in_batches_and_says_how_many(settings, capsys):
    link = make_link()
    make_visits(link, 12, days_ago=40)
    make_visits(link, 2)
    settings.VISIT_RETENTION_DAYS = 30
    out = io.StringIO()
    call_command("prune_visits", "--dry-run", stdout=out)
    assert "Would delete 12 raw visit(s)" in out.getvalue() and Visit.objects.count() == 14
    call_command("prune_visits", "--batch", "5", stdout=out)
    assert "Deleted 12 raw visit(s) from before" in out.getvalue()
    assert Visit.objects.count() == 2
    assert (
        DailyStat.objects.get(link=link, day=(timezone.now() - timedelta(days=40)).date()).clicks
        == 12
    )


@pytest.mark.parametrize(
    ("args", "setting", "sentence"),
    [
        ((), None, "VISIT_RETENTION_DAYS is not set, so visits are kept forever"),
        (("--days", "0"), None, "--days must be at least 1"),
        (("--days", "-3"), 30, "--days must be at least 1"),
        (("--batch", "0"), 30, "--batch must be at least 1."),
    ],
)
def test_the_command_refuses_what_it_cannot_do_and_deletes_nothing(
    settings, args, setting, sentence
):
    make_visits(make_link(), 3, days_ago=400)
    settings.VISIT_RETENTION_DAYS = setting
    with pytest.raises(CommandError, match=re.escape(sentence)):
        call_command("prune_visits", *args, stdout=io.StringIO())
    assert Visit.objects.count() == 3 and not PrunedVisits.objects.exists()


def test_a_pruned_day_is_never_rebuilt_from_the_few_visits_left_of_it():
    """A visit of a day already pruned that the rollups do not count (it cannot come from
    a flush, which writes both at once) is left, not rolled up over the day's counts."""
    link = make_link()
    make_visits(link, 5, at=NOW - timedelta(days=40))
    retention.prune(retention.first_kept_day(30, NOW), now=NOW)
    day = (NOW - timedelta(days=40)).date()
    Visit.objects.bulk_create(
        Visit(link=link, at=NOW - timedelta(days=40), visitor="late") for _ in range(6)
    )
    pruned = retention.prune(retention.first_kept_day(30, NOW), now=NOW)
    assert pruned.visits == 0 and pruned.left == [(link.pk, day)]
    assert "kept the visits of 1 link(s)" in pruned.sentence(dry_run=False)
    assert DailyStat.objects.get(link=link, day=day).clicks == 5


def test_one_prune_waits_in_the_queue_while_retention_is_on(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    settings.VISIT_RETENTION_DAYS = None
    assert not retention.schedule_next(NOW)
    settings.VISIT_RETENTION_DAYS = 30
    assert retention.schedule_next(NOW)
    assert not retention.schedule_next(NOW)
    waiting = DBTaskResult.objects.get(task_path=retention.daily_prune.module_path)
    assert waiting.run_after == datetime(2026, 12, 9, 3, 30, tzinfo=UTC)


def test_the_daily_task_prunes_with_the_setting_and_queues_the_next(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    link = make_link()
    make_visits(link, 3, days_ago=100)
    make_visits(link, 1)
    settings.VISIT_RETENTION_DAYS = 90
    result = retention.daily_prune.call()
    assert result.startswith("Deleted 3 raw visit(s)")
    assert Visit.objects.count() == 1
    assert DBTaskResult.objects.filter(task_path=retention.daily_prune.module_path).count() == 1
    settings.VISIT_RETENTION_DAYS = None
    assert retention.daily_prune.call() == "visits are kept forever"
