"""Exact across processes: two granian workers, bursts from several client processes;
no window edge to burst across; and every bypass the limits once had, tried against two
workers.

With a limit of L, exactly L requests of a burst pass however the requests are spread
over workers and clients; every refusal carries Retry-After and the RateLimit fields; a
forged X-Forwarded-For buys nothing; L just before an old fixed window's edge and L just
after pass L and what refilled between, not 2L. Runs on the embedded cache always and on
Redis when REDIS_URL is set.
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
from tests.servers import STATIC_ROOT, collected_static

# Transactional: the workers write to the same database (the visits to no link they count
# are written as they stop), which a test holding a transaction open would lock them out of.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIMIT = 25
WINDOW = "d"  # one every 3,456 s: nothing refills during a burst
# The edge test's redirect group: one every 3 s, all 20 at once after a quiet spell.
EDGE_LIMIT, EDGE_SECONDS = 20, 60
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
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DEBUG": "false",
        "STATIC_ROOT": str(STATIC_ROOT),  # the tests' own, not the site's
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if cache == "embedded":
        env["REDIS_URL"] = ""  # empty, not absent: run_manage merges os.environ back in
    env["RATE_LIMIT_DEFAULT"] = f"{LIMIT}/{WINDOW}"
    env["RATE_LIMIT_REDIRECT"] = f"{EDGE_LIMIT}/{EDGE_SECONDS}s"
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


def fixed_window_edge(key: str, period: int) -> float:
    """When django-ratelimit's fixed window for `key` ended next: the old limiter reset
    its count there, and L before it plus L after it passed."""
    return _get_window(key, period)


@pytest.fixture
def granian(request):
    cache = request.param
    if cache == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    env = server_env(cache)
    collected_static(env)  # DEBUG=false pages need the manifest
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


def from_address(base: str, address: str, count: int) -> list[int]:
    """`count` GETs of a missing link at once, sent from the loopback `address`: the
    redirect group (a 404), keyed by that address. Statuses, sorted."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    parts = urlsplit(base)

    def one(_):
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=60, source_address=(address, 0)
        )
        try:
            connection.request("GET", "/no-such-link")
            return connection.getresponse().status
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        return sorted(pool.map(one, range(count)))


def address_near_its_edge(low: float, high: float) -> tuple[str, float]:
    """A loopback address whose old fixed window ends between `low` and `high` seconds
    from now (django-ratelimit offset each key's window by a hash of it), so the test
    stands at an edge without waiting a window for one."""
    for host in range(2, 255):
        address = f"127.0.0.{host}"
        edge = fixed_window_edge(f"ip:{address}", EDGE_SECONDS)
        if low <= edge - time.time() < high:
            return address, edge
    pytest.skip("no loopback address near its window edge now")


@pytest.mark.parametrize("granian", ["embedded", "redis"], indirect=True)
def test_two_workers_let_no_burst_through_across_a_window_edge(granian):
    # Real time, unavoidably: the workers keep their own clocks.
    interval = EDGE_SECONDS / EDGE_LIMIT
    from_address(granian, "127.0.0.1", 8)  # both workers' first 404 pages, off the clock
    address, edge = address_near_its_edge(3, 6)
    started = time.monotonic()
    before = from_address(granian, address, EDGE_LIMIT)
    assert time.time() < edge, "the first burst ran past the edge: the machine is too slow"
    time.sleep(max(edge + 0.2 - time.time(), 0))
    after = from_address(granian, address, EDGE_LIMIT)
    span = time.monotonic() - started
    assert set(before + after) <= {404, 429}
    assert before.count(404) == EDGE_LIMIT  # a quiet client has its whole burst
    # Then only what refilled since: one per interval. Fixed windows passed all
    # EDGE_LIMIT again here, just after the edge.
    assert after.count(404) <= span / interval + 1
    assert before.count(404) + after.count(404) < 2 * EDGE_LIMIT


# --- Each bypass the limits once had, tried against two workers ----------------------
# One server for these: low day-long limits, and one trusted proxy so that each request
# names its client address in X-Forwarded-For, as a crowd of clients would arrive.

HOLD = 4  # the limit of the groups under test
HOLD_ENV = {
    "TRUSTED_PROXY_COUNT": "1",
    "RATE_LIMIT_CREATE": f"{HOLD}/d",
    "RATE_LIMIT_LOGIN": f"{HOLD}/d",
    "RATE_LIMIT_AUTH_FAILURES": f"{HOLD}/d",
    "RATE_LIMIT_DEFAULT": f"{HOLD}/d",
    "RATE_LIMIT_WEBHOOK": f"{HOLD + 2}/d",
    "RATE_LIMIT_API": "1000/d",
    "RATE_LIMIT_REDIRECT": "1000/d",
}
hold = pytest.mark.django_db(transaction=True)  # the workers must see the test's rows


@pytest.fixture(scope="module")
def server(django_db_setup):
    from tests.servers import granian as serve

    with serve(workers=2, env=HOLD_ENV) as url:
        yield url


@pytest.fixture
def hashed_as_the_workers_do(settings):
    # Tests hash with MD5 for speed; the workers know only the production hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def call(base, method, path, address, body=b"", headers=None):
    """One request from `address`; (status, lower-cased headers, body, Set-Cookie values)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        sent = {"X-Forwarded-For": address, **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        found = {name.lower(): value for name, value in response.getheaders()}
        cookies = response.headers.get_all("Set-Cookie") or []
        return response.status, found, response.read(), cookies
    finally:
        connection.close()


def at_once(calls) -> list:
    """Send the calls from eight threads at once; their answers in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda arguments: call(*arguments), calls))


def codes(answers) -> list[int]:
    return sorted(answer[0] for answer in answers)


def bearer(raw):
    return {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}


def form_session(base, address):
    """A CSRF cookie and token from the sign-in page, as a browser gets them."""
    import re

    status, _, page, cookies = call(base, "GET", "/accounts/login/", address)
    assert status == 200
    cookie = next(c.split(";")[0] for c in cookies if c.startswith("csrftoken="))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    return cookie, token


def post_form(base, path, address, cookie, token, **fields):
    from urllib.parse import urlencode

    body = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return base, "POST", path, address, body, headers


@hold
def test_one_user_is_one_create_bucket_through_forms_and_tokens_from_any_address(
    server, hashed_as_the_workers_do
):
    import json

    from shortener.models import Link
    from shortener.tokens import personal as tokens
    from tests.conftest import make_user, set_flag

    set_flag("api_v1", everyone=True)
    user = make_user("maker", "the-right-password")
    raws = [tokens.issue(user, f"script {n}")[1] for n in range(3)]
    # One link through the form, signed in with a session.
    csrf, token = form_session(server, "198.51.100.1")
    signed_in = call(*post_form(server, "/accounts/login/", "198.51.100.1", csrf, token,
                                username="maker", password="the-right-password"))  # fmt: skip
    assert signed_in[0] == 302
    session = "; ".join([csrf] + [c.split(";")[0] for c in signed_in[3] if "sessionid" in c])
    form = post_form(server, "/links/", "198.51.100.1", session, token,
                     target="https://example.com/by-form", redirect_code="302")  # fmt: skip
    assert call(*form)[0] in {302, 303}
    # Then many creates through the API, three tokens, a dozen addresses.
    creates = [
        (server, "POST", "/api/v1/links", f"203.0.113.{n}",
         json.dumps({"target": f"https://example.com/{n}"}).encode(), bearer(raws[n % 3]))
        for n in range(12)
    ]  # fmt: skip
    answers = at_once(creates)
    assert codes(answers) == [201] * (HOLD - 1) + [429] * (12 - HOLD + 1)
    assert Link.objects.filter(owner=user).count() == HOLD


@hold
def test_made_up_tokens_from_one_address_are_refused_after_the_limit(server):
    from shortener.tokens import personal as tokens
    from tests.conftest import make_user, set_flag

    set_flag("api_v1", everyone=True)
    guesses = [
        (server, "GET", "/api/v1/links", "203.0.113.20", b"", bearer(f"torii_guess{n}"))
        for n in range(HOLD * 4)
    ]
    answers = at_once(guesses)
    assert codes(answers) == [401] * HOLD + [429] * (HOLD * 3)
    raw = tokens.issue(make_user("real"), "real")[1]
    assert call(server, "GET", "/api/v1/links", "203.0.113.20", b"", bearer(raw))[0] == 200


@hold
def test_a_locked_account_stays_locked_under_any_spelling_of_its_name(
    server, hashed_as_the_workers_do
):
    from tests.conftest import make_user

    make_user("alice", "the-right-password")
    csrf, token = form_session(server, "198.51.100.99")
    spellings = ["alice", "\uff41\uff4c\uff49\uff43\uff45", "a\uff4cice", "\u3000alice"]
    guesses = [
        post_form(server, "/accounts/login/", f"203.0.113.{n}", csrf, token,
                  username=spellings[n % 4], password=f"guess-{n}")
        for n in range(HOLD * 3)
    ]  # fmt: skip
    assert codes(at_once(guesses)) == [200] * HOLD + [429] * (HOLD * 2)
    right = post_form(server, "/accounts/login/", "192.0.2.77", csrf, token,
                      username="a\uff4cice", password="the-right-password")  # fmt: skip
    status, _, _, cookies = call(*right)
    assert status == 429
    assert not any(cookie.startswith("sessionid=") for cookie in cookies)


@hold
def test_strangers_never_spend_a_webhook_senders_bucket(server):
    import time as clock

    from shortener.models import WebhookEvent
    from tests.webhook_delivery import make_source, payload, sign

    source = make_source("cms")
    body = payload()
    unsigned = {
        "Content-Type": "application/json",
        "webhook-id": "msg_x",
        "webhook-timestamp": str(int(clock.time())),
        "webhook-signature": "v1,AAAA",
    }
    forged = [(server, "POST", "/webhooks/cms/", "203.0.113.30", body, unsigned)] * 20
    assert codes(at_once(forged)) == [401] * HOLD + [429] * (20 - HOLD)
    made_up = [
        (server, "POST", f"/webhooks/made-up-{n}/", "203.0.113.31", body, unsigned)
        for n in range(HOLD * 3)
    ]
    assert codes(at_once(made_up)) == [404] * HOLD + [429] * (HOLD * 2)

    def signed(n):
        stamp = str(int(clock.time()))
        headers = {"Content-Type": "application/json", "webhook-id": f"msg_{n}",
                   "webhook-timestamp": stamp,
                   "webhook-signature": sign(source.secret, f"msg_{n}", stamp, body)}  # fmt: skip
        return server, "POST", "/webhooks/cms/", "192.0.2.10", body, headers

    limit = HOLD + 2  # RATE_LIMIT_WEBHOOK: the source's own bucket, spent by itself alone
    assert codes(at_once([signed(n) for n in range(10)])) == [202] * limit + [429] * (10 - limit)
    assert WebhookEvent.objects.count() == limit


@hold
def test_static_paths_that_are_no_file_are_limited(server):
    missing = [
        (server, "GET", f"/static/css/no-such-{n}.css", "203.0.113.40") for n in range(HOLD * 3)
    ]
    assert codes(at_once(missing)) == [404] * HOLD + [429] * (HOLD * 2)
    files = [(server, "GET", "/static/css/site.css", "203.0.113.40")] * (HOLD * 2)
    assert codes(at_once(files)) == [200] * (HOLD * 2)


@hold
def test_a_replayed_github_body_is_stored_once_whatever_its_delivery_id(server):
    import json

    from shortener.models import WebhookEvent
    from tests.webhook_delivery import make_source, payload, sign_github

    source = make_source("ci", scheme="github")
    body = payload()

    def delivery(delivery_id):
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "link.create",
                   "X-GitHub-Delivery": delivery_id,
                   "X-Hub-Signature-256": sign_github(source.secret, body)}  # fmt: skip
        return server, "POST", "/webhooks/ci/", "192.0.2.20", body, headers

    answers = at_once([delivery(f"delivery-{n}") for n in range(6)])
    assert codes(answers) == [200] * 5 + [202]
    assert {json.loads(answer[2])["status"] for answer in answers} == {"pending", "duplicate"}
    assert WebhookEvent.objects.filter(source=source).count() == 1
