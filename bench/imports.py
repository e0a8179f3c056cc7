"""Import benchmark: 100,000 links from a CSV file through `manage.py import_links`, into
the embedded default (SQLite) and into PostgreSQL, while granian serves redirects.

For each database: migrate and seed 1,000 links in the bench's own data directory (for
PostgreSQL its own database, `portability_bench`, dropped and made afresh), start Torii
as `make run` would (granian, 2 workers), measure the redirect latency for 5 s with a
small paced client (2 threads, keep-alive, about 200 requests a second in all: enough to
see the import in the p99 without taking a core from it), then import the file in a
child process while the same client keeps going. Prints links per second and the
redirect p99 before and during the import.

Runs standalone: `.venv/bin/python -m bench.imports [--links 100000]`.
"""

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.redirects import (
    VENV_BIN,
    free_port,
    seed_torii,
    start_granian,
    stop,
    torii_env,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
LINKS = 100_000
GOAL_SECONDS = 60
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "portability_bench"
PACE_SECONDS = 0.01  # per thread: 2 threads ≈ 200 redirects a second


def write_csv(path: Path, links: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("slug,target,title,tags\n")
        for n in range(links):
            out.write(
                f"imp-{n},https://example.com/articles/{n}?ref=import,Article {n},news bench\n"
            )


def postgres_url() -> str | None:
    """A fresh database for the bench, or None when PostgreSQL is not reachable."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    except Exception as error:  # no server, no rights: skip this database
        print(f"  PostgreSQL skipped: {error}")
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB


class RedirectClient:
    """Paced GETs of seeded slugs on keep-alive connections; latencies in seconds."""

    def __init__(self, port: int, slugs: list[str], threads: int = 2):
        self.port, self.slugs, self.threads = port, slugs, threads
        self.samples: list[float] = []
        self.failures = 0
        self.stopping = threading.Event()
        self.workers: list[threading.Thread] = []

    def run(self, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = offset
        while not self.stopping.is_set():
            slug = self.slugs[n % len(self.slugs)]
            n += self.threads
            started = time.perf_counter()
            try:
                conn.request("GET", f"/{slug}")
                response = conn.getresponse()
                response.read()
                ok = 300 <= response.status < 400
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                ok = False
            took = time.perf_counter() - started
            if ok:
                self.samples.append(took)
            else:
                self.failures += 1
            time.sleep(max(0.0, PACE_SECONDS - took))
        conn.close()

    def __enter__(self):
        self.samples, self.failures = [], 0
        self.stopping.clear()
        self.workers = [
            threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.threads)
        ]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for worker in self.workers:
            worker.join()

    def p99_ms(self) -> float:
        if len(self.samples) < 100:
            return float("nan")
        return statistics.quantiles(self.samples, n=100, method="inclusive")[98] * 1000


def children_cpu() -> float:
    """CPU seconds of finished child processes: on a shared machine, what the import
    itself cost when its wall time includes waiting for a core."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def manage(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout


def measure(label: str, data_dir: Path, extra_env: dict[str, str], csv_path: Path, links: int):
    saved = {name: os.environ.get(name) for name in extra_env}
    os.environ.update(extra_env)  # seed_torii and torii_env read os.environ
    try:
        slugs = seed_torii(data_dir, 1000)
        env = {**torii_env(data_dir), **extra_env}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    script = "from django.contrib.auth import get_user_model as g; g().objects.create_user('bench')"
    manage(env, "shell", "-c", script)
    port = free_port()
    server = start_granian(env, port)
    rows = []
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server)
        with RedirectClient(port, slugs) as idle:
            time.sleep(5)
        with RedirectClient(port, slugs) as busy:
            started, cpu = time.perf_counter(), children_cpu()
            out = manage(env, "import_links", str(csv_path), "--owner", "bench")
            seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
        created = int(re.search(r"([\d,]+) created", out).group(1).replace(",", ""))
        assert created == links, out
        rate = links / seconds
        print(
            f"  {label}: {links:,} links in {seconds:.1f} s = {rate:,.0f} links/s "
            f"(goal: under {GOAL_SECONDS} s; the import process's CPU {cpu:.1f} s); "
            f"redirect p99 {idle.p99_ms():.1f} ms before, "
            f"{busy.p99_ms():.1f} ms during ({len(busy.samples):,} redirects, "
            f"{busy.failures} failed)"
        )
        rows = [
            (f"{label}: import {links:,} links, seconds", seconds, "s"),
            (f"{label}: import rate", rate, "links/s"),
            (f"{label}: CPU seconds of the import process", cpu, "s"),
            (f"{label}: redirect p99 before the import", idle.p99_ms(), "ms"),
            (f"{label}: redirect p99 during the import", busy.p99_ms(), "ms"),
            (f"{label}: redirects failed during the import", busy.failures, "count"),
        ]
    finally:
        stop(server)
    return rows


def run(links: int) -> list[tuple[str, float, str]]:
    work = Path(tempfile.mkdtemp(prefix="torii-bench-import-"))
    rows: list[tuple[str, float, str]] = []
    try:
        csv_path = work / "links.csv"
        write_csv(csv_path, links)
        print(f"  load before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
        rows += measure("SQLite", work / "sqlite", {}, csv_path, links)
        url = postgres_url()
        if url:
            rows += measure("PostgreSQL", work / "pg", {"DATABASE_URL": url}, csv_path, links)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def import_benchmark() -> list[tuple[str, float, str]]:
    """The `import` section of `make bench`."""
    return run(LINKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=LINKS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(json.dumps(run(args.links)))


if __name__ == "__main__":
    main()
