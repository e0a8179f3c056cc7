"""The data volume fills under steady load on the embedded default (issue 33): a real
server (granian, 2 workers) whose DATA_DIR (SQLite, the LMDB counters, the disk cache,
the visit journal) lives on a small tmpfs of the test's own, filled to the last byte for
FULL seconds, then freed. What the visitors got, second by second, and that every visit
answered is written once the disk has room again.

Before: LMDB wrote through its memory map (`writemap`), and a page it touched on the
full volume killed both workers with SIGBUS, the visits they held with them; diskcache,
opened as a thread's first request began, answered the 404 page, the home page and the
API with 500s. Needs root (to mount the tmpfs); skipped otherwise."""

import http.client
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.servers import answer, granian_process, output_of, seeded_site

FULL = 8  # seconds
PYTHON = str(ROOT / ".venv" / "bin" / "python")


@pytest.fixture
def small_volume():
    where = Path(tempfile.mkdtemp(prefix="torii-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)])
        where.rmdir()


def fill(volume: Path) -> Path:
    filler = volume / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
    probe = volume / "probe"
    with pytest.raises(OSError), open(probe, "wb") as handle:
        handle.write(b"x" * 65536)
        handle.flush()
        os.fsync(handle.fileno())
    probe.unlink(missing_ok=True)
    return filler


def create(base: str, token: str):
    parts = urlsplit(base)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        client.request(
            "POST",
            "/api/v1/links",
            body=json.dumps({"target": "https://example.com/no-room"}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = client.getresponse()
        return response.status, response.headers, response.read()
    finally:
        client.close()


@pytest.mark.slow
def test_a_full_data_volume_keeps_links_redirecting_and_loses_no_visit(small_volume):
    data = small_volume / "data"
    env = {
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'torii.sqlite3'}",
        "REDIS_URL": "",
        "VISIT_JOURNAL_DIR": str(data / "visit-journal"),
        "RATE_LIMIT_REDIRECT": "100000/m",  # on: every redirect writes its LMDB bucket
        "SECRET_KEY": "full-disk-" + "k" * 50,
    }
    slugs, token = seeded_site(env)
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    with granian_process(workers=2, env=env) as (base, process):
        started = time.monotonic()

        def load():
            while not stop.is_set():
                try:
                    status = answer(base, f"/{random.choice(slugs)}")[0]
                except OSError:  # a worker gone: what a visitor would see as an error
                    status = 0
                seen.append((time.monotonic() - started, status))
                time.sleep(0.01)

        visitors = [threading.Thread(target=load, daemon=True) for _ in range(2)]
        for visitor in visitors:
            visitor.start()
        time.sleep(2)
        filler = fill(small_volume)
        full_at = time.monotonic() - started
        time.sleep(1)
        pages = {path: answer(base, path) for path in ("/healthz", "/livez", "/", "/nosuch")}
        api = answer(base, "/api/v1/links")
        written = create(base, token)
        time.sleep(FULL - 1)
        filler.unlink()
        freed_at = time.monotonic() - started
        time.sleep(2.5)
        ready_again = answer(base, "/healthz")[0]
        stop.set()
        for visitor in visitors:
            visitor.join(10)
        log = output_of(process)
    by_second = Counter((int(at), status) for at, status in seen)
    during = [status for at, status in seen if full_at < at < freed_at]
    assert len(during) > FULL * 20, by_second
    assert set(status for _, status in seen) == {302}, by_second  # none 500, none dropped
    status, _, body = pages["/healthz"]
    assert status == 503 and b'"journal"' in body  # and "cache", "counters" as they fill
    assert pages["/livez"][0] == 200
    assert pages["/"][0] == 200 and pages["/nosuch"][0] == 404  # the pages still render
    assert api[0] == 401 and api[1]["Content-Type"] == "application/problem+json"
    # A write has no room: 503, a problem document, Retry-After; nothing half-written.
    assert written[0] == 503 and written[1]["Retry-After"] == "30", written
    assert written[1]["Content-Type"] == "application/problem+json"
    assert ready_again == 200
    assert "Unexpected exit from worker" not in log
    assert "Internal Server Error" not in log
    # Graceful stop above: every visit answered is written, once.
    import sqlite3

    with sqlite3.connect(data / "torii.sqlite3") as db:
        visits = db.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]
        links = db.execute("SELECT count(*) FROM shortener_link").fetchone()[0]
    assert visits == len(seen)
    assert links == len(slugs)
    print(f"{len(seen)} requests, {len(during)} while the volume was full, all 302")
