"""The data volume turns read-only under steady load on the embedded default (issue 33):
a real server (granian, 2 workers) whose DATA_DIR (SQLite, the LMDB counters, the disk
cache, the visit journal) lives on an ext4 volume of the test's own. The test makes the
file system fail as a dying disk makes it fail (ext4's `trigger_fs_error` with
`errors=remount-ro`: the kernel remounts it read-only at once, open files and all), keeps
it so for OUTAGE seconds under load, stops the server, repairs the volume as an operator
would (unmount, e2fsck, mount) and starts the server again with no traffic. What the
visitors got, second by second, and that every visit answered is in the database within
10 seconds of the restart. Needs root (loop devices, mount); skipped otherwise."""

import http.client
import json
import os
import random
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shortener.models import Visit
from shortener.visits import recording
from tests.conftest import ROOT, make_link
from tests.servers import answer, granian_process, output_of, seeded_site

# Seconds; the figure is for 60: TORII_OUTAGE_SECONDS=60 runs it so (docs/operations.md).
OUTAGE = float(os.environ.get("TORII_OUTAGE_SECONDS", "20"))
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture
def volume():
    """An ext4 file system on a loop device, mounted with errors=remount-ro."""
    where = Path(tempfile.mkdtemp(prefix="torii-ro-"))
    image = where.with_suffix(".img")
    mountpoint = where / "volume"
    mountpoint.mkdir()
    run("truncate", "-s", "160M", str(image))
    made = run("mkfs.ext4", "-q", "-F", str(image))
    mounted = run("mount", "-o", "loop,errors=remount-ro", str(image), str(mountpoint))
    if made.returncode or mounted.returncode:
        pytest.skip(f"cannot mount an ext4 volume here: {(made.stderr + mounted.stderr).strip()}")
    device = Path(run("findmnt", "-n", "-o", "SOURCE", str(mountpoint)).stdout.strip()).name
    trigger = Path("/sys/fs/ext4") / device / "trigger_fs_error"
    if not trigger.exists():
        run("umount", str(mountpoint))
        pytest.skip("this kernel cannot fail an ext4 file system on purpose")

    class Volume:
        path = mountpoint

        def fail(self) -> None:
            trigger.write_text("torii test: the data volume fails\n")
            probe = run("touch", str(mountpoint / "probe"))
            assert "Read-only file system" in probe.stderr, probe

        def repair(self) -> None:
            """What an operator does: unmount, check, mount again."""
            for _ in range(50):
                if not run("umount", str(mountpoint)).returncode:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(run("fuser", "-vm", str(mountpoint)).stderr)
            run("e2fsck", "-fy", str(image))
            again = run("mount", "-o", "loop,errors=remount-ro", str(image), str(mountpoint))
            assert not again.returncode, again.stderr

    try:
        yield Volume()
    finally:
        run("umount", "-l", str(mountpoint))
        image.unlink(missing_ok=True)
        mountpoint.rmdir()
        where.rmdir()


def create(base: str, token: str):
    parts = urlsplit(base)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        client.request(
            "POST",
            "/api/v1/links",
            body=json.dumps({"target": "https://example.com/read-only"}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = client.getresponse()
        return response.status, response.headers, response.read()
    finally:
        client.close()


def stored_visits(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM shortener_visit").fetchone()[0]


@pytest.mark.slow
def test_a_read_only_data_volume_keeps_links_redirecting_and_loses_no_visit(volume, tmp_path):
    data = volume.path / "data"
    spare = tmp_path / "spare-journal"  # off the volume, as the default is
    env = {
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'torii.sqlite3'}",
        "REDIS_URL": "",
        "VISIT_JOURNAL_DIR": str(data / "visit-journal"),
        "VISIT_JOURNAL_SPARE_DIR": str(spare),
        "RATE_LIMIT_REDIRECT": "100000/m",  # on: every redirect writes its LMDB bucket
        "SECRET_KEY": "read-only-" + "k" * 50,
    }
    slugs, token = seeded_site(env)
    seen: list[tuple[float, int]] = []
    health: list[tuple[float, int, bytes]] = []
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
        volume.fail()
        failed_at = time.monotonic() - started
        time.sleep(1)
        pages = {path: answer(base, path) for path in ("/livez", "/", "/nosuch")}
        api = answer(base, "/api/v1/links")
        written = create(base, token)
        halfway = None
        while time.monotonic() - started < failed_at + OUTAGE:
            status, _, body = answer(base, "/healthz")
            health.append((time.monotonic() - started, status, body))
            if halfway is None and time.monotonic() - started > failed_at + OUTAGE / 2:
                halfway = os.fstat(process.log.fileno()).st_size
            time.sleep(1)
        ended_at = time.monotonic() - started
        # The log's second half of the outage: read in place (the server shares the offset).
        end = os.fstat(process.log.fileno()).st_size
        later = os.pread(process.log.fileno(), end - halfway, halfway).decode(errors="replace")
        stop.set()
        for visitor in visitors:
            visitor.join(10)
        log = output_of(process)
    answered = sum(1 for _, status in seen if status == 302)
    by_second = Counter((int(at), status) for at, status in seen)
    during = [status for at, status in seen if failed_at < at < ended_at]
    assert len(during) > OUTAGE * 20, by_second
    assert set(status for _, status in seen) == {302}, by_second  # none 500, none dropped
    assert {status for _, status, _ in health} == {503}, health
    assert all(b'"journal"' in body for _, _, body in health), health
    assert pages["/livez"][0] == 200
    assert pages["/"][0] == 200 and pages["/nosuch"][0] == 404  # the pages still render
    assert api[0] == 401 and api[1]["Content-Type"] == "application/problem+json"
    # A write cannot be stored: 503, a problem document, Retry-After; nothing half-written.
    assert written[0] == 503 and written[1]["Retry-After"] == "30", written
    assert written[1]["Content-Type"] == "application/problem+json"
    assert "Unexpected exit from worker" not in log
    assert "Internal Server Error" not in log
    # Said once a minute per kind and process, not once a request: in the outage's second
    # half, at most the health checks' line (the test asks every second) and a few.
    said = [line for line in later.splitlines() if "Not ready" not in line]
    assert len(said) < 40, later[-5000:]
    # The operator repairs the volume and starts the server again; nobody visits.
    volume.repair()
    with granian_process(workers=2, env=env) as (base, process):
        restarted = time.monotonic()
        while stored_visits(data / "torii.sqlite3") < answered:
            if time.monotonic() - restarted > 10:
                break
            time.sleep(0.2)
        whole_after = time.monotonic() - restarted
    assert stored_visits(data / "torii.sqlite3") == answered, (whole_after, answered)
    assert whole_after < 10
    print(
        f"{len(seen)} requests, {len(during)} in {OUTAGE:.0f} s of a read-only volume, all 302;"
        f" visits whole {whole_after:.1f} s after the restart; the log {log.count(chr(10))} lines,"
        f" {len(said)} in the outage's second half"
    )


# A worker that journals visits, sees its journal's volume fail, goes on journaling in the
# spare directory, and is killed. argv: link id. Its own data directory; no flush.
FAILING_WRITER = """
import os, signal, sys
import django
django.setup()
from shortener.visits import recording
meta = {"REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": "ua"}
for n in range(3):
    recording.buffer.add(int(sys.argv[1]), meta, country="")
print("journaled", flush=True)
sys.stdin.readline()  # the test fails the volume
for n in range(2):
    recording.buffer.add(int(sys.argv[1]), meta, country="")
print(recording.buffer._journal.directory, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.django_db(transaction=True)
def test_visits_journaled_in_the_spare_are_written_once_after_the_volume_is_repaired(
    volume, settings, tmp_path
):
    link = make_link()
    primary, spare = volume.path / "journal", tmp_path / "spare"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(tmp_path / "writer-data"),
        "VISIT_JOURNAL_DIR": str(primary),
        "VISIT_JOURNAL_SPARE_DIR": str(spare),
        "VISIT_FLUSH_SECONDS": "3600",
    }
    writer = subprocess.Popen(
        [PYTHON, "-c", FAILING_WRITER, str(link.pk)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "journaled", writer.stderr.read()
    os.sync()  # the primary's three visits survive the failure: the spare supersedes them
    volume.fail()
    writer.stdin.write("go\n")
    writer.stdin.flush()
    journaling_in = writer.stdout.readline().strip()
    writer.wait(30)
    assert journaling_in == str(spare), writer.stderr.read()
    # Every visit is in the spare, and the primary's files are named as superseded there.
    assert sum(p.read_bytes().count(b"\n") for p in spare.glob("*.journal")) == 5
    assert len(list(spare.glob("*.supersedes"))) == 1
    volume.repair()  # whatever of the primary's files the failing disk kept
    settings.VISIT_JOURNAL_DIR, settings.VISIT_JOURNAL_SPARE_DIR = primary, spare
    try:
        recording.buffer.start()
        assert recording.buffer.recover() == 5
        assert recording.buffer.recover() == 0
    finally:
        recording.buffer.discard()
    assert Visit.objects.filter(link=link).count() == 5
    assert not list(primary.glob("*.journal"))
    assert not list(spare.glob("*.journal")) and not list(spare.glob("*.supersedes"))
