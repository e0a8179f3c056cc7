"""The flush under faults, against real granian workers: a poisoned batch loses only the
poisoned row, and with the database unavailable under load a worker's memory stays
bounded and, once the database returns, every visit within VISIT_BUFFER_MAX is written."""

import http.client
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from django.db import connection

from shortener.models import Link, Visit
from tests.conftest import make_link
from tests.servers import granian_process, status_of, stop
from tests.test_web_worker_crash import server_log, workers_of

DROPPED_PAST_BOUND = re.compile(r"Dropped (\d+) visits past VISIT_BUFFER_MAX=(\d+)")
# The longest a header is kept (shortener/visits.py): each kept visit holds both.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) " + "a" * 480
REFERRER = "https://news.example.com/" + "r" * 2020


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def vanish(link: Link) -> None:
    """Remove a link's row with raw SQL, as an operator's DELETE would: Link.delete()
    refuses, and admin's hard delete is the same statement."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for field in Link._meta.many_to_many:
            through = field.remote_field.through._meta
            column = through.get_field("link").column
            cursor.execute(
                f"DELETE FROM {quote(through.db_table)} WHERE {quote(column)} = %s", [link.pk]
            )
        for relation in Link._meta.related_objects:
            if relation.one_to_many:
                table = relation.related_model._meta.db_table
                column = relation.field.column
                cursor.execute(f"DELETE FROM {quote(table)} WHERE {quote(column)} = %s", [link.pk])
        cursor.execute(f"DELETE FROM {quote(Link._meta.db_table)} WHERE id = %s", [link.pk])


def visits_of(link: Link) -> int:
    return Visit.objects.filter(link_id=link.pk).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_poisoned_batch_loses_only_the_poisoned_row_and_the_worker_writes_on():
    kept = make_link(target="https://example.com/kept")
    doomed = make_link(target="https://example.com/doomed")
    # One worker and a slow clock: the three visits are in its first batch, and the
    # doomed link is gone before that batch is written.
    env = {"VISIT_FLUSH_SECONDS": "3", "RATE_LIMIT_REDIRECT": "1000000/m"}
    with granian_process(workers=1, env=env) as (url, server):
        began = time.monotonic()
        assert status_of(f"{url}/{kept.slug}") == 302
        assert status_of(f"{url}/{doomed.slug}") == 302
        assert status_of(f"{url}/{kept.slug}") == 302
        vanish(doomed)
        assert time.monotonic() - began < 2, "too slow: the batch may be written already"

        wait_for(lambda: visits_of(kept) == 2, "the good visits of the poisoned batch")
        wait_for(
            lambda: (
                "Dropped 1 of 3 visits the database refused: 1 for a link that no longer exists"
                in server_log(server)
            ),
            "the line saying what was dropped and why",
        )
        for _ in range(3):
            assert status_of(f"{url}/{kept.slug}") == 302
        wait_for(lambda: visits_of(kept) == 5, "the visits after it")
        logged = stop(server)  # gracefully: its last flush has nothing left to fail
    assert Link.objects.get(pk=kept.pk).visit_count == 5
    assert visits_of(doomed) == 0
    assert "Writing" not in logged  # never a failed flush: nothing kept to fail again
    assert logged.count("Dropped") == 1


@contextmanager
def database_held():
    """The database unavailable to the workers for writes, as a long lock makes it.

    SQLite: an exclusive transaction; readers (the redirects' lookups) go on, a flush
    waits its busy timeout (20 s) and fails with "database is locked". PostgreSQL: the
    visits table locked against writes (the test still reads it), then the waiting
    worker's connection terminated, so its flush fails with OperationalError and the
    next one waits on the lock again.
    """
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        held = sqlite3.connect(settings["NAME"], isolation_level=None)
        held.execute("BEGIN EXCLUSIVE")
        try:
            yield lambda: None
        finally:
            held.execute("ROLLBACK")
            held.close()
        return
    import psycopg

    held = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    try:
        held.execute(f"LOCK TABLE {Visit._meta.db_table} IN EXCLUSIVE MODE")

        def cut_off_waiters() -> None:
            with psycopg.connect(held.info.dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )

        yield cut_off_waiters
    finally:
        held.rollback()
        held.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read())[1])


def send(url: str, count: int, clients: int = 4) -> list[int]:
    """GET `url` `count` times from kept-alive connections, with the longest headers."""
    parts = urlsplit(url)
    statuses: list[int] = []
    headers = {"User-Agent": USER_AGENT, "Referer": REFERRER}

    def client(share: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            for _ in range(share):
                conn.request("GET", parts.path, headers=headers)
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return statuses


BOUND = 1000
WARM_UP = 1000
DURING_OUTAGE = 8000
# What keeping a visit with these headers costs in memory (docs/performance.md measures
# about 3 KB): the visits past the bound would take this many KiB if they were kept.
KIB_PER_KEPT_VISIT = 2.5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_the_database_away_under_load_memory_stays_bounded_and_the_bound_is_written():
    link = make_link(target="https://example.com/outage")
    env = {
        "VISIT_FLUSH_SECONDS": "0.2",
        "VISIT_BUFFER_MAX": str(BOUND),
        "RATE_LIMIT_REDIRECT": "1000000/m",
    }
    with granian_process(workers=1, env=env) as (url, server):
        (worker,) = workers_of(server.pid)
        # Warm up (allocator, caches, the lookup of the link) and flush it all.
        assert set(send(f"{url}/{link.slug}", WARM_UP)) == {302}
        wait_for(lambda: visits_of(link) == WARM_UP, "the warm-up visits")
        before = rss_kib(worker)

        with database_held() as cut_off_waiters:
            answers = send(f"{url}/{link.slug}", DURING_OUTAGE)
            peak = rss_kib(worker)
            cut_off_waiters()
            wait_for(lambda: "failed" in server_log(server), "a failed flush", timeout=60)
            assert visits_of(link) == WARM_UP  # nothing got through meanwhile
            during = rss_kib(worker)
        wait_for(lambda: visits_of(link) >= WARM_UP + BOUND, "the visits within the bound")
        time.sleep(1)  # five flush intervals: nothing more comes
        written = visits_of(link) - WARM_UP
        after = rss_kib(worker)
        logged = stop(server)  # gracefully: the last count of dropped visits is logged
    dropped = sum(int(n) for n, _ in DROPPED_PAST_BOUND.findall(logged))
    growth = max(peak, during) - before
    print(
        f"\n{connection.vendor}: {len(answers)} redirects during the outage, VISIT_BUFFER_MAX="
        f"{BOUND}; worker RSS {before} KiB before, {peak} KiB after sending, {during} KiB "
        f"after a failed flush, {after} KiB after; {written} written, {dropped} dropped"
    )
    assert answers == [302] * DURING_OUTAGE  # a visit not recorded never breaks a redirect
    assert written == BOUND  # exactly: the bound includes the batch a flush is writing
    assert dropped == DURING_OUTAGE - BOUND  # every visit is written or counted
    assert Link.objects.get(pk=link.pk).visit_count == WARM_UP + BOUND
    # Keeping the dropped visits would have cost (DURING_OUTAGE - BOUND) x 2.5 KiB:
    # the worker grew by well under half of that.
    assert growth < (DURING_OUTAGE - BOUND) * KIB_PER_KEPT_VISIT / 2
    assert "Traceback" in logged  # the first failure, once, with its cause
