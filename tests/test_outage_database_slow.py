"""A database that is slow rather than gone (issue 33): another session holds an exclusive
lock on the links table for LOCKED seconds under a steady load. Without a statement limit
every lookup waited for the lock, holding every thread; with DATABASE_STATEMENT_TIMEOUT
the lookup is cancelled after it, the link answered from its last known state, an
unknown slug with the outage's 503, each within a bound. The visit flush has no limit:
it waits for the lock and writes every visit after it. Needs PostgreSQL (skipped
without it)."""

import threading
import time
from collections import Counter

import psycopg
import pytest

from shortener.redirect.lookup import FEED_MARGIN
from tests.servers import answer, granian_process
from tests.test_outage_database_served import PG, manage, own_database  # noqa: F401

LOCKED = 6  # seconds
LIMIT = 1  # DATABASE_STATEMENT_TIMEOUT, seconds


@pytest.mark.slow
def test_a_locked_links_table_costs_a_redirect_a_bounded_wait_not_an_answer(own_database):  # noqa: F811
    url = f"{PG}/{own_database}"
    env = {"DATABASE_URL": url, "RATE_LIMIT_REDIRECT": "off"}
    import os

    manage_env = {**os.environ, **env}
    manage_env.pop("REDIS_URL", None)
    manage_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    manage(manage_env, "migrate", "-v0")
    made = manage(
        manage_env,
        "shell",
        "-c",
        "from shortener import links; from django.contrib.auth import get_user_model;"
        "u = get_user_model().objects.create_user('o');"
        "print(' '.join(links.create({'target': f'https://example.com/{i}'}, actor=u).slug"
        " for i in range(5)))",
    )
    slugs = made.strip().splitlines()[-1].split()
    seen: list[tuple[float, int, float]] = []  # (since start, status, seconds taken)
    stop = threading.Event()
    server_env = {**env, "REDIS_URL": "", "DATABASE_STATEMENT_TIMEOUT": str(LIMIT)}
    with granian_process(workers=1, env=server_env) as (base, _):
        time.sleep(FEED_MARGIN + 1)  # the links' creation is no longer news
        for slug in slugs:
            assert answer(base, f"/{slug}")[0] == 302
        started = time.monotonic()

        def load(offset: int):
            number = offset
            while not stop.is_set():
                asked = time.monotonic()
                status = answer(base, f"/{slugs[number % len(slugs)]}")[0]
                seen.append((asked - started, status, time.monotonic() - asked))
                number += 1
                time.sleep(0.02)

        visitors = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(3)]
        for visitor in visitors:
            visitor.start()
        time.sleep(2)
        with psycopg.connect(url) as locker:
            locker.execute("LOCK TABLE shortener_link IN ACCESS EXCLUSIVE MODE")
            locked_at = time.monotonic() - started
            asked = time.monotonic()
            unknown = answer(base, "/neverseen")
            unknown_took = time.monotonic() - asked
            time.sleep(LOCKED)
            locker.rollback()
        released_at = time.monotonic() - started
        time.sleep(2)
        stop.set()
        for visitor in visitors:
            visitor.join(10)
    by_second = Counter((int(at), status) for at, status, _ in seen)
    during = [(status, took) for at, status, took in seen if locked_at < at < released_at]
    assert len(during) > LOCKED * 20, by_second
    assert {status for status, _ in during} == {302}, by_second
    waits = sorted(took for _, took in during)
    assert waits[-1] < LIMIT + 1.5, waits[-5:]  # bounded by the statement limit
    # One lookup a LOOKUP_TTL pays the wait (and those beside it); the rest do not.
    assert sum(took >= LIMIT for took in waits) <= 3 * (LOCKED / 2 + 2), waits[-20:]
    assert unknown[0] == 503 and unknown[1]["Retry-After"] == "30"
    assert unknown_took < LIMIT + 1.5
    with psycopg.connect(url) as conn:
        written = conn.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]
    assert written == len(seen) + len(slugs)  # the flush waited for the lock, and wrote all
    waited = sum(took >= LIMIT for took in waits)
    median = waits[len(waits) // 2]
    print(f"{len(during)} requests while locked, all 302; {waited} waited; median {median:.3f} s")
