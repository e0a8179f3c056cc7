"""Exact across processes: two granian workers, bursts from several client processes.

With a limit of L per window, exactly L requests pass however the requests are
spread over workers and clients; every refusal carries Retry-After and the
RateLimit fields; a forged X-Forwarded-For buys nothing. Runs on the embedded
cache always and on Redis when REDIS_URL is set.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django_ratelimit.core import _get_window

from tests.conftest import ROOT, run_manage, test_database_url

# The workers only need the test database to exist (for /healthz), not to see our writes.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

LIMIT = 25
WINDOW = "d"  # a day-long window, so a burst never straddles a window boundary
CLIENTS = 4
THREADS = 4
REQUESTS_PER_THREAD = 10

BURST = """
import json, random, sys, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

base, count = sys.argv[1], int(sys.argv[2])

def one(n):
    headers = {}
    if n % 2:  # half the requests forge a fresh client address
        headers["X-Forwarded-For"] = f"203.0.113.{random.randint(1, 254)}"
    request = urllib.request.Request(base + "/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return [response.status, {k.lower(): v for k, v in response.headers.items()}]
    except urllib.error.HTTPError as error:
        return [error.code, {k.lower(): v for k, v in error.headers.items()}]

with ThreadPoolExecutor(int(sys.argv[3])) as pool:
    print(json.dumps(list(pool.map(one, range(count)))))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(cache: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DEBUG": "false"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if cache == "embedded":
        env["REDIS_URL"] = ""  # empty, not absent: run_manage merges os.environ back in
    env["RATE_LIMIT_DEFAULT"] = f"{LIMIT}/{WINDOW}"
    return env


def wait_until_serving(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "granian exited during start-up"
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("granian did not answer /healthz within 60 s")


def wait_clear_of_window_end() -> None:
    # Our key for these clients; a window ending mid-burst would allow up to 2L.
    seconds_left = _get_window("ip:127.0.0.1", 86400) - time.time()
    if seconds_left < 30:
        time.sleep(seconds_left + 2)


@pytest.fixture
def granian(request):
    cache = request.param
    if cache == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    env = server_env(cache)
    collected = run_manage("collectstatic", "--noinput", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr  # DEBUG=false pages need the manifest
    # Start from empty counters in the cache the workers use, which is not the
    # test process's own when this runs on Redis and the workers on the embedded one.
    cleared = run_manage(
        "shell", "-c", "from django.core.cache import caches; caches['counters'].clear()", env=env
    )
    assert cleared.returncode == 0, cleared.stderr
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "granian"),
            "--interface", "wsgi",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", "2",
            "--blocking-threads", "4",
            "--no-ws",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def burst(base: str) -> list[tuple[int, dict]]:
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", BURST, base, str(THREADS * REQUESTS_PER_THREAD), str(THREADS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CLIENTS)
    ]
    answers = []
    for client in clients:
        output, _ = client.communicate(timeout=180)
        assert client.returncode == 0
        answers.extend((status, headers) for status, headers in json.loads(output))
    return answers


@pytest.mark.parametrize("granian", ["embedded", "redis"], indirect=True)
def test_two_workers_pass_exactly_the_limit(granian):
    wait_clear_of_window_end()
    answers = burst(granian)
    statuses = [status for status, _ in answers]
    assert len(statuses) == CLIENTS * THREADS * REQUESTS_PER_THREAD
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) == LIMIT

    for status, headers in answers:
        if status != 429:
            continue
        assert int(headers["retry-after"]) >= 1
        assert headers["ratelimit-policy"] == f'"default";q={LIMIT};w=86400'
        assert headers["ratelimit"] == f'"default";r=0;t={headers["retry-after"]}'
