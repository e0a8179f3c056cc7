"""API benchmark: link creation (requests/s, p99) and listing 100 a page over 100,000 links (p99).

Runs standalone: `.venv/bin/python bench/api.py [--links 100000] [--creates 500] [--pages 200]`.
Requests go through the whole Django stack (middleware, the flag, token lookup, ninja,
the forms) in this process, with no HTTP server in between, on a fresh SQLite database in
a temporary directory — or on DATABASE_URL when it is set (a database the bench may fill).
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 50.0


def setup() -> str | None:
    """Django on a fresh SQLite database in a new temporary directory (returned), or on
    DATABASE_URL (None)."""
    sys.path.insert(0, str(ROOT))
    data_dir = None
    if not os.environ.get("DATABASE_URL"):
        data_dir = os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="torii-bench-api-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    # This measures the API; the limiter's own cost is in the rate-limit bench.
    os.environ.setdefault("RATE_LIMIT_CREATE", "off")
    os.environ.setdefault("RATE_LIMIT_API", "off")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return data_dir


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000


def timed(call) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): on a shared machine the second shows
    what the request itself cost when the first includes waiting for a core."""
    wall, cpu = time.perf_counter(), time.process_time()
    response = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert response.status_code < 300, response.content[:300]
    return wall, cpu


ROWS: list[tuple[str, float, str]] = []  # (label, value, unit) for `make bench`


def report(label: str, samples: list[tuple[float, float]], extra: str = "") -> float:
    walls = [wall for wall, _ in samples]
    cpus = [cpu for _, cpu in samples]
    ROWS.append((f"{label.split(':')[0].strip()} p99", p99(walls), "ms"))
    print(
        f"{label} p99 {p99(walls):6.1f} ms, median {statistics.median(walls) * 1000:5.1f} ms "
        f"(CPU here: p99 {p99(cpus):5.1f} ms){extra}"
    )
    return p99(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="end with the rows as JSON")
    args = parser.parse_args()
    data_dir = setup()
    try:
        run(args)
    finally:
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(ROWS))


def api_benchmark() -> list[tuple[str, float, str]]:
    """The `api` section of `make bench`: this file in a child process, on its own database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, __file__, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    lines = done.stdout.strip().splitlines()
    print("\n".join(f"  {line}" for line in lines[:-1]))
    return [tuple(row) for row in json.loads(lines[-1])]


def run(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from flags.models import FeatureFlag
    from shortener.links.models import Link
    from shortener.tokens import personal as tokens

    FeatureFlag.objects.update_or_create(name="api_v1", defaults={"everyone": True})
    user, _ = get_user_model().objects.get_or_create(username="bench")
    _, raw = tokens.issue(user, "bench")
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")

    def create(n: int):
        body = {"target": f"https://example.com/bench/{n}", "tags": ["bench"]}
        return client.post("/api/v1/links", json.dumps(body), content_type="application/json")

    create(0)  # warm up: imports, connections, the flag cache
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f}, {connection.vendor}")
    started = time.perf_counter()
    samples = [timed(lambda n=n: create(n)) for n in range(1, args.creates + 1)]
    wall = time.perf_counter() - started
    ROWS.append(("API create", args.creates / wall, "req/s"))
    report(f"API create:  {args.creates / wall:6.0f} req/s,", samples)

    missing = args.links - Link.objects.filter(owner=user).count()
    now = timezone.now()
    batch = [
        Link(slug=f"b{n:09d}", target=f"https://example.com/{n}", owner=user, created_at=now)
        for n in range(max(missing, 0))
    ]
    Link.objects.bulk_create(batch, batch_size=5000)
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load: planner statistics and the
        # visibility map that index-only scans (the count) rely on.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE shortener_link")
    total = Link.objects.filter(owner=user).count()
    last_page = -(-total // 100)
    pages = [1, 2, last_page] + [
        random.randint(1, last_page)  # noqa: S311 - sampling pages, not secrets
        for _ in range(args.pages - 3)
    ]
    client.get("/api/v1/links?per_page=100")  # warm up
    samples = [
        timed(lambda page=page: client.get(f"/api/v1/links?per_page=100&page={page}"))
        for page in pages
    ]
    worst = p99([wall for wall, _ in samples])
    verdict = "ok" if worst < TARGET_P99_MS else f"OVER the {TARGET_P99_MS:.0f} ms target"
    report(
        f"API list 100 a page of {total:,} links ({len(pages)} random pages):",
        samples,
        f" — {verdict}",
    )


if __name__ == "__main__":
    main()
