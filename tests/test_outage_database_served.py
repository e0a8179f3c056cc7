"""The database taken away from a real server under steady load (issue 33): PostgreSQL
refuses new connections to the server's own database and its backends are terminated,
for OUTAGE seconds. What the visitors got, second by second, and that every visit
answered is written once the database is back. Needs PostgreSQL on 127.0.0.1:5432 (the
machine's; skipped without it), on the SQLite pass of the suite too."""

import json
import os
import subprocess
import threading
import time
from collections import Counter

import pytest

from tests.conftest import ROOT
from tests.servers import answer, granian_process

PG = os.environ.get("TORII_TEST_PG", "postgres://postgres@127.0.0.1:5432")
OUTAGE = 10  # seconds; issue 33's figure is for 60, measured the same way by hand
LOAD_PER_SECOND = 40


def admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def own_database():
    try:
        admin("SELECT 1")
    except Exception as error:  # no PostgreSQL here
        pytest.skip(f"PostgreSQL at {PG} unavailable: {error}")
    name = f"torii_outage_{os.getpid()}"
    admin(f"DROP DATABASE IF EXISTS {name}")
    admin(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.slow
def test_links_answered_before_keep_redirecting_while_the_database_is_away(own_database):
    url = f"{PG}/{own_database}"
    env = {**os.environ, "DATABASE_URL": url, "RATE_LIMIT_REDIRECT": "off"}
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    manage(env, "migrate", "-v0")
    made = manage(
        env,
        "shell",
        "-c",
        "from shortener import links; from django.contrib.auth import get_user_model;"
        "u = get_user_model().objects.create_user('o');"
        "print(links.create({'target': 'https://example.com/through'}, actor=u).slug)",
    )
    slug = made.strip().splitlines()[-1]
    seen: list[tuple[float, int]] = []  # (seconds since start, status)
    stop = threading.Event()
    with granian_process(workers=1, env={"DATABASE_URL": url, "REDIS_URL": ""}) as (base, _):
        started = time.monotonic()

        def load():
            while not stop.is_set():
                status, headers, _ = answer(base, f"/{slug}")
                seen.append((time.monotonic() - started, status))
                if status == 302:
                    assert headers["Location"] == "https://example.com/through"
                time.sleep(1 / LOAD_PER_SECOND)

        visitor = threading.Thread(target=load, daemon=True)
        visitor.start()
        time.sleep(3)
        admin(f"ALTER DATABASE {own_database} ALLOW_CONNECTIONS false")
        admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{own_database}' AND pid <> pg_backend_pid()"
        )
        away_at = time.monotonic() - started
        time.sleep(1)
        status, headers, body = answer(base, "/healthz")
        assert status == 503 and json.loads(body)["failed"] == ["database"]
        status, headers, body = answer(base, "/neverseen")
        assert status == 503 and headers["Retry-After"] == "30"
        assert "This short link is safe" in body.decode()
        time.sleep(OUTAGE - 1)
        admin(f"ALTER DATABASE {own_database} ALLOW_CONNECTIONS true")
        back_at = time.monotonic() - started
        time.sleep(3)
        assert answer(base, "/healthz")[0] == 200
        stop.set()
        visitor.join(10)
    # Graceful stop: the buffered visits are written.
    during = [status for at, status in seen if away_at < at < back_at]
    by_second = Counter((int(at), status) for at, status in seen)
    assert len(during) > OUTAGE * LOAD_PER_SECOND / 4, by_second
    assert set(during) == {302}, by_second  # every request answered 30x through the outage
    assert all(status == 302 for _, status in seen), by_second
    import psycopg

    with psycopg.connect(url) as conn:
        written = conn.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]
    assert written == len(seen)  # no acknowledged visit lost
    print(f"{len(seen)} requests, {len(during)} while the database was away, all 302")
