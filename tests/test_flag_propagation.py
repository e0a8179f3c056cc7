"""A flag flipped on the board reaches both worker processes of a real server at once.

granian runs the site with two workers on the test database; a staff member flips a
flag on one worker's board, and the board (its "For you" line, which asks waffle, so
the shared cache) and the read_only switch (a POST refused with 503) are read through
many fresh connections, so both workers answer. The first requests after the change
see it: timed in seconds instead, the bound failed on a loaded machine, where the
requests themselves took longer than the bound.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flags.models import FeatureFlag
from tests.conftest import ROOT, test_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GRANIAN = Path(sys.executable).parent / "granian"
REQUESTS_PER_ROUND = 16  # over 8 parallel connections: both workers answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    log_path = tmp_path / "granian.log"
    port = free_port()
    # DEBUG serves unhashed static names, so no `collectstatic` is needed for the pages.
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DEBUG": "true"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [
        *(GRANIAN, "--interface", "wsgi", "--workers", "2", "--blocking-threads", "2"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-ws", "config.wsgi:application"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, log_path)
        yield base
        print(log_path.read_text()[-3000:])  # shown when a test fails
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_serving(base: str, process, log_path: Path) -> None:
    """Until /healthz answers and granian's log says both workers started."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200 and "Started worker-2" in log_path.read_text():
                    return
        except OSError:  # refused, reset, or a worker still starting past the timeout
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"granian did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)


def fetch(url: str, cookies: str, data: bytes | None = None, headers=None) -> tuple[int, str]:
    """One request on a fresh connection, redirects not followed."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(
            "GET" if data is None else "POST",
            parts.path,
            body=data,
            headers={"Cookie": cookies, **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def seen_by_workers(ask) -> set:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return set(pool.map(lambda _: ask(), range(REQUESTS_PER_ROUND)))


def test_a_flag_flipped_on_the_board_is_seen_by_both_workers_at_once(server, client):
    from django.contrib.auth import get_user_model

    FeatureFlag.objects.create(name="demo", everyone=False, superusers=False)
    client.force_login(get_user_model().objects.create_user("stella", is_staff=True))
    csrf = "x" * 32  # a CSRF secret we choose: cookie and header agree
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"

    def for_you() -> str:
        status, body = fetch(f"{server}/flags/", cookies)
        assert status == 200
        row = body[body.index('id="flag-demo"') :]
        return re.search(r"For you: (on|off)", row).group(1)

    assert seen_by_workers(for_you) == {"off"}  # both workers have read (and cached) it

    status, _ = fetch(
        f"{server}/flags/flag/demo/",
        cookies,
        data=b"action=on&confirmed=on",
        headers={"X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 303
    assert seen_by_workers(for_you) == {"on"}


def test_the_read_only_switch_reaches_both_workers_at_once(server):
    from waffle import get_waffle_switch_model

    switch, _ = get_waffle_switch_model().objects.get_or_create(name="read_only")

    def answer_to_a_write() -> int:
        # No CSRF token: 403 while writable, 503 (checked first) in maintenance.
        return fetch(f"{server}/", "", data=b"")[0]

    assert seen_by_workers(answer_to_a_write) == {403}
    switch.active = True
    switch.save()  # as admin or the board would; waffle flushes the shared cache
    assert seen_by_workers(answer_to_a_write) == {503}
    switch.active = False
    switch.save()
    assert seen_by_workers(answer_to_a_write) == {403}
