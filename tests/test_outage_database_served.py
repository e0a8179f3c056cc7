"""The database taken away from a real server under steady load (issue 33): PostgreSQL
refuses new connections to the server's own database and its backends are terminated,
for OUTAGE seconds, with 2 workers and LINKS links visited before. What the visitors got,
second by second, and that every visit answered is written once the database is back.
Needs PostgreSQL on 127.0.0.1:5432 (the machine's; skipped without it), on the SQLite
pass of the suite too."""

import contextlib
import json
import os
import random
import subprocess
import threading
import time
from collections import Counter

import pytest

from shortener.redirect.lookup import FEED_MARGIN
from tests.conftest import ROOT
from tests.servers import answer, free_port, granian_process, own_redis

PG = os.environ.get("TORII_TEST_PG", "postgres://postgres@127.0.0.1:5432")
# Seconds; issue 33's figure is for 60: TORII_OUTAGE_SECONDS=60 runs it so (docs/operations.md).
OUTAGE = int(os.environ.get("TORII_OUTAGE_SECONDS", "10"))
LOAD_PER_SECOND = 40
LINKS = 20  # each visited WARM times before, by one worker or the other: they share what they know
WARM = 1


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
@pytest.mark.parametrize("shared_cache", ["disk", "redis", "redis, gone with the database"])
def test_links_answered_before_keep_redirecting_while_the_database_is_away(
    own_database, shared_cache
):
    """The workers share their last known states through the `default` cache: the disk
    cache of the machine, or a Redis of the test's own; or that Redis is killed when the
    database goes away, and each worker serves the links it answered itself."""
    with contextlib.ExitStack() as stack:
        redis_url, redis = "", None
        if shared_cache != "disk":
            port = free_port()
            redis = stack.enter_context(own_redis(port))
            redis_url = f"redis://127.0.0.1:{port}/0"
        through_an_outage(own_database, redis_url, redis if "gone" in shared_cache else None)


def through_an_outage(own_database: str, redis_url: str, kill=None) -> None:
    """`kill`: a Redis process to kill as the database goes away."""
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
        "print(' '.join(links.create({'target': f'https://example.com/{i}'}, actor=u).slug"
        f" for i in range({LINKS})))",
    )
    slugs = made.strip().splitlines()[-1].split()
    targets = {slug: f"https://example.com/{i}" for i, slug in enumerate(slugs)}
    seen: list[tuple[float, int]] = []  # (seconds since start, status)
    wrong: list[str] = []
    stop = threading.Event()
    server_env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "RATE_LIMIT_REDIRECT": "off"}
    with granian_process(workers=2, env=server_env) as (base, _):
        # Past the change feed's margin: a link created (changed) seconds before an outage
        # is, by design, not served from its last known state (docs/operations.md).
        time.sleep(FEED_MARGIN + 1)
        for slug in slugs * WARM:
            assert answer(base, f"/{slug}")[0] == 302
        started = time.monotonic()

        def load():
            while not stop.is_set():
                slug = random.choice(slugs)
                status, headers, _ = answer(base, f"/{slug}")
                seen.append((time.monotonic() - started, status))
                if status == 302 and headers["Location"] != targets[slug]:
                    wrong.append(slug)
                time.sleep(1 / LOAD_PER_SECOND)

        visitor = threading.Thread(target=load, daemon=True)
        visitor.start()
        time.sleep(3)
        admin(f"ALTER DATABASE {own_database} ALLOW_CONNECTIONS false")
        admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{own_database}' AND pid <> pg_backend_pid()"
        )
        if kill is not None:
            kill.kill()
        away_at = time.monotonic() - started
        time.sleep(1)
        status, headers, body = answer(base, "/healthz")
        failed = ["database", "cache", "counters"] if kill is not None else ["database"]
        assert status == 503 and json.loads(body)["failed"] == failed
        status, headers, body = answer(base, "/neverseen")
        assert status == 503 and headers["Retry-After"] == "30"
        assert "This short link is safe" in body.decode()
        time.sleep(OUTAGE - 1)
        admin(f"ALTER DATABASE {own_database} ALLOW_CONNECTIONS true")
        back_at = time.monotonic() - started
        time.sleep(3)
        if kill is None:
            assert answer(base, "/healthz")[0] == 200
        stop.set()
        visitor.join(10)
    # Graceful stop: the buffered visits are written.
    during = [status for at, status in seen if away_at < at < back_at]
    by_second = Counter((int(at), status) for at, status in seen)
    assert len(during) > OUTAGE * LOAD_PER_SECOND / 4, by_second
    assert wrong == []
    if kill is not None:  # a worker's own states only: the others' links answer 503
        assert set(during) <= {302, 503} and 302 in set(during), by_second
        assert all(status == 302 for at, status in seen if at < away_at), by_second
    else:
        assert set(during) == {302}, by_second  # every request answered 30x through it
        assert all(status == 302 for _, status in seen), by_second
    import psycopg

    with psycopg.connect(url) as conn:
        written = conn.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]
    redirected = sum(status == 302 for _, status in seen)
    assert written == redirected + len(slugs) * WARM  # no acknowledged visit lost
    print(
        f"{len(seen)} requests, {len(during)} while the database was away: "
        f"{Counter(during)}; {written} visits written"
    )
