"""Daily rollups: kept exact by every flush, rebuilt and checked by `rollup_visits`."""

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import QuerySet

from shortener.models import DailyCount, DailyStat, DailyVisitor, Link, Visit
from shortener.visits import rebuild, recording, rollups
from shortener.visits.recording import MAX_REFERRER, MAX_USER_AGENT, buffer
from tests.conftest import flush_visits, make_link, make_visits, run_manage, test_database_url

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "",
    "Mozilla/5.0 " + "x" * (MAX_USER_AGENT + 100),  # cut at the limit by the buffer
]
REFERRERS = [
    "",
    "https://news.example.com/story",
    "https://t.co/abc",
    "not a url",
    "https://" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61 + "/x",  # 253
    "https://long.example/" + "p" * (MAX_REFERRER + 50),
]


def send(link_ids, count: int, rng: random.Random, monkeypatch) -> list[tuple]:
    """`count` visits through the real buffer on days up to five back, some by the same
    people; what was sent, as (link id, day, address, agent, referrer). Twenty minutes
    after a UTC midnight, so each day's hour spills into the day before: the batches span
    six days (the case that once made a salt twice and counted people twice)."""
    now = (time.time() // 86400) * 86400 + 20 * 60
    sent = []
    for _ in range(count):
        when = now - rng.choice([0, 0, 1, 2, 5]) * 86400 - rng.random() * 3600
        link_id = rng.choice(link_ids)
        address = f"203.0.113.{rng.randint(1, 12)}"
        agent, referrer = rng.choice(AGENTS), rng.choice(REFERRERS)
        meta = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent, "HTTP_REFERER": referrer}
        with monkeypatch.context() as patched:
            patched.setattr(recording.time, "time", lambda when=when: when)
            buffer.add(link_id, meta)
        day = datetime.fromtimestamp(when, UTC).date()
        sent.append((link_id, day, address, agent[:MAX_USER_AGENT], referrer))
    return sent


def recount_in_python() -> tuple[dict, Counter]:
    """The rollups worked out from raw visit rows with the ORM, not with rollups' SQL."""
    stats = defaultdict(lambda: [0, 0, set()])
    counts = Counter()
    for visit in Visit.objects.all():
        day = visit.at.astimezone(UTC).date()
        stats[visit.link_id, day][0] += 1
        stats[visit.link_id, day][1] += visit.is_bot
        stats[visit.link_id, day][2].add(visit.visitor)
        for dimension in rollups.DIMENSIONS:
            counts[visit.link_id, dimension.name, day, getattr(visit, dimension.column)] += 1
    return {key: (c, b, len(v)) for key, (c, b, v) in stats.items()}, counts


def stored() -> tuple[dict, Counter]:
    stats = {(s.link_id, s.day): (s.clicks, s.bots, s.visitors) for s in DailyStat.objects.all()}
    counts = Counter(
        {(c.link_id, c.dimension, c.day, c.value): c.n for c in DailyCount.objects.all()}
    )
    return stats, counts


@pytest.mark.django_db
def test_random_visits_through_the_buffer_roll_up_exactly(monkeypatch):
    rng = random.Random(17)
    link_ids = [make_link().pk for _ in range(3)]
    sent = []
    for _ in range(4):  # several flushes: the same visitors and days come back across them
        sent += send(link_ids, 150, rng, monkeypatch)
        assert flush_visits() == 150

    assert stored() == recount_in_python()
    assert rebuild.check(rebuild.Scope()) == []
    # And what was sent: clicks per link-day, and its distinct people (address + agent).
    clicks = Counter((link_id, day) for link_id, day, *_ in sent)
    people = defaultdict(set)
    for link_id, day, address, agent, _ in sent:
        people[link_id, day].add((address, agent))
    rows = DailyStat.objects.all()
    assert {(r.link_id, r.day): r.clicks for r in rows} == clicks
    assert {(r.link_id, r.day): r.visitors for r in rows} == {k: len(v) for k, v in people.items()}
    assert DailyVisitor.objects.count() == sum(len(v) for v in people.values())
    assert sum(Link.objects.filter(pk__in=link_ids).values_list("visit_count", flat=True)) == 600


@pytest.mark.django_db
def test_a_failed_flush_adds_nothing_to_the_rollups(monkeypatch):
    link = make_link()
    buffer.add(link.pk, {"REMOTE_ADDR": "203.0.113.1", "HTTP_USER_AGENT": "curl/8"})

    def broken(*args):
        raise RuntimeError("rollups unavailable")

    monkeypatch.setattr(rollups, "add", broken)
    assert flush_visits() == 0
    assert not Visit.objects.exists() and not DailyStat.objects.exists()
    monkeypatch.undo()
    assert flush_visits() == 1
    assert DailyStat.objects.get().clicks == 1 and Visit.objects.count() == 1


@pytest.mark.django_db
def test_check_finds_a_difference_and_a_rebuild_repairs_it(capsys):
    link = make_link(slug="viral")
    make_visits(link, 3, browser="Firefox")
    make_visits(link, 2, days_ago=2, is_bot=True, device="bot", browser="Googlebot")
    call_command("rollup_visits", "--check")
    assert "match the 5 raw visit(s)" in capsys.readouterr().out

    day = DailyStat.objects.get(link=link, day=datetime.now(UTC).date())
    DailyStat.objects.filter(pk=day.pk).update(clicks=99)
    DailyCount.objects.filter(link=link, dimension="browser", value="Googlebot").delete()
    with pytest.raises(CommandError, match="2 difference"):
        call_command("rollup_visits", "--check")
    out = capsys.readouterr().out
    assert f"viral {day.day}: clicks is 99, the raw visits say 3" in out
    assert "browser 'Googlebot' is 0, the raw visits say 2" in out

    call_command("rollup_visits", "--link", "viral")
    call_command("rollup_visits", "--check")
    assert DailyStat.objects.get(pk=day.pk).clicks == 3


@pytest.mark.django_db
def test_rebuilding_one_link_leaves_the_others_alone():
    one, other = make_link(), make_link()
    make_visits(one, 2)
    make_visits(other, 4)
    DailyStat.objects.filter(link=other).update(clicks=40)
    call_command("rollup_visits", "--link", str(one.pk))  # by id too
    assert DailyStat.objects.get(link=other).clicks == 40
    assert DailyStat.objects.get(link=one).clicks == 2


@pytest.mark.django_db
def test_a_link_bigger_than_a_batch_is_rebuilt_by_ranges_of_days():
    link = make_link()
    for days_ago in range(6):
        make_visits(link, days_ago + 1, days_ago=days_ago, visitor=f"v{days_ago % 2}")
    before = stored()
    DailyStat.objects.all().delete()
    DailyCount.objects.all().delete()
    DailyVisitor.objects.all().delete()
    DailyStat.objects.create(link=link, day=datetime(2001, 1, 1).date(), clicks=5)  # stale
    batches = list(rebuild.plan([link.pk], 5))
    assert len(batches) > 2 and sum(b.visits for b in batches) == 21
    call_command("rollup_visits", "--batch", "5")
    assert stored() == before
    call_command("rollup_visits", "--check")


@pytest.mark.django_db
def test_rollups_of_links_without_visits_are_removed_by_a_full_rebuild():
    link = make_link()
    DailyStat.objects.create(link=link, day=datetime.now(UTC).date(), clicks=7)
    with pytest.raises(CommandError, match="1 difference"):
        call_command("rollup_visits", "--check")
    call_command("rollup_visits")
    assert not DailyStat.objects.exists()


@pytest.mark.django_db
def test_an_unknown_link_or_batch_is_refused():
    with pytest.raises(CommandError, match="No link has the slug or id 'nope'"):
        call_command("rollup_visits", "--link", "nope")
    with pytest.raises(CommandError, match="--batch must be at least 1"):
        call_command("rollup_visits", "--batch", "0")


@pytest.mark.django_db
def test_a_link_row_removed_takes_its_rollups_along():
    """Links are tombstoned, but a row removed anyway (a future retention job) leaves
    no rollups behind, as it leaves no visits."""
    link = make_link()
    make_visits(link, 2)
    QuerySet.delete(Link.objects.filter(pk=link.pk))  # past the model's refusal
    assert not DailyStat.objects.exists() and not DailyCount.objects.exists()
    assert not DailyVisitor.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_difference():
    link = make_link()
    make_visits(link, 2)
    env = {"DATABASE_URL": test_database_url()}
    assert run_manage("rollup_visits", "--check", env=env).returncode == 0
    DailyStat.objects.update(bots=1)
    done = run_manage("rollup_visits", "--check", env=env)
    assert done.returncode == 1
    assert "bots is 1, the raw visits say 0" in done.stdout
    assert "1 difference(s)" in done.stderr


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_while_visits_are_flushed_loses_and_doubles_nothing(monkeypatch):
    """The flush thread's work racing the command's, on the same link and day."""
    link = make_link()
    make_visits(link, 50)
    stop = threading.Event()
    flushed = []

    def serve():
        n = 0
        try:
            while not stop.is_set():
                for _ in range(20):
                    n += 1
                    meta = {"REMOTE_ADDR": f"198.51.100.{n % 50}", "HTTP_USER_AGENT": "curl/8"}
                    buffer.add(link.pk, meta)
                flushed.append(buffer.flush())
        finally:
            connection.close()

    server = threading.Thread(target=serve)
    server.start()
    try:
        for _ in range(15):
            call_command("rollup_visits", "--link", link.slug, "--batch", "30")
    finally:
        stop.set()
        server.join()
    assert buffer.pending() == 0 and sum(flushed) == 20 * len(flushed)
    assert DailyStat.objects.get(link=link).clicks == 50 + sum(flushed)
    call_command("rollup_visits", "--check")
