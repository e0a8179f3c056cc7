"""Backup and restore benchmark: `manage.py backup` and `manage.py restore` of an instance
with BACKUP_BENCH_LINKS links (default 1,000,000) and BACKUP_BENCH_VISITS visits (default
10,000,000), on the embedded default (SQLite) and on PostgreSQL (STATS_BENCH_PG, databases
of its own, made and dropped), each as the real commands in processes of their own.

Each runs twice, at a tenth of the size and at the whole: the peak resident memory of
the backup and restore processes at both says whether memory stays flat as the data
grows. The data is seeded as `bench.stats` seeds it (visits made by the database);
rollups are derived data and built only with BACKUP_BENCH_ROLLUPS=1 (they take longer
to build than everything here takes to run). The restore goes into a fresh data
directory or a fresh database, and its row counts are compared with the source's.
Goal (issue 26): under 5 minutes each on this machine. The way out is timed beside them:
`export_redirects --format nginx` of the source's live links.

`make bench SECTIONS=backup`; BACKUP_BENCH_DATABASES=sqlite runs one database.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.redirects import torii_env
from bench.stats import admin

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(Path(sys.executable))
GOAL_SECONDS = 300


def sizes() -> tuple[int, int]:
    return (
        int(os.environ.get("BACKUP_BENCH_LINKS", 1_000_000)),
        int(os.environ.get("BACKUP_BENCH_VISITS", 10_000_000)),
    )


def section() -> list[tuple[str, float, str]]:
    pg = os.environ.get("STATS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    wanted = os.environ.get("BACKUP_BENCH_DATABASES", "sqlite,postgresql").split(",")
    links, visits = sizes()
    rows = []
    for vendor in [v for v in ("sqlite", "postgresql") if v in wanted]:
        small = run_one(vendor, pg, links // 10, visits // 10)
        whole = run_one(vendor, pg, links, visits)
        for label, figure in whole.items():
            rows.append((f"{vendor}: {label} ({links:,} links, {visits:,} visits)", *figure))
        for step in ("backup", "restore", "nginx map"):
            grown = whole[f"{step} peak memory"][0] / small[f"{step} peak memory"][0]
            rows.append((f"{vendor}: {step} memory at 10x the data, over 1x", grown, "x"))
    return rows


def run_one(vendor: str, pg: str, links: int, visits: int) -> dict[str, tuple[float, str]]:
    work = Path(tempfile.mkdtemp(prefix="torii-bench-backup-"))
    source, target = work / "source", work / "target"
    source.mkdir()
    target.mkdir()
    databases = [f"backup_bench_{name}_{os.getpid()}" for name in ("source", "target")]
    env = {**torii_env(source), "RATE_LIMIT_API": "off"}
    restored_env = {**torii_env(target), "RATE_LIMIT_API": "off"}
    for environment in (env, restored_env):
        environment.pop("DATABASE_URL", None)
        environment.pop("REDIS_URL", None)
    if vendor == "postgresql":
        for database in databases:
            admin(pg, f"DROP DATABASE IF EXISTS {database}")
            admin(pg, f"CREATE DATABASE {database}")
        env["DATABASE_URL"] = f"{pg}/{databases[0]}"
        restored_env["DATABASE_URL"] = f"{pg}/{databases[1]}"
    try:
        started = time.perf_counter()
        seed(env, links, visits)
        seeded = time.perf_counter() - started
        file = work / "torii.backup"
        backup_seconds, backup_peak = timed([PYTHON, "manage.py", "backup", str(file)], env)
        restore_seconds, restore_peak = timed(
            [PYTHON, "manage.py", "restore", str(file)], restored_env
        )
        exit_file = work / "torii-redirects.nginx.conf"
        exit_seconds, exit_peak = timed(
            [
                PYTHON,
                "manage.py",
                "export_redirects",
                "--format",
                "nginx",
                "--output",
                str(exit_file),
            ],
            env,
        )
        before, after = counts(vendor, env), counts(vendor, restored_env)
        if before != after:
            raise RuntimeError(f"the restore differs from its source: {before} != {after}")
        print(
            f"  {vendor}, {links:,} links and {visits:,} visits (seeded in {seeded:.0f} s): "
            f"backup {backup_seconds:.0f} s ({file.stat().st_size / 1e6:,.0f} MB, peak "
            f"{backup_peak:.0f} MB), restore {restore_seconds:.0f} s (peak {restore_peak:.0f} "
            f"MB), rows equal ({before}); nginx map {exit_seconds:.0f} s "
            f"({exit_file.stat().st_size / 1e6:,.0f} MB, peak {exit_peak:.0f} MB); goal under "
            f"{GOAL_SECONDS} s each; load "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        return {
            "backup": (backup_seconds, "s"),
            "backup peak memory": (backup_peak, "MB"),
            "backup file": (file.stat().st_size / 1e6, "MB"),
            "restore": (restore_seconds, "s"),
            "restore peak memory": (restore_peak, "MB"),
            "nginx map of the live redirects": (exit_seconds, "s"),
            "nginx map peak memory": (exit_peak, "MB"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if vendor == "postgresql":
            for database in databases:
                admin(pg, f"DROP DATABASE IF EXISTS {database}")


def seed(env: dict[str, str], links: int, visits: int) -> None:
    """bench.stats' seeding child: the links, one viral link's tenth of the visits and the
    rest spread over the others, made by the database."""
    sized = {
        "STATS_BENCH_LINKS": str(links),
        "STATS_BENCH_VISITS": str(visits),
        "STATS_BENCH_LINK_VISITS": str(visits // 10),
        "STATS_BENCH_ROLLUPS": os.environ.get("BACKUP_BENCH_ROLLUPS", "0"),
    }
    done = subprocess.run(
        [PYTHON, "-m", "bench.stats", "seed"],
        cwd=ROOT,
        env={**env, **sized},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode:
        raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak resident MB of one command, in a process of its own."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    output = child.stdout.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{' '.join(command[1:3])} failed ({child.returncode}): {output}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def counts(vendor: str, env: dict[str, str]) -> dict[str, int]:
    tables = ("shortener_link", "shortener_visit", "auth_user")
    if vendor == "postgresql":
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608
    with sqlite3.connect(Path(env["DATA_DIR"]) / "torii.sqlite3") as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608
