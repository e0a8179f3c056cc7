"""The container (Containerfile, config/container/, compose.yaml) runs what `make run` runs.

The fast tests need no podman: they run the entrypoint with stand-ins for python and
granian that record their arguments, and compare them with `make -n run`. The real build
and run (`make image`, podman on 127.0.0.1) runs only with TORII_CONTAINER_TEST=1.
"""

import http.client
import http.server
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest
import yaml
from django.db.utils import OperationalError

from tests.conftest import ROOT
from tests.servers import free_port

ENTRYPOINT = ROOT / "config" / "container" / "entrypoint.sh"
RUN_SETTINGS = ("HOST", "PORT", "WEB_CONCURRENCY", "GRANIAN_THREADS")


def instructions(path) -> list[tuple[str, str]]:
    """A Containerfile's instructions, continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (line.strip() for line in text.splitlines())
        if line
    ]


def image_env() -> dict[str, str]:
    """The image's defaults for what `make run` reads (HOST, PORT, ...)."""
    env = {}
    for instruction, args in instructions(ROOT / "Containerfile"):
        if instruction == "ENV":
            env.update(token.split("=", 1) for token in shlex.split(args))
    return {name: env[name] for name in RUN_SETTINGS}


def commands_of_make_run() -> list[list[str]]:
    """The manage.py and granian commands `make run` runs, with the image's settings."""
    settings = [f"{name}={value}" for name, value in image_env().items()]
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *settings],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    found = re.findall(r"\.venv/bin/(?:python manage\.py|granian)\b[^;&\n]*", printed)
    return [shlex.split(command.replace(".venv/bin/", "")) for command in found]


def run_entrypoint(tmp_path, *args, env=None) -> tuple[subprocess.CompletedProcess, list]:
    """The entrypoint with python and granian replaced by recorders of their arguments."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    log = tmp_path / "commands.jsonl"
    for name in ("python", "granian"):
        recorder = fake / name
        recorder.write_text(
            "#!/bin/sh\n"
            f"\"{sys.executable}\" -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
            f' {name} "$@" >>"$COMMANDS"\n'
        )
        recorder.chmod(0o755)
    full_env = {
        "PATH": f"{fake}:/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
        "COMMANDS": str(log),
        **(env or {}),
    }
    result = subprocess.run(
        [str(ENTRYPOINT), *args], env=full_env, capture_output=True, text=True, timeout=30
    )
    commands = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, commands


def test_web_role_runs_make_runs_commands_but_the_worker(tmp_path):
    result, commands = run_entrypoint(tmp_path, "web", env=image_env())
    assert result.returncode == 0, result.stderr
    make_run = {tuple(command) for command in commands_of_make_run()}
    granian = next(command for command in commands if command[0] == "granian")
    assert tuple(granian) in make_run  # every flag, the same values
    assert commands == [
        ["python", "config/container/wait.py", "database"],
        ["python", "manage.py", "migrate", "--noinput"],
        ["python", "manage.py", "bootstrap_admin"],
        ["python", "manage.py", "reset_metrics"],  # every start counts from zero
        granian,
    ]
    for command in commands[1:4]:
        assert tuple(command) in make_run


def test_web_role_migrates_under_a_lock_on_the_data_volume():
    script = ENTRYPOINT.read_text()
    assert 'flock "$DATA_DIR/.migrate.lock" python manage.py migrate --noinput' in script


def test_worker_role_waits_for_the_migrations_then_runs_make_runs_task_worker(tmp_path):
    result, commands = run_entrypoint(tmp_path, "worker")
    assert result.returncode == 0, result.stderr
    db_worker = next(
        c for c in commands_of_make_run() if c[:3] == ["python", "manage.py", "task_worker"]
    )
    assert commands == [
        ["python", "config/container/wait.py", "migrations"],
        ["python", "manage.py", "reset_metrics"],
        db_worker,
    ]
    assert ["python", "manage.py", "reset_metrics"] in commands_of_make_run()


def test_collectstatic_runs_in_the_image_build_as_make_run_runs_it():
    runs = [
        args for instruction, args in instructions(ROOT / "Containerfile") if instruction == "RUN"
    ]
    collect = next(run for run in runs if "manage.py collectstatic" in run)
    command = shlex.split(collect.split("&&")[0])
    collectstatic = next(c for c in commands_of_make_run() if "collectstatic" in c)
    assert [token for token in command if "=" not in token] == collectstatic
    assert "SECRET_KEY=" in collect and "DATA_DIR=/tmp/" in collect  # no key in a layer


def test_manage_role_passes_its_arguments_and_an_unknown_role_is_refused(tmp_path):
    result, commands = run_entrypoint(tmp_path, "manage", "shell", "-c", "print(1)")
    assert result.returncode == 0
    assert commands == [["python", "manage.py", "shell", "-c", "print(1)"]]

    (tmp_path / "unknown").mkdir()
    result, commands = run_entrypoint(tmp_path / "unknown", "serve")
    assert result.returncode == 64
    assert "unknown role 'serve'" in result.stderr
    assert commands == []


def test_image_runs_as_torii_not_root_with_a_healthcheck_and_the_entrypoint():
    steps = instructions(ROOT / "Containerfile")
    users = [args for instruction, args in steps if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [args for instruction, args in steps if instruction == "HEALTHCHECK"]
    assert '"/app/config/container/entrypoint.sh", "healthcheck"' in healthcheck
    (entrypoint,) = [args for instruction, args in steps if instruction == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/app/config/container/entrypoint.sh"]
    assert ("VOLUME", "/data") in steps and ("CMD", '["web"]') in steps
    install = next(args for instruction, args in steps if "pip install" in args)
    assert "--no-index" in install and "-r /app/requirements.txt" in install
    assert image_env() == {
        "HOST": "0.0.0.0",  # inside the container; compose publishes the port on 127.0.0.1
        "PORT": "8000",
        "WEB_CONCURRENCY": "2",
        "GRANIAN_THREADS": "2",
    }


class Health(http.server.BaseHTTPRequestHandler):
    status = 200
    hosts: list[str] = []
    paths: list[str] = []

    def do_GET(self):
        Health.hosts.append(self.headers["Host"])
        Health.paths.append(self.path)
        self.send_response(Health.status if self.path in ("/livez", "/readyz") else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    "status, exit_code, env, host",
    [
        (200, 0, {"ALLOWED_HOSTS": "go.example.com,.example.org"}, "go.example.com"),
        (503, 1, {"ALLOWED_HOSTS": "go.example.com"}, "go.example.com"),
        (200, 0, {"ALLOWED_HOSTS": "*,[::1],.example.org"}, "example.org"),
        (200, 0, {"ALLOWED_HOSTS": "*", "SITE_HOST": "t.example"}, "t.example"),
        (200, 0, {}, "localhost"),
    ],
)
def test_healthcheck_asks_livez_with_the_sites_host(tmp_path, status, exit_code, env, host):
    server = http.server.HTTPServer(("127.0.0.1", free_port()), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Health.status, Health.hosts, Health.paths = status, [], []
    python = os.path.dirname(sys.executable)  # the entrypoint runs `python`
    try:
        result = subprocess.run(
            [str(ENTRYPOINT), "healthcheck"],
            env={
                "PATH": f"{python}:/usr/bin:/bin",
                "PORT": str(server.server_port),
                **env,
            },
            capture_output=True,
            timeout=30,
        )
    finally:
        server.shutdown()
    assert result.returncode == exit_code
    assert Health.hosts == [host]
    assert Health.paths == ["/livez"]  # liveness: a database outage is no reason to restart


def test_healthcheck_ready_asks_readyz():
    server = http.server.HTTPServer(("127.0.0.1", free_port()), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Health.status, Health.hosts, Health.paths = 503, [], []
    python = os.path.dirname(sys.executable)
    try:
        result = subprocess.run(
            [str(ENTRYPOINT), "healthcheck", "ready"],
            env={"PATH": f"{python}:/usr/bin:/bin", "PORT": str(server.server_port)},
            capture_output=True,
            timeout=30,
        )
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert Health.paths == ["/readyz"]


def test_compose_runs_web_and_worker_beside_postgres_and_redis():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    assert all(service["init"] is True for service in services.values())
    web, worker = services["web"], services["worker"]
    assert web["command"] == ["web"] and worker["command"] == ["worker"]
    assert web["image"] == worker["image"] == "localhost/torii:latest"
    assert web["volumes"] == worker["volumes"] == ["torii-data:/data"]
    assert any(port.endswith(":8000") for port in web["ports"])
    assert worker["healthcheck"] == {"test": ["NONE"]}  # nothing listens in the worker
    assert "@postgres:5432/" in web["environment"]["DATABASE_URL"]
    assert web["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    for name in ("postgres", "redis"):
        build = services[name]["build"]
        containerfile = ROOT / build["context"] / build["dockerfile"]
        assert instructions(containerfile)[:2] == instructions(ROOT / "Containerfile")[:2]


def load_wait():
    spec = importlib.util.spec_from_file_location("wait", ROOT / "config/container/wait.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db
def test_wait_returns_at_once_when_the_migrations_are_applied(monkeypatch, capsys):
    monkeypatch.setattr(time, "sleep", pytest.fail)  # nothing to wait for
    assert load_wait().main("migrations") == 0


@pytest.mark.django_db
def test_wait_gives_up_naming_the_database_that_does_not_answer(monkeypatch, capsys):
    from django.db import connection

    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    monkeypatch.setenv("TORII_WAIT_SECONDS", "0")
    assert load_wait().main("database") == 1
    assert "gave up after 0s: the database does not answer: connection refused" in (
        capsys.readouterr().err
    )


# --- The real image, with podman: TORII_CONTAINER_TEST=1 ---

real_container = pytest.mark.skipif(
    os.environ.get("TORII_CONTAINER_TEST") != "1",
    reason="builds and runs the image with podman; set TORII_CONTAINER_TEST=1",
)


def podman(*args, check=True) -> str:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, timeout=600
    ).stdout.strip()


def request(port, method, path, body=None, headers=None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


@pytest.mark.slow
@real_container
def test_the_image_builds_serves_a_short_link_and_stops_cleanly(tmp_path):
    subprocess.run(["make", "image"], cwd=ROOT, check=True, timeout=900)
    name, volume, port = f"torii-test-{free_port()}", f"torii-test-data-{os.getpid()}", free_port()
    podman("volume", "create", volume)
    try:
        podman(
            *("run", "-d", "--init", "--name", name, "-p", f"127.0.0.1:{port}:8000"),
            *("-v", f"{volume}:/data", "localhost/torii:latest"),
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(port, "GET", "/healthz").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, podman("logs", name, check=False)
            time.sleep(0.5)
        assert podman("exec", name, "id", "-u") == "10001"
        password = re.search(r"password: (\S+)", podman("logs", name)).group(1)

        cookies = {}

        def send(method, path, fields=None):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
            body = None
            if fields is not None:
                fields = {"csrfmiddlewaretoken": cookies["csrftoken"], **fields}
                body = urllib.parse.urlencode(fields)
                headers |= {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": f"http://127.0.0.1:{port}{path}",
                }
            response = request(port, method, path, body, headers)
            for header in response.headers.get_all("Set-Cookie") or []:
                key, value = header.split(";", 1)[0].split("=", 1)
                cookies[key] = value
            return response

        send("GET", "/accounts/login/")
        signed_in = send("POST", "/accounts/login/", {"username": "admin", "password": password})
        assert signed_in.status == 302
        created = send("POST", "/links/", {"target": "https://example.org/from-the-image"})
        assert created.status == 303
        slug = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        followed = request(port, "GET", f"/{slug}")
        assert (followed.status, followed.headers["Location"]) == (
            302,
            "https://example.org/from-the-image",
        )
        assert podman("healthcheck", "run", name, check=False) == ""
        podman("stop", "--time", "20", name)
        assert podman("inspect", name, "--format", "{{.State.ExitCode}}") == "0"
    finally:
        podman("rm", "-f", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)
