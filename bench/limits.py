"""Issue 27's side-by-side figures in one run: the same granian serving a bare WSGI 302
(the server's own limit, `bench/bare.py`), Torii on the embedded default, and Torii on
PostgreSQL + Redis (a database of its own, made and dropped, and a Redis key prefix of
its own), interleaved for ROUNDS rounds under the redirect benchmark's load (wrk, 2
threads, 32 connections, rate limits on but high, visits kept). Visits are counted after
each graceful stop; none may be lost.

`make bench SECTIONS=limits`; STATS_BENCH_PG and BENCH_REDIS name the servers.
"""

import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.redirects import (
    ROUNDS,
    count_visits,
    ensure_wrk,
    lua_script,
    measured_run,
    seed_torii,
    start_granian,
    torii_env,
)
from bench.stats import admin


def section() -> list[tuple[str, float, str]]:
    wrk = ensure_wrk()
    pg = os.environ.get("STATS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    database = f"limits_bench_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="torii-bench-limits-"))
    embedded, shared = work / "embedded", work / "shared"
    embedded.mkdir()
    shared.mkdir()
    extra = {
        embedded: {},
        shared: {
            "DATABASE_URL": f"{pg}/{database}",
            "REDIS_URL": redis,
            "CACHE_KEY_PREFIX": f"limits-bench-{os.getpid()}",
        },
    }
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    admin(pg, f"DROP DATABASE IF EXISTS {database}")
    admin(pg, f"CREATE DATABASE {database}")
    saved = dict(os.environ)
    try:

        def with_backend(data_dir: Path):
            os.environ.clear()
            os.environ.update({**saved, **extra[data_dir]})

        with_backend(embedded)
        slugs = seed_torii(embedded, 1000)
        with_backend(shared)
        shared_slugs = seed_torii(shared, 1000)  # slugs of its own
        scripts = {embedded: lua_script(slugs, embedded), shared: lua_script(shared_slugs, shared)}

        def start_bare(_target: Path, port: int):
            return start_granian(torii_env(embedded), port, app="bench.bare:application")

        def start(target: Path, port: int):
            return start_granian(torii_env(target), port)

        runs = {"bare": [], "embedded": [], "shared": []}
        lost = 0
        for number in range(ROUNDS):
            with_backend(embedded)
            runs["bare"].append(measured_run(start_bare, embedded, wrk, scripts[embedded]))
            for name, target in (("embedded", embedded), ("shared", shared)):
                with_backend(target)
                before = count_visits(target)
                result = measured_run(start, target, wrk, scripts[target])
                recorded = count_visits(target) - before
                lost += max(0, result["warmup_requests"] + result["requests"] - recorded)
                runs[name].append(result)
            print(
                f"  round {number + 1}: bare granian 302 {runs['bare'][-1]['rps']:,.0f}/s, "
                f"Torii embedded {runs['embedded'][-1]['rps']:,.0f}/s "
                f"(p99 {runs['embedded'][-1]['p99_ms']:.1f} ms), PostgreSQL + Redis "
                f"{runs['shared'][-1]['rps']:,.0f}/s (p99 {runs['shared'][-1]['p99_ms']:.1f} ms)",
                flush=True,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        admin(pg, f"DROP DATABASE IF EXISTS {database}")
        shutil.rmtree(work, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    rows = []
    for name, label in (
        ("bare", "bare granian 302"),
        ("embedded", "Torii, embedded default"),
        ("shared", "Torii, PostgreSQL + Redis"),
    ):
        rows += [
            (f"{label}: requests per second (median of {ROUNDS})", median(name, "rps"), "req/s"),
            (f"{label}: p99 latency", median(name, "p99_ms"), "ms"),
            (f"{label}: responses other than 3xx", sum(r["non_3xx"] for r in runs[name]), "resp"),
        ]
        if name != "bare":
            peak = max(r["peak_rss_mb"] for r in runs[name])
            rows.append((f"{label}: peak resident memory per worker", peak, "MB"))
    rows += [
        (
            "Torii embedded / bare granian 302  [issue 27: at least 50 %]",
            100 * median("embedded", "rps") / median("bare", "rps"),
            "%",
        ),
        (
            "PostgreSQL + Redis / embedded  [issue 27: at least 90 %]",
            100 * median("shared", "rps") / median("embedded", "rps"),
            "%",
        ),
        ("visits lost after graceful stops", lost, "visits"),
    ]
    return rows
