"""Start Torii's production server (granian) for tests that need real worker processes."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, test_database_url


def answer(url: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One GET to a test server, as a visitor's client sends it."""
    parts = urlsplit(url)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        client.request("GET", path, headers={"User-Agent": "torii-tests/1.0"})
        response = client.getresponse()
        return response.status, response.headers, response.read()
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STATIC_ROOT = ROOT / "data" / "test-static"


def collected_static(env: dict[str, str]) -> None:
    """The production server needs collectstatic's manifest, as `make run` makes it."""
    if not (STATIC_ROOT / "staticfiles.json").exists() or _static_is_stale():
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "python"),
                "manage.py",
                "collectstatic",
                "--noinput",
                "-v0",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )


def _static_is_stale() -> bool:
    manifest = (STATIC_ROOT / "staticfiles.json").stat().st_mtime
    return any(path.stat().st_mtime > manifest for path in (ROOT / "static").rglob("*"))


@contextmanager
def granian(workers: int = 2, env: dict[str, str] | None = None):
    """Yield the base URL of granian serving config.wsgi on the test database."""
    with granian_process(workers, env) as (url, _):
        yield url


@contextmanager
def granian_process(workers: int = 2, env: dict[str, str] | None = None, ready="/healthz"):
    """Yield the base URL and granian's main process, started as `make run` starts it;
    up when `ready` answers 200 (`/livez` for a server started with a part away)."""
    port = free_port()
    # A journal directory of its own (kept across respawns): the journal a killed test
    # server leaves is never written into another test's database rows.
    journal = tempfile.TemporaryDirectory(prefix="torii-visit-journal-")
    full_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "STATIC_ROOT": str(STATIC_ROOT),
        "VISIT_FLUSH_SECONDS": "0.2",
        "VISIT_JOURNAL_DIR": journal.name,
        "PORT": str(port),  # as the Makefile exports it for `make run`
        **(env or {}),
    }
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    collected_static(full_env)
    # A file, not a pipe: nobody reads a pipe until the end, and a server that logs
    # more than the pipe holds (64 KiB) blocks its workers in the middle of a test.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed after stop() below
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            "4",
            "--respawn-failed-workers",
            "--no-ws",
            "--log-level",
            "warning",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, ready=ready)
        yield url, process
    finally:
        print(stop(process))  # pytest shows it when the test fails
        log.close()
        journal.cleanup()


def wait_until_up(
    url: str, process: subprocess.Popen, timeout: float = 30, ready: str = "/healthz"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"granian exited: {output_of(process)}")
        try:
            with urllib.request.urlopen(f"{url}{ready}", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"granian did not answer on {url}")


def stop(process: subprocess.Popen) -> str:
    """Graceful stop, as an operator's SIGTERM would do it; returns the server's output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return output_of(process)


def output_of(process: subprocess.Popen) -> str:
    log = getattr(process, "log", None)
    if log is None:
        return process.stdout.read().decode(errors="replace") if process.stdout else ""
    log.seek(0)
    return log.read().decode(errors="replace")


def status_of(url: str) -> int:
    """GET without following redirects; the status code."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path or "/", headers={"User-Agent": "torii-tests/1.0"})
        return connection.getresponse().status
    finally:
        connection.close()


def statuses(urls: list[str], processes: int = 4) -> list[int]:
    """Request every URL from several client processes at once."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=processes) as pool:
        return list(pool.map(status_of, urls, chunksize=8))


@contextmanager
def own_redis(port: int):
    """A throwaway redis-server of our own (never the shared one), without persistence."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


def seeded_site(env: dict[str, str], links: int = 30) -> tuple[list[str], str]:
    """Migrate the site `env` names and give it a user with `links` plain links and an
    API token, as a fault test's server will serve them: (the slugs, the raw token)."""
    full_env = {**os.environ, **env}
    full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full_env, check=True)
    made = subprocess.run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            "from shortener import links; from django.contrib.auth import get_user_model;"
            "u = get_user_model().objects.create_user('o');"
            "from shortener.tokens.personal import issue;"
            "print(' '.join(links.create({'target': f'https://example.com/{i}'}, actor=u).slug"
            f" for i in range({links:d})));"
            "print(issue(u, 'test')[1])",
        ],
        cwd=ROOT,
        env=full_env,
        check=True,
        capture_output=True,
        text=True,
    )
    *_, listed, token = made.stdout.strip().splitlines()
    return listed.split(), token
