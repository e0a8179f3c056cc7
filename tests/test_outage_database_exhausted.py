"""The database's connections used up (issue 33's "a pool exhausted"): under a steady
load, other clients hold every connection the server's database allows (its CONNECTION
LIMIT) and the server's own are ended, so each reconnect is refused with "too many
connections", for HELD seconds. Torii keeps no pool of its own (a persistent connection
per thread, CONN_MAX_AGE), so this is the exhaustion a deployment meets: a pooler or the
server out of slots. What the visitors got, that the log said it once, and that every
visit answered is written once connections are free again. Needs PostgreSQL (skipped
without it); the limit binds only a role that is not a superuser, so the server runs as
one of the test's own."""

import os
import threading
import time
from collections import Counter

import psycopg
import pytest

from shortener.redirect.lookup import FEED_MARGIN
from tests.servers import answer, granian_process, output_of
from tests.test_outage_database_served import PG, admin, manage

HELD = 8  # seconds


@pytest.fixture
def own_role_database():
    try:
        admin("SELECT 1")
    except Exception as error:  # no PostgreSQL here
        pytest.skip(f"PostgreSQL at {PG} unavailable: {error}")
    name = f"torii_exhausted_{os.getpid()}"
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"DROP ROLE IF EXISTS {name}")
    admin(f"CREATE ROLE {name} LOGIN")
    admin(f"CREATE DATABASE {name} OWNER {name}")
    try:
        yield name, f"postgres://{name}@127.0.0.1:5432/{name}"
    finally:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin(f"DROP ROLE IF EXISTS {name}")


@pytest.mark.slow
def test_connections_used_up_answer_like_an_outage_and_lose_no_visit(own_role_database):
    name, url = own_role_database
    env = {"DATABASE_URL": url, "RATE_LIMIT_REDIRECT": "off", "REDIS_URL": ""}
    manage_env = {**os.environ, **env}
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
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    with granian_process(workers=2, env=env) as (base, process):
        time.sleep(FEED_MARGIN + 1)  # the links' creation is no longer news
        for _ in range(4):  # each worker has answered each link
            for slug in slugs:
                assert answer(base, f"/{slug}")[0] == 302
        started = time.monotonic()

        def load(offset: int):
            number = offset
            while not stop.is_set():
                status = answer(base, f"/{slugs[number % len(slugs)]}")[0]
                seen.append((time.monotonic() - started, status))
                number += 1
                time.sleep(0.02)

        visitors = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(3)]
        for visitor in visitors:
            visitor.start()
        time.sleep(2)
        # Others take every slot: the limit is what they hold, then the server's own
        # connections are ended, and each of its reconnects is refused.
        hogs = [psycopg.connect(url) for _ in range(2)]
        admin(f"ALTER DATABASE {name} CONNECTION LIMIT 2")
        admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            f"'{name}' AND pid NOT IN ({', '.join(str(h.info.backend_pid) for h in hogs)})"
        )
        held_at = time.monotonic() - started
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(url, connect_timeout=3)
        time.sleep(1)
        health = answer(base, "/healthz")
        unknown = answer(base, "/neverseen")
        home = answer(base, "/")
        api = answer(base, "/api/v1/links")
        time.sleep(HELD - 1)
        admin(f"ALTER DATABASE {name} CONNECTION LIMIT -1")
        for hog in hogs:
            hog.close()
        freed_at = time.monotonic() - started
        deadline = time.monotonic() + 5
        while answer(base, "/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        back_after = time.monotonic() - started - freed_at
        time.sleep(2)
        stop.set()
        for visitor in visitors:
            visitor.join(10)
        log = output_of(process)
    by_second = Counter((int(at), status) for at, status in seen)
    during = [status for at, status in seen if held_at < at < freed_at]
    assert len(during) > HELD * 20, by_second
    assert set(status for _, status in seen) == {302}, by_second  # none 500, none 503
    assert health[0] == 503 and b'"database"' in health[2]
    assert unknown[0] == 503 and unknown[1]["Retry-After"] == "30"
    # A signed-out visitor's home page and API answer need no database (200, 401) when the
    # thread asked has nothing to read; when it has, the outage's 503. Never a 500.
    assert home[0] in (200, 503) and (home[0] == 200 or home[1]["Retry-After"] == "30"), home
    assert api[0] in (401, 503) and api[1]["Content-Type"] == "application/problem+json", api
    assert back_after < 2, back_after
    assert "Internal Server Error" not in log
    # Each kind of failure said once per process (the visit flush's with its traceback),
    # not once a request: hundreds were answered meanwhile.
    assert log.count("too many connections") <= 2 * 4, log[-4000:]
    with psycopg.connect(url) as conn:
        written = conn.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]
    assert written == len(seen) + 4 * len(slugs)  # every visit answered, once
    print(
        f"{len(during)} requests while every connection was taken, all 302; home {home[0]},"
        f" API {api[0]}; /healthz 200"
        f" {back_after:.1f} s after they were freed; {written} visits written"
    )
