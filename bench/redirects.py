"""Redirect benchmark: Torii's production server against a naive Django redirect, with wrk.

Torii runs as `make run` would (granian, 2 workers, the embedded default, or PostgreSQL
and Redis when DATABASE_URL and REDIS_URL are set) with rate limiting on but set too high
to refuse anything. The baseline is bench/baseline/, a tutorial-style project (default
middleware, get_object_or_404, an F() click update, redirect) on gunicorn with 2 sync
workers. wrk drives GET /<slug> over 1,000 slugs at 32 connections for 10 seconds; the
two are interleaved three times (Torii also with its rate limits off, for their cost).
Each round also runs Torii with 3 short domains holding the same slugs (wrk picks one of
1,000 (domain, slug) pairs, 334 slugs on each of the 3 hosts, at random: as many keys as
the single-domain run), against the single-domain run.
Then Torii with 1,000 and with 1,000,000 links.
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CONNECTIONS = 32
DURATION = 10
# Seconds of the same load before each measured run, not counted. granian answers as
# soon as one worker is up; wrk's keep-alive connections opened before the second one
# accepts all stay on the first (seen: 32 to 0, half the throughput for the whole run).
WARMUP = 2
ROUNDS = 3
HIGH_RATE = "100000000/m"
DOMAINS = ("a.bench.example", "b.bench.example", "c.bench.example")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        print("  installing wrk from Debian's packages …")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {process.stdout.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def torii_env(data_dir: Path, limits: bool = True) -> dict[str, str]:
    rate = HIGH_RATE if limits else "off"
    geoip = data_dir / "countries.mmdb"  # the smart section writes one
    env = {
        "GEOIP_PATH": str(geoip) if geoip.exists() else "",
        **os.environ,
        "DATA_DIR": str(data_dir),
        "STATIC_ROOT": str(data_dir / "static"),
        "RATE_LIMIT_REDIRECT": rate,
        "RATE_LIMIT_DEFAULT": rate,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def seed_torii(data_dir: Path, links: int) -> list[str]:
    env = torii_env(data_dir)
    python = str(VENV_BIN / "python")
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [python, "-m", "bench.seed", "seed", str(links)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def count_visits(data_dir: Path) -> int:
    out = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "bench.seed", "count"],
        cwd=ROOT,
        env=torii_env(data_dir),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["visits"]


def start_torii(data_dir: Path, port: int, limits: bool = True) -> subprocess.Popen:
    return start_granian(torii_env(data_dir, limits), port)


def start_granian(
    env: dict[str, str], port: int, app: str = "config.wsgi:application"
) -> subprocess.Popen:
    """Torii (or `app`) as `make run` serves it: granian, 2 workers of 2 threads each."""
    command = [
        str(VENV_BIN / "granian"),
        "--interface", "wsgi",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "2",
        "--blocking-threads", os.environ.get("GRANIAN_THREADS", "2"),
        "--respawn-failed-workers",
        "--no-ws",
        "--log-level", "warning",
        app,
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def start_torii_without_limits(data_dir: Path, port: int) -> subprocess.Popen:
    return start_torii(data_dir, port, limits=False)


def seed_baseline(base: Path, slugs: list[str]) -> None:
    env = {
        **os.environ,
        "BASELINE_DIR": str(base),
        "DJANGO_SETTINGS_MODULE": "bench.baseline.settings",
    }
    subprocess.run(
        [str(VENV_BIN / "python"), "-m", "bench.baseline.seed"],
        cwd=ROOT,
        env=env,
        input="\n".join(slugs),
        text=True,
        check=True,
    )


def start_baseline(base: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "BASELINE_DIR": str(base),
        "DJANGO_SETTINGS_MODULE": "bench.baseline.settings",
    }
    command = [
        str(VENV_BIN / "gunicorn"),
        "--workers", "2",
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        "bench.baseline.wsgi:application",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def workers_of(process: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        return []


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop(process: subprocess.Popen) -> None:
    """A graceful stop: SIGTERM, as an operator or a service manager sends it."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def seed_domains(data_dir: Path, links: int) -> list[str]:
    env = torii_env(data_dir)
    python = str(VENV_BIN / "python")
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [python, "-m", "bench.seed", "seed-domains", str(links), *DOMAINS],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["slugs"]


def domains_lua_script(slugs: list[str], directory: Path) -> Path:
    """Random (domain, slug) pairs, each slug on all 3 domains. As many pairs as the
    single-domain run has slugs, so both keep the same number of keys in the lookup
    cache and the difference is the domains' own cost."""
    per_domain = -(-len(slugs) // len(DOMAINS))
    pairs = [(host, slug) for slug in slugs[:per_domain] for host in DOMAINS][: len(slugs)]
    paths = ",".join(f'"/{slug}"' for _, slug in pairs)
    hosts = ",".join(f'"{host}"' for host, _ in pairs)
    script = directory / "domain-paths.lua"
    script.write_text(
        f"local paths = {{{paths}}}\n"
        f"local hosts = {{{hosts}}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local n = math.random(#paths)\n"
        "  return wrk.format('GET', paths[n], {Host = hosts[n]})\n"
        "end\n"
    )
    return script


def lua_script(slugs: list[str], directory: Path) -> Path:
    paths = ",".join(f'"/{slug}"' for slug in slugs)
    script = directory / "paths.lua"
    script.write_text(
        f"local paths = {{{paths}}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )
    return script


def parse_wrk(output: str) -> dict:
    def duration_ms(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    # wrk pads a latency in seconds with a trailing space ("1.80s ").
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    if "99" not in latency:  # wrk read no response at all (a starved server): say so
        raise RuntimeError(f"wrk measured no latency:\n{output}")
    non_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        # A run that completed no request (a starved baseline) prints no percentiles.
        "p50_ms": duration_ms(latency["50"]) if "50" in latency else float("nan"),
        "p99_ms": duration_ms(latency["99"]) if "99" in latency else float("nan"),
        "non_3xx": int(non_3xx.group(1)) if non_3xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def drive(wrk: str, port: int, script: Path, seconds: int = DURATION) -> dict:
    output = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return parse_wrk(output)


def measured_run(start, target: Path, wrk: str, script: Path) -> dict:
    port = free_port()
    server = start(target, port)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server)
        warmup = drive(wrk, port, script, seconds=WARMUP)
        result = drive(wrk, port, script)
        result["warmup_requests"] = warmup["requests"]
        result["peak_rss_mb"] = max((peak_rss_mb(pid) for pid in workers_of(server)), default=0)
    finally:
        stop(server)
    return result


def redirect_benchmark():
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="torii-bench-"))
    small, large, base = work / "torii-1k", work / "torii-1m", work / "baseline"
    multi = work / "torii-3-domains"
    for directory in (small, large, base, multi):
        directory.mkdir()
    print("  seeding 1,000 links …", flush=True)
    slugs = seed_torii(small, 1000)
    seed_baseline(base, slugs)
    script = lua_script(slugs, work)
    print("  seeding 3 domains with the same 1,000 slugs …", flush=True)
    domain_script = domains_lua_script(seed_domains(multi, 1000), work)

    torii_runs, unlimited_runs, baseline_runs, lost, in_flight = [], [], [], [], []
    domain_runs = []
    for round_number in range(ROUNDS):
        before = count_visits(small)
        torii = measured_run(start_torii, small, wrk, script)
        recorded = count_visits(small) - before
        completed = torii["warmup_requests"] + torii["requests"]
        # wrk counts the responses it read before its timer ran out; the requests
        # still in flight then are served and recorded too, so recorded may exceed it.
        lost.append(max(0, completed - recorded))
        in_flight.append(max(0, recorded - completed))
        torii_runs.append(torii)
        unlimited_runs.append(measured_run(start_torii_without_limits, small, wrk, script))
        baseline_runs.append(measured_run(start_baseline, base, wrk, script))
        domain_runs.append(measured_run(start_torii, multi, wrk, domain_script))
        print(
            f"  round {round_number + 1}: Torii {torii['rps']:,.0f}/s "
            f"(limits off {unlimited_runs[-1]['rps']:,.0f}/s, "
            f"3 domains {domain_runs[-1]['rps']:,.0f}/s), "
            f"baseline {baseline_runs[-1]['rps']:,.0f}/s, visits recorded {recorded:,} "
            f"of {completed:,} requests (warm-up included)",
            flush=True,
        )

    print("  seeding 1,000,000 links (a minute or two) …", flush=True)
    large_slugs = seed_torii(large, 1_000_000)
    large_script = lua_script(large_slugs, large)
    size_runs = {"1k": [], "1m": []}
    for _ in range(2):
        size_runs["1k"].append(measured_run(start_torii, small, wrk, script)["rps"])
        size_runs["1m"].append(measured_run(start_torii, large, wrk, large_script)["rps"])

    def median(runs, key):
        return statistics.median(run[key] for run in runs)

    rows = []
    named = (("Torii", torii_runs), ("Torii, 3 domains", domain_runs))
    for name, runs in (*named, ("naive baseline", baseline_runs)):
        rows += [
            (f"{name}: requests per second (median of {ROUNDS})", median(runs, "rps"), "req/s"),
            (f"{name}: p50 latency", median(runs, "p50_ms"), "ms"),
            (f"{name}: p99 latency", median(runs, "p99_ms"), "ms"),
            (f"{name}: peak resident memory per worker", max(r["peak_rss_mb"] for r in runs), "MB"),
            (f"{name}: responses other than 3xx", sum(r["non_3xx"] for r in runs), "responses"),
        ]
    rows += [
        (
            "Torii / baseline throughput",
            median(torii_runs, "rps") / median(baseline_runs, "rps"),
            "x",
        ),
        (
            "Torii, 3 domains / baseline throughput",
            median(domain_runs, "rps") / median(baseline_runs, "rps"),
            "x",
        ),
        (
            "Torii, 3 domains vs single domain",
            100 * median(domain_runs, "rps") / median(torii_runs, "rps"),
            "%",
        ),
        ("visits lost after graceful stops (completed requests not recorded)", sum(lost), "visits"),
        (
            "visits recorded beyond wrk's count (in flight when wrk stopped)",
            sum(in_flight),
            "visits",
        ),
        ("Torii with 1,000 links (median of 2)", statistics.median(size_runs["1k"]), "req/s"),
        ("Torii with 1,000,000 links (median of 2)", statistics.median(size_runs["1m"]), "req/s"),
        (
            "1,000,000 links vs 1,000 links",
            100 * statistics.median(size_runs["1m"]) / statistics.median(size_runs["1k"]),
            "%",
        ),
    ]
    shutil.rmtree(work, ignore_errors=True)
    return rows


def cookie_script(pairs: list[list[str]], directory: Path) -> Path:
    """Each request to a protected link carries that link's cookie, as after its password."""
    paths = ",".join(f'"/{slug}"' for slug, _ in pairs)
    cookies = ",".join(f'"torii_link_pass={cookie}"' for _, cookie in pairs)
    script = directory / "protected.lua"
    script.write_text(
        f"local paths = {{{paths}}}\n"
        f"local cookies = {{{cookies}}}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local i = math.random(#paths)\n"
        "  return wrk.format('GET', paths[i], {['Cookie'] = cookies[i]})\n"
        "end\n"
    )
    return script


def smart_redirect_benchmark():
    """Side by side in one run: a plain link, a link with five rules (none matching, so
    all are read) and a protected link with its cookie, against the naive baseline; every
    Torii visit also looks up its country in a MaxMind-format file."""
    from bench.countries import write_database

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="torii-bench-smart-"))
    torii, base = work / "torii", work / "baseline"
    torii.mkdir()
    base.mkdir()
    write_database(torii / "countries.mmdb", networks=2000)
    print("  seeding 1,000 links of each kind …", flush=True)
    env = torii_env(torii)
    python = str(VENV_BIN / "python")
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [python, "-m", "bench.seed", "seed-smart", "1000"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    seeded = json.loads(out.strip().splitlines()[-1])
    seed_baseline(base, seeded["plain"])
    (work / "plain").mkdir()
    (work / "ruled").mkdir()
    scripts = {
        "plain": lua_script(seeded["plain"], work / "plain"),
        "ruled": lua_script(seeded["ruled"], work / "ruled"),
        "protected": cookie_script(seeded["protected"], work),
    }
    runs = {"baseline": [], "plain": [], "ruled": [], "protected": []}
    for round_number in range(2):
        runs["baseline"].append(measured_run(start_baseline, base, wrk, scripts["plain"]))
        for kind in ("plain", "ruled", "protected"):
            runs[kind].append(measured_run(start_torii, torii, wrk, scripts[kind]))
        print(
            f"  round {round_number + 1}: "
            + ", ".join(f"{kind} {runs[kind][-1]['rps']:,.0f}/s" for kind in runs),
            flush=True,
        )
    baseline = statistics.median(run["rps"] for run in runs["baseline"])
    rows = []
    for kind, label in (
        ("baseline", "naive baseline"),
        ("plain", "plain link"),
        ("ruled", "link with 5 rules"),
        ("protected", "protected link, cookie set"),
    ):
        rps = statistics.median(run["rps"] for run in runs[kind])
        rows.append((f"{label}: requests per second (median of 2)", rps, "req/s"))
        rows.append(
            (f"{label}: p99 latency", statistics.median(r["p99_ms"] for r in runs[kind]), "ms")
        )
        rows.append(
            (
                f"{label}: responses other than 3xx",
                sum(r["non_3xx"] for r in runs[kind]),
                "responses",
            )
        )
        if kind != "baseline":
            rows.append((f"{label} / baseline throughput", rps / baseline, "x"))
    shutil.rmtree(work, ignore_errors=True)
    return rows
