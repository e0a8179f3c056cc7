"""Receiver latency: N signed POSTs to /webhooks/<source>/, then p50/p90/p99/max.

    .venv/bin/python bench/webhooks.py [-n 1000] [--rate 50]      # in-process, embedded default
    .venv/bin/python bench/webhooks.py --url http://127.0.0.1:8000/webhooks/cms/ --secret whsec_…

In-process (the default), it builds a fresh SQLite database and cache in a temporary
DATA_DIR, creates a source, starts `manage.py task_worker` on the same database (so the
worker's polling competes for SQLite's lock as in production) and times each request
through Django's full middleware stack. With --url it signs and POSTs over HTTP to a
running server. --rate paces the deliveries (per second); without it they go back to
back, which also keeps the worker busy the whole time. In-process, the `webhook` rate
limit is raised to 1000000/m unless RATE_LIMIT_WEBHOOK is set, and 20 untimed deliveries
warm the process up; timing starts once the worker has processed them. A benchmark, not
a test: it measures and prints.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 20  # deliveries sent and not timed before an in-process run


def body_for(index: int) -> str:
    data = {"url": f"https://example.com/articles/{index}", "title": f"Article {index}"}
    return json.dumps({"type": "link.create", "data": data})


def signed(secret: str, text: str) -> dict[str, str]:
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, text),
    }


def paced(count: int, rate: float):
    """Indexes 0..count-1, each no sooner than its slot at `rate` per second (0: at once)."""
    began = time.perf_counter()
    for index in range(count):
        if rate:
            time.sleep(max(0.0, began + index / rate - time.perf_counter()))
        yield index


def over_http(url: str, secret: str, count: int, rate: float):
    timings, statuses = [], {}
    for index in paced(count, rate):
        text = body_for(index)
        headers = {**signed(secret, text), "Content-Type": "application/json"}
        request = urllib.request.Request(url, text.encode(), headers, method="POST")  # noqa: S310
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        timings.append(time.perf_counter() - start)
        statuses[status] = statuses.get(status, 0) + 1
    return timings, statuses


def in_process(count: int, rate: float, worker: bool):
    data_dir = tempfile.mkdtemp(prefix="torii-bench-")
    os.environ.update(DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="config.settings")
    # The rate limiter still counts every delivery (its cost is measured), but a limit
    # of 600/m would turn most of the run into 429s.
    os.environ.setdefault("RATE_LIMIT_WEBHOOK", "1000000/m")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from shortener.events.models import WebhookSource

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench")
    source = WebhookSource.objects.create(name="bench", owner=owner)
    secret = source.add_secret()
    process = None
    if worker:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "task_worker", "--no-startup-delay"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    client = Client(HTTP_HOST="localhost")

    def post(index: int) -> tuple[float, int]:
        text = body_for(index)
        headers = {
            f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(secret, text).items()
        }
        start = time.perf_counter()
        response = client.post("/webhooks/bench/", text, content_type="application/json", **headers)
        return time.perf_counter() - start, response.status_code

    timings, statuses = [], {}
    try:
        for index in range(WARM_UP):  # a fresh process's first requests build its caches
            post(count + index)
        if process:
            wait_for_worker(WARM_UP)
        for index in paced(count, rate):
            elapsed, status = post(index)
            timings.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
    return timings, statuses


def wait_for_worker(processed: int, timeout: float = 60) -> None:
    from shortener.events.models import EventStatus, WebhookEvent

    deadline = time.monotonic() + timeout
    while WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() < processed:
        if time.monotonic() > deadline:
            raise TimeoutError("task_worker processed nothing; is it running?")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0, help="deliveries a second (0: flat out)")
    parser.add_argument("--url", help="POST to a running server instead of in-process")
    parser.add_argument("--secret", help="the source's secret (with --url)")
    parser.add_argument("--no-worker", action="store_true", help="in-process without task_worker")
    args = parser.parse_args()
    if args.url and not args.secret:
        parser.error("--url needs --secret")
    if args.url:
        timings, statuses = over_http(args.url, args.secret, args.count, args.rate)
    else:
        timings, statuses = in_process(args.count, args.rate, worker=not args.no_worker)
    cuts = statistics.quantiles([t * 1000 for t in timings], n=100, method="inclusive")
    where = args.url or "in-process, embedded default (SQLite + diskcache)"
    where += f", {args.rate:g}/s" if args.rate else ", back to back"
    print(f"webhook receiver: {len(timings)} signed POSTs, {where}")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    slowest = sorted(range(len(timings)), key=timings.__getitem__)[-5:]
    print("slowest (index: ms):", ", ".join(f"{i}: {timings[i] * 1000:.0f}" for i in slowest))
    print(
        f"p50 {cuts[49]:.1f} ms  p90 {cuts[89]:.1f} ms  p99 {cuts[98]:.1f} ms  "
        f"max {max(timings) * 1000:.1f} ms"
    )


def section() -> list[tuple[str, float, str]]:
    """For `make bench` (bench/run.py): a fresh process, since this needs its own DATA_DIR."""
    rows = []
    for label, extra in [("back to back", []), ("50 a second", ["--rate", "50", "-n", "500"])]:
        result = subprocess.run(
            [sys.executable, "-m", "bench.webhooks", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for name, value in re.findall(r"(p50|p90|p99|max) ([0-9.]+) ms", result.stdout):
            rows.append((f"webhook receiver, {label}, worker running: {name}", float(value), "ms"))
    return rows


if __name__ == "__main__":
    main()
