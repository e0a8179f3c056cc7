"""Link health: destinations requested through the one safe fetcher, at most once a day,
within a host's budget, and the last result shown to owners, filtered in the list and
flagged for review when the domain is gone or now leads to another site.

The servers run on loopback, but the fetcher never gets the test-only loopback
allowance here: destinations are names the test's resolver maps to public-looking
addresses, and the test's network routes a connection to such an address to a local
server. So every check meets the real policy, and `network.connected` lists every
address the fetcher really chose to connect to; none may be private."""

import io
import ipaddress
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from shortener.models import Link, LinkHealth, Report
from shortener.outbound import fetch
from shortener.policy import page_titles
from shortener.safety import health, reports
from tests import receivers
from tests.conftest import make_link, make_user, set_flag

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)
BOUND = 0.5  # the checks' deadline here (5 s in production), so hangs end quickly


class Network:
    """Names → addresses (the resolver), addresses → local servers (the wire)."""

    def __init__(self):
        self.names: dict[str, list] = {}
        self.routes: dict[str, int] = {}  # a public-looking address → a loopback port
        self.connected: list[str] = []
        self.lookups: list[str] = []
        self.count = 0

    def serve(self, name: str, server, *, address: str | None = None) -> str:
        """`name` resolves to a fresh public-looking address routed to `server`."""
        self.count += 1
        address = address or f"93.184.{self.count}.10"
        self.names[name] = [address]
        self.routes[address] = server.port
        return address

    def resolve(self, host: str, port: int) -> list[str]:
        if host.endswith(".example"):  # not Torii's own names, which the fetcher asks too
            self.lookups.append(host)
        found = self.names.get(host)
        if found is None:
            raise fetch.NameFailed(f"{host} could not be resolved (no such name).")
        return found() if callable(found) else list(found)

    def connect(self, addresses, port, timeout, host):
        for address in addresses:
            self.connected.append(str(address))
            if str(address) in self.routes:
                loop = [ipaddress.ip_address("127.0.0.1")]
                return REAL_CONNECT(loop, self.routes[str(address)], timeout, host)
        raise fetch.FetchFailed(f"Could not connect to {host} (no route in the test network).")


REAL_CONNECT = fetch.connect


@pytest.fixture
def network(monkeypatch, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False  # the real policy, whole
    settings.WEBHOOKS_ALLOW_HTTP = False  # link health asks for http itself
    net = Network()
    monkeypatch.setattr(fetch, "connect", net.connect)
    yield net
    for address in net.connected:
        assert not ipaddress.ip_address(address).is_private, f"reached {address}"


def check(url, network):
    started = time.monotonic()
    checked = health.check_url(url, resolver=network.resolve, total_timeout=BOUND)
    return checked, time.monotonic() - started


def redirect(location: str):
    return receivers.status(302, Location=location)


def endless_body(got, conn, receiver):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
    while not receiver.stopped.is_set():
        conn.sendall(b"<p>")
        time.sleep(0.05)


@pytest.fixture
def not_tls():
    """A server that answers a TLS hello with plain HTTP bytes at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.settimeout(0.05)
    stopped = threading.Event()

    def serve():
        while not stopped.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield type("Server", (), {"port": sock.getsockname()[1]})
    stopped.set()
    sock.close()
    thread.join(timeout=2)


# --- one check: every misbehaviour ends within the bound, nowhere private --------


def test_a_live_destination_is_ok_and_told_who_asks(network, receiver):
    server = receiver(receivers.ok)
    network.serve("shop.example", server)
    checked, _ = check("http://shop.example:80/page", network)
    assert checked.result == "ok" and checked.status == 200
    agent = server.received[0].headers["user-agent"]
    assert agent.startswith("Torii-LinkHealth/1 (+")


def test_an_error_status_is_recorded(network, receiver):
    network.serve("shop.example", receiver(receivers.status(404)))
    checked, _ = check("http://shop.example/gone", network)
    assert (checked.result, checked.status, checked.detail) == ("status", 404, "Answered 404.")


def test_a_redirect_is_followed_and_each_hop_checked(network, receiver):
    final = receiver(receivers.ok)
    network.serve("new.example", final)
    network.serve("old.example", receiver(redirect("http://new.example/landing")))
    checked, _ = check("http://old.example/", network)
    assert checked.result == "redirected" and checked.final_url == "http://new.example/landing"
    assert network.lookups == ["old.example", "new.example"]


def test_redirects_in_a_circle_end_at_once(network, receiver):
    network.serve("a.example", receiver(redirect("http://b.example/")))
    network.serve("b.example", receiver(redirect("http://a.example/")))
    checked, took = check("http://a.example/", network)
    assert checked.result == "failed" and "circle" in checked.detail
    assert took < 2


def test_more_than_three_redirects_are_not_followed(network, receiver):
    for i in range(5):
        network.serve(f"r{i}.example", receiver(redirect(f"http://r{i + 1}.example/")))
    checked, _ = check("http://r0.example/", network)
    assert checked.result == "failed" and "More than 3 redirects" in checked.detail
    assert network.lookups == ["r0.example", "r1.example", "r2.example", "r3.example"]


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/admin",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example/",  # a name the resolver maps to 10.0.0.5
        "file:///etc/passwd",
        "ftp://shop.example/",
    ],
)
def test_a_redirect_to_a_private_address_or_another_scheme_is_refused_unsent(
    network, receiver, location
):
    network.names["internal.example"] = ["10.0.0.5"]
    network.serve("shop.example", receiver(redirect(location)))
    checked, _ = check("http://shop.example/", network)
    assert checked.result == "refused", checked
    assert len(network.connected) == 1  # only the first hop was connected to


def test_a_server_that_hangs_is_given_up_within_the_bound(network, receiver):
    network.serve("slow.example", receiver(receivers.hang))
    checked, took = check("http://slow.example/", network)
    assert checked.result == "timeout"
    assert took < BOUND + 1


def test_a_body_that_never_ends_is_given_up_within_the_bound(network, receiver):
    network.serve("drip.example", receiver(endless_body))
    checked, took = check("http://drip.example/", network)
    assert checked.result == "timeout"
    assert took < BOUND + 1


def test_a_huge_body_is_not_read(network, receiver):
    network.serve("big.example", receiver(receivers.huge))
    started = time.monotonic()
    followed = fetch.get(
        "http://big.example/",
        resolver=network.resolve,
        allow_http=True,
        max_bytes=health.MAX_BYTES,
        total_timeout=BOUND * 4,
    )
    assert followed.answer.status == 200 and len(followed.answer.body) == 64 * 1024
    assert followed.answer.truncated and time.monotonic() - started < BOUND * 4
    checked, _ = check("http://big.example/", network)
    assert checked.result == "ok"


def test_dns_that_changes_between_check_and_connect_is_not_asked_again(network, receiver):
    server = receiver(receivers.ok)
    network.serve("rebind.example", server, address="93.184.77.10")
    answers = iter([["93.184.77.10"], ["127.0.0.1"], ["10.0.0.1"]])
    network.names["rebind.example"] = lambda: next(answers)
    checked, _ = check("http://rebind.example/", network)
    assert checked.result == "ok"
    assert network.lookups == ["rebind.example"]  # once: the connection goes where checked
    assert network.connected == ["93.184.77.10"]


def test_a_name_with_one_private_address_among_public_ones_is_refused(network, receiver):
    network.serve("mixed.example", receiver(receivers.ok))
    network.names["mixed.example"] = ["93.184.5.5", "192.168.0.10"]
    checked, _ = check("http://mixed.example/", network)
    assert checked.result == "refused" and "192.168.0.10" in checked.detail
    assert network.connected == []


def test_a_name_that_no_longer_resolves_is_dns_gone(network):
    checked, _ = check("https://expired.example/", network)
    assert checked.result == "dns_gone"


def test_a_failing_tls_handshake_is_a_tls_error(network, not_tls):
    network.serve("notls.example", not_tls)
    checked, took = check("https://notls.example/", network)
    assert checked.result == "tls_error", checked
    assert took < BOUND + 1


# --- runs: once a day, a host's budget, the flag, what people see ---------------


@pytest.fixture
def opted_in():
    set_flag("link_health", everyone=True)


def run(network, **options):
    return health.run(resolver=network.resolve, total_timeout=BOUND, **options)


def test_each_link_is_checked_at_most_once_a_day(network, receiver, opted_in):
    server = receiver(receivers.ok)
    network.serve("shop.example", server)
    link = make_link(target="http://shop.example/a")
    assert str(run(network, now=NOW)) == "Checked 1 link(s): 1 reachable."
    assert str(run(network, now=NOW + timedelta(hours=23))) == "Checked 0 link(s)."
    assert server.connections == 1
    run(network, now=NOW + timedelta(days=1))
    assert server.connections == 2
    assert LinkHealth.objects.get(link=link).checked_at == NOW + timedelta(days=1)


def test_a_host_gets_at_most_its_budget_a_minute(network, receiver, opted_in, settings):
    settings.LINK_HEALTH_PER_HOST_PER_MINUTE = 2
    server = receiver(receivers.ok)
    network.serve("busy.example", server)
    network.serve("other.example", receiver(receivers.ok))
    for i in range(3):
        make_link(target=f"http://busy.example/{i}")
    make_link(target="http://other.example/")
    clock = [1000.0]
    first = run(network, now=NOW, clock=lambda: clock[0])
    assert sum(first.checked.values()) == 3 and first.over_budget == 1
    assert server.connections == 2
    assert "1 wait for their host's budget" in str(first)
    clock[0] += 61  # a later run, a minute on: the one left is checked
    second = health.run(
        now=NOW + timedelta(minutes=10), clock=lambda: clock[0], resolver=network.resolve
    )
    assert sum(second.checked.values()) == 1 and server.connections == 3


def test_only_owners_the_flag_is_on_for_are_checked(network, receiver):
    server = receiver(receivers.ok)
    network.serve("shop.example", server)
    alice, bob = make_user("alice"), make_user("bob")
    mine = make_link(target="http://shop.example/a", owner=alice)
    make_link(target="http://shop.example/b", owner=bob)
    assert str(run(network, now=NOW)) == "Checked 0 link(s)."  # off by default
    set_flag("link_health", everyone=None).users.add(alice)
    run(network, now=NOW)
    assert list(LinkHealth.objects.values_list("link", flat=True)) == [mine.pk]


def test_disabled_quarantined_and_deleted_links_are_not_checked(network, receiver, opted_in):
    network.serve("shop.example", receiver(receivers.ok))
    make_link(target="http://shop.example/1", is_active=False)
    make_link(target="http://shop.example/2", quarantined_at=NOW)
    make_link(target="http://shop.example/3", delete=True)
    assert str(run(network, now=NOW)) == "Checked 0 link(s)."


def test_a_run_stops_at_its_limit_and_says_more_are_due(network, receiver, opted_in):
    network.serve("shop.example", receiver(receivers.ok))
    for i in range(3):
        make_link(target=f"http://shop.example/{i}")
    said = str(run(network, now=NOW, limit=2))
    assert said == "Checked 2 link(s): 2 reachable. More are due: the next run goes on."


def test_the_owner_sees_since_when_the_destination_is_unreachable(
    network, receiver, opted_in, client
):
    owner = make_user()
    server = receiver(receivers.status(503))
    network.serve("shop.example", server)
    link = make_link(target="http://shop.example/", owner=owner)
    run(network, now=NOW)
    run(network, now=NOW + timedelta(days=1))  # still failing: the first failure stands
    client.force_login(owner)
    body = client.get(link.get_absolute_url()).content.decode()
    assert "Destination unreachable since" in body
    assert '<time datetime="2026-12-08T12:00:00+00:00">2026-12-08 12:00 UTC</time>' in body
    assert "answers with an error (Answered 503.)" in body
    server.behaviour = receivers.ok
    run(network, now=NOW + timedelta(days=2))
    assert "Destination unreachable" not in client.get(link.get_absolute_url()).content.decode()


def test_the_list_filters_by_health(network, receiver, opted_in, client):
    owner = make_user()
    network.serve("up.example", receiver(receivers.ok))
    make_link(target="http://up.example/", owner=owner, title="up-link")
    make_link(target="http://down.example/", owner=owner, title="down-link")
    run(network, now=NOW)
    make_link(target="http://later.example/", owner=owner, title="never-link")
    client.force_login(owner)
    listed = {}
    for wanted in ("reachable", "unreachable", "unchecked", ""):
        body = client.get("/links/", {"health": wanted}).content.decode()
        listed[wanted] = {t for t in ("up-link", "down-link", "never-link") if t in body}
    assert listed == {
        "reachable": {"up-link"},
        "unreachable": {"down-link"},
        "unchecked": {"never-link"},
        "": {"up-link", "down-link", "never-link"},
    }
    assert 'id="search-health"' in client.get("/links/").content.decode()


def test_a_dead_domain_or_a_new_site_is_flagged_for_review_once(
    network, receiver, opted_in, client
):
    network.serve("parked.example", receiver(receivers.ok))
    network.serve("moved.example", receiver(redirect("http://parked.example/buy-this-domain")))
    network.serve("www.same.example", receiver(receivers.ok))
    network.serve("same.example", receiver(redirect("http://www.same.example/")))
    dead = make_link(target="https://expired.example/")
    moved = make_link(target="http://moved.example/")
    same = make_link(target="http://same.example/")
    first = run(network, now=NOW)
    assert sorted(first.flagged) == sorted([dead.key, moved.key])
    texts = dict(Report.objects.values_list("link", "text"))
    assert texts == {
        dead.pk: "Its destination's domain expired.example no longer resolves.",
        moved.pk: "Its destination moved.example now redirects to another site, parked.example.",
    }
    assert Report.objects.filter(link=same).count() == 0  # www. of the same site
    again = run(network, now=NOW + timedelta(days=1))
    assert again.flagged == [] and Report.objects.count() == 2
    staff = make_user("staff", is_staff=True)
    client.force_login(staff)
    queue = client.get("/reports/").content.decode()
    assert "expired.example no longer resolves" in queue
    assert "now redirects to another site, parked.example" in queue


def test_the_checkers_flag_never_counts_toward_a_quarantine(network, opted_in, settings):
    settings.REPORT_QUARANTINE_THRESHOLD = 2
    link = make_link(target="https://expired.example/")
    run(network, now=NOW)
    reports.report(link, reason="spam", text="", email="", address="198.51.100.1", now=NOW)
    link.refresh_from_db()
    assert link.quarantined_at is None  # one visitor and the checker are not two reporters


def test_the_command_says_what_it_found(network, receiver, opted_in, monkeypatch):
    monkeypatch.setattr(fetch, "system_resolver", network.resolve)  # the command's resolver
    network.serve("shop.example", receiver(receivers.ok))
    make_link(target="http://shop.example/")
    dead = make_link(target="https://expired.example/")
    out = io.StringIO()
    call_command("check_links", stdout=out)
    assert out.getvalue().strip() == (
        f"Checked 2 link(s): 1 reachable, 1 domain no longer resolves. "
        f"Flagged 1 for review: {dead.key}."
    )


def test_the_task_queues_its_next_run_once(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    DBTaskResult.objects.filter(
        task_path=health.check_link_health.module_path
    ).delete()  # migrate's
    assert health.schedule_next(NOW)
    assert not health.schedule_next(NOW)
    waiting = DBTaskResult.objects.get(task_path=health.check_link_health.module_path)
    assert waiting.run_after == NOW + health.CHECK_EVERY
    assert Link.objects.count() == 0


# --- titles: the same fetcher fills an empty title when the owner asks ------------


@pytest.mark.parametrize(
    ("body", "content_type", "title"),
    [
        (b"<html><head><title>Caf\xc3\xa9 &amp; bar</title>", "text/html", "Café & bar"),
        (
            b"<TITLE lang=fr>\n  Caf\xe9\n\tMenu </TITLE>",
            "text/html; charset=iso-8859-1",
            "Café Menu",
        ),
        (b'<meta charset="windows-1252"><title>\x93quoted\x94</title>', "", "\u201cquoted\u201d"),
        (b"<title>a\x00b\x1bc</title>", "text/html", "a b c"),
        (b"<title>   </title>", "text/html", ""),
        (b"no title here", "text/html", ""),
        (b"<title>PDF?</title>", "application/pdf", ""),
        (b"<title>" + b"x" * 500 + b"</title>", "text/html", "x" * 199 + "…"),
        (b"<title>unclosed", "text/html", ""),
    ],
)
def test_a_pages_title_is_one_clean_line(body, content_type, title):
    assert page_titles.title_of(body, content_type) == title


def page(title: str):
    html = f"<!doctype html><title>{title}</title><p>hello".encode()
    return lambda got, conn, receiver: receivers.answer(
        200, html, {"Content-Type": "text/html; charset=utf-8"}
    )


@pytest.fixture
def author(client):
    person = make_user("author")
    client.force_login(person)
    return person


@pytest.fixture
def via_network(network, monkeypatch):
    monkeypatch.setattr(fetch, "system_resolver", network.resolve)
    return network


def create(client, django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/links/", fields)
    assert response.status_code == 303, response.content
    return Link.objects.latest("pk")


def test_an_owner_who_asks_gets_the_pages_title(
    via_network, receiver, author, client, django_capture_on_commit_callbacks
):
    via_network.serve("shop.example", receiver(page("Spring sale \u2013 Shop")))
    link = create(
        client,
        django_capture_on_commit_callbacks,
        target="http://shop.example/sale",
        fill_title="on",
    )
    link.refresh_from_db()
    assert link.title == "Spring sale \u2013 Shop"


def test_no_request_unless_asked_and_a_typed_title_stands(
    via_network, receiver, author, client, django_capture_on_commit_callbacks
):
    server = receiver(page("Theirs"))
    via_network.serve("shop.example", server)
    untitled = create(client, django_capture_on_commit_callbacks, target="http://shop.example/a")
    typed = create(
        client,
        django_capture_on_commit_callbacks,
        target="http://shop.example/b",
        title="Mine",
        fill_title="on",
    )
    untitled.refresh_from_db()
    typed.refresh_from_db()
    assert (untitled.title, typed.title, server.connections) == ("", "Mine", 0)


def test_a_title_fetch_that_is_refused_leaves_the_title_empty(
    via_network, receiver, author, client, django_capture_on_commit_callbacks
):
    via_network.serve("shop.example", receiver(redirect("http://127.0.0.1/secret")))
    link = create(
        client,
        django_capture_on_commit_callbacks,
        target="http://shop.example/",
        fill_title="on",
    )
    link.refresh_from_db()
    assert link.title == ""
    assert len(via_network.connected) == 1


def test_the_create_form_offers_the_box_unticked(author, client):
    body = client.get("/").content.decode()
    assert 'name="fill_title"' in body and 'name="fill_title" checked' not in body
