"""The visit flush's cost per visit, with and without the daily rollups.

`recording.write()` runs in each worker's flush thread beside the request threads, so its
CPU time in this process (time it may hold the GIL) matters as much as its wall time.
Batches of FLUSH_BENCH_BATCH visits (default 1,000: about a second of a busy worker)
spread over 50 links and a few days, realistic agents and referrers; each batch written
once with rollups.add() replaced by nothing (the flush before rollups) and once as is,
alternating, on a fresh SQLite database, or on DATABASE_URL when set.

Standalone: `.venv/bin/python bench/flush_cost.py`; `make bench SECTIONS=flush` too.
"""

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
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
REFERRERS = ["", "https://news.example.com/a", "https://t.co/x", "https://www.google.com/"]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    data_dir = None
    if not os.environ.get("DATABASE_URL"):
        data_dir = os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="torii-bench-flush-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    try:
        print(json.dumps(measure(int(os.environ.get("FLUSH_BENCH_BATCH", 1000)))))
    finally:
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def measure(batch: int, rounds: int = 20) -> list[tuple[str, float, str]]:
    from django.db import connection

    from shortener.links.models import Link
    from shortener.visits import recording, rollups

    links = [
        Link.objects.create(slug=f"flush{n}", target="https://example.com/").pk for n in range(50)
    ]
    rng = random.Random(1)  # noqa: S311 - made-up visits, not secrets
    now = time.time()

    def raws():
        return [
            (
                now - rng.choice([0, 0, 0, 86400]),
                rng.choice(links),
                f"198.51.100.{rng.randint(1, 250)}",
                rng.choice(AGENTS),
                rng.choice(REFERRERS),
                rng.choice(["DE", "US", "JP", ""]),  # the country, looked up when buffered
            )
            for _ in range(batch)
        ]

    real_add = rollups.add
    timings: dict[str, list[tuple[float, float]]] = {"without rollups": [], "with rollups": []}
    recording.write(raws())  # warm up: caches, the day's salt, statements
    for _ in range(rounds):
        for name in timings:
            rollups.add = (lambda *args: None) if name == "without rollups" else real_add
            batch_raws = raws()
            wall, cpu = time.perf_counter(), time.process_time()
            recording.write(batch_raws)
            timings[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    rollups.add = real_add
    rows = []
    for name, samples in timings.items():
        wall = statistics.median(w for w, _ in samples) / batch * 1e6
        cpu = statistics.median(c for _, c in samples) / batch * 1e6
        rows += [
            (f"{connection.vendor}: flush {name}, wall per visit", wall, "µs"),
            (f"{connection.vendor}: flush {name}, CPU here per visit", cpu, "µs"),
        ]
    return rows


def section() -> list[tuple[str, float, str]]:
    """The `flush` section of `make bench`: this file in a child process."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, check=True, timeout=900
    )
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


if __name__ == "__main__":
    main()
