"""A granian worker killed under load (SIGKILL, as the OOM killer does it) is replaced
while the other worker serves on, and leaves nothing behind that hurts the others.

Clients GET a short link without pause, half of them on kept-alive connections (as
browsers) and half on a new connection per request (as scripts and link checkers). A
request counts as answered only when its 302 arrives: a connection cut by the kill is a
failure, never retried, though the client opens a new connection for its next request.
The kill can cost at most the requests the dead worker held; every redirect it answered
is in its visit journal, which another worker writes.
"""

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config.counter_cache import LmdbCounterCache
from shortener.models import Link, Visit
from tests.conftest import ROOT, make_link
from tests.servers import granian_process, status_of, statuses

FLUSH_SECONDS = 0.5
KEPT_ALIVE_CLIENTS = 4
ONE_SHOT_CLIENTS = 4
# Enough requests that the few the kill can cut (about one per client) stay under 1 %.
AT_LEAST_REQUESTS = 2500
LOAD_BEFORE_KILL = 3.0  # seconds
LOAD_AFTER_REPLACEMENT = 1.0
GIVE_UP_AFTER = 25.0  # seconds of load in all, however slow the machine
# A request sent this long after os.kill() returned cannot reach the dead worker's
# journal: SIGKILL takes effect within microseconds, a request needs far longer.
KILL_TAKES_EFFECT = 0.05  # seconds
RECOVERED = re.compile(r"Recovered (\d+) visits journaled by a process that died")


@dataclass
class Answer:
    sent: float  # time.monotonic() when the request went out
    answered: float  # and when its answer (or the failure) came back
    status: int | None  # None: no response (reset, closed, cut short)
    error: str = ""  # what the client saw instead


@dataclass
class Load:
    """Client threads that GET one URL until stopped, recording every attempt."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for keep_alive in [True] * KEPT_ALIVE_CLIENTS + [False] * ONE_SHOT_CLIENTS:
            thread = threading.Thread(target=self._client, args=(keep_alive,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def redirects(self) -> int:
        return sum(answer.status == 302 for answer in self.answers)

    def _client(self, keep_alive: bool) -> None:
        parts = urlsplit(self.url)
        connection = None
        while not self.stopping.is_set():
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            sent, error = time.monotonic(), ""
            try:
                connection.request("GET", parts.path, headers={"User-Agent": "torii-tests/1.0"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as failure:
                status, error = None, type(failure).__name__
            self.answers.append(Answer(sent, time.monotonic(), status, error))  # atomic
            if status is None or not keep_alive:
                connection.close()
                connection = None
            if status is None:
                time.sleep(0.01)  # a client that failed comes back, but not in a busy loop
        if connection is not None:
            connection.close()


def workers_of(main_pid: int) -> set[int]:
    """The live children of granian's main process: its workers."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                state, parent = stat.read().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue  # ended while we looked
        if int(parent) == main_pid and state != "Z":
            children.add(int(entry))
    return children


def tcp_sockets(pid: int, port: int) -> list[tuple[str, int]]:
    """(state, remote port) of each IPv4 TCP socket on `port` that the process holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    sockets = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            columns = line.split()
            local, remote, state, inode = columns[1], columns[2], columns[3], columns[9]
            if inode in inodes and int(local.split(":")[1], 16) == port:
                sockets.append((state, int(remote.split(":")[1], 16)))
    return sockets


LISTEN, ESTABLISHED = "0A", "01"


def is_listening(pid: int, port: int) -> bool:
    try:
        return any(state == LISTEN for state, _ in tcp_sockets(pid, port))
    except OSError:
        return False


def redirects_answered_by(pid: int, load: Load, connections: int = 16) -> int:
    """How many of `connections` fresh connections got their 302 from this worker.

    The kernel spreads new connections over the workers' listening sockets by a hash of
    the client's port; while ours are still open, the worker's own sockets name them.
    These requests are visits too: they join the load's answers.
    """
    parts = urlsplit(load.url)
    opened, answered = [], set()
    try:
        for _ in range(connections):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            opened.append(connection)
            sent = time.monotonic()
            connection.request("GET", parts.path, headers={"User-Agent": "torii-tests/1.0"})
            response = connection.getresponse()
            response.read()
            load.answers.append(Answer(sent, time.monotonic(), response.status))
            if response.status == 302:
                answered.add(connection.sock.getsockname()[1])
        held = {remote for state, remote in tcp_sockets(pid, parts.port) if state == ESTABLISHED}
        return len(answered & held)
    finally:
        for connection in opened:
            connection.close()


def kill_a_worker_under(load: Load, server) -> tuple[int, float, float, float]:
    """Kill one worker amid the load; which, when it was killed, its replacement listening,
    serving."""
    port = urlsplit(load.url).port
    began = time.monotonic()
    while time.monotonic() - began < LOAD_BEFORE_KILL or load.redirects() < 200:
        assert server.poll() is None, "granian's main process exited"
        assert time.monotonic() - began < GIVE_UP_AFTER, "too slow to load the server"
        time.sleep(0.05)

    workers = workers_of(server.pid)
    assert len(workers) == 2
    victim, survivor = sorted(workers)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    replacement = None
    while replacement is None or not is_listening(replacement, port):
        assert server.poll() is None, "granian's main process exited"
        assert time.monotonic() - killed_at < 40, "no replacement worker listening"
        replacement = next(iter(workers_of(server.pid) - {victim, survivor}), None)
        time.sleep(0.02)
    listening_at = time.monotonic()
    assert redirects_answered_by(replacement, load) > 0
    serving_at = time.monotonic()

    while (
        time.monotonic() - serving_at < LOAD_AFTER_REPLACEMENT
        or len(load.answers) < AT_LEAST_REQUESTS
    ) and time.monotonic() - began < GIVE_UP_AFTER:
        time.sleep(0.05)
    load.stop()

    assert server.poll() is None
    assert workers_of(server.pid) == {survivor, replacement}
    # Still serving once the load is over, on both workers.
    assert redirects_answered_by(survivor, load) > 0
    assert redirects_answered_by(replacement, load) > 0
    return victim, killed_at, listening_at, serving_at


def server_log(server) -> str:
    """What granian wrote so far; pread leaves the offset it shares with the server alone."""
    fd = server.log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_replaced_while_the_other_serves(tmp_path):
    link = make_link(target="https://example.com/steady")
    journal = tmp_path / "visit-journal"  # the same for the replacement: it inherits env
    env = {
        "VISIT_FLUSH_SECONDS": str(FLUSH_SECONDS),
        "RATE_LIMIT_REDIRECT": "1000000/m",
        "VISIT_JOURNAL_DIR": str(journal),
    }
    with granian_process(workers=2, env=env) as (url, server):
        load = Load(f"{url}/{link.slug}")
        load.start()
        try:
            victim, killed_at, listening_at, serving_at = kill_a_worker_under(load, server)
        finally:
            load.stop()
        # The replacement writes the dead worker's journal when its flusher starts (its
        # first visit), the survivor within RECOVER_SECONDS: before the graceful stop.
        deadline = time.monotonic() + 30
        while [n for n in os.listdir(journal) if n.startswith(f"{victim}-")] or not (
            RECOVERED.search(server_log(server))
        ):
            assert time.monotonic() < deadline, (
                f"the dead worker's journal is not written: {sorted(os.listdir(journal))}"
            )
            time.sleep(0.1)
        logged = server_log(server)
    recovered = sum(int(n) for n in RECOVERED.findall(logged))
    assert "Traceback" not in logged
    # granian has stopped gracefully: both live workers wrote what they held.
    assert os.listdir(journal) == []

    answers = load.answers
    redirected = load.redirects()
    failed = len(answers) - redirected
    during_respawn = [a for a in answers if killed_at <= a.sent < listening_at]
    # A request the dead worker held may have been journaled before the kill cut its
    # answer short: a visit all the same. Nothing sent after the kill reached it.
    in_flight = sum(a.status is None and a.sent < killed_at + KILL_TAKES_EFFECT for a in answers)
    visits = Visit.objects.filter(link=link).count()
    failures = Counter((a.error, round(a.sent - killed_at, 2)) for a in answers if a.error)
    print(
        f"\n{len(answers)} requests, {redirected / len(answers):.2%} answered with 302 "
        f"({failed} not: what and when after the kill {dict(failures)}); "
        f"replacement listening {listening_at - killed_at:.2f} s after the kill, "
        f"serving by {serving_at - killed_at:.2f} s; "
        f"{sum(a.status == 302 for a in during_respawn)} of {len(during_respawn)} answered "
        f"meanwhile; {visits} visits for {redirected} redirects answered and {in_flight} "
        f"cut short in the dead worker; {recovered} visits recovered from its journal"
    )

    assert redirected >= 0.99 * len(answers)
    assert {a.status for a in answers} <= {302, None}  # nothing answered wrongly
    assert any(a.status == 302 for a in during_respawn), "nobody served during the respawn"
    assert recovered > 0
    # Nothing answered is lost. (A kill between a flush's commit and its unlink would
    # write that batch twice: a window of one unlink in each flush interval.)
    assert redirected <= visits <= redirected + in_flight
    assert Link.objects.get(pk=link.pk).visit_count == visits


def is_granian(pid: int) -> bool:
    """Whether the process still runs granian (and the pid is not reused by another)."""
    try:
        return b"granian" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_workers_stop_and_write_their_visits_when_the_main_process_is_killed():
    link = make_link(target="https://example.com/orphans")
    with granian_process(workers=2, env={"VISIT_FLUSH_SECONDS": "30"}) as (url, server):
        assert set(statuses([f"{url}/{link.slug}"] * 40, processes=2)) == {302}
        workers = workers_of(server.pid)
        assert len(workers) == 2
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        try:
            deadline = time.monotonic() + 30
            while alive := {pid for pid in workers if is_granian(pid)}:
                assert time.monotonic() < deadline, f"workers {alive} serve on, orphaned"
                time.sleep(0.1)
        finally:
            for pid in workers:
                if is_granian(pid):  # ours, left behind by a failure
                    os.kill(pid, signal.SIGKILL)
        with pytest.raises(ConnectionRefusedError):
            status_of(f"{url}/{link.slug}")
    # Nothing flushed by the clock (30 s): every visit was written by a graceful stop.
    assert Visit.objects.filter(link=link).count() == 40


# The counters of the embedded default (LMDB) in a process of their own: a worker that
# opens them, reads a counter, and is killed before the read ends; then its replacement.
COUNTERS_OPTIONS = {"OPTIONS": {"MAP_SIZE": 1 << 20}}  # 1 MiB: full soon if pages leak
KILLED_MID_READ = f"""
import os, signal, sys
from config.counter_cache import LmdbCounterCache
env, values, _ = LmdbCounterCache(sys.argv[1], {COUNTERS_OPTIONS})._env()
transaction = env.begin(db=values)
transaction.get(b"hits")
os.kill(os.getpid(), signal.SIGKILL)
"""
REPLACEMENT = f"""
import sys
from config.counter_cache import LmdbCounterCache
LmdbCounterCache(sys.argv[1], {COUNTERS_OPTIONS}).get("hits")
"""


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, timeout=60
    )


def test_counters_keep_counting_after_a_worker_died_mid_read(tmp_path):
    # LMDB keeps a dead reader's snapshot, and every page written after it, until
    # someone clears the reader's slot; the workers that lived on would fill the map.
    survivor = LmdbCounterCache(str(tmp_path), COUNTERS_OPTIONS)  # open all along
    survivor.set("hits", 0)
    assert run_python(KILLED_MID_READ, str(tmp_path)).returncode == -signal.SIGKILL
    assert run_python(REPLACEMENT, str(tmp_path)).returncode == 0

    for _ in range(3000):  # each write takes fresh pages: without reuse, far over 1 MiB
        survivor.incr("hits")
    assert survivor.get("hits") == 3000
