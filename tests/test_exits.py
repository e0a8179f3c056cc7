"""The way out: the live redirects as an nginx map, an Apache RewriteMap, a Caddyfile, a
_redirects file and a static site, each saying what it cannot express; served by Debian's
nginx and by a static file server, every exported link redirects exactly as Torii does."""

import http.client
import io
import re
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from shortener import links
from shortener.domains.models import Domain
from shortener.links import access
from shortener.links.models import Link
from shortener.portability import exit_jobs, exits, export
from shortener.portability.models import BulkStatus, ExitJob
from tests.conftest import make_domain, make_user

pytestmark = pytest.mark.django_db

# Characters each server treats specially, as the target policy stores them.
TARGETS = [
    "https://example.com/plain",
    "https://example.com/price$5?cur=$USD&x=${HOME}",
    "https://example.com/q?x={y}&z=a\\b#frag",
    "https://example.com/it's;a,b!*()",
    "https://exämple.com/ünïcode?q=日本",
    "https://example.com/%22quoted%22%20space",
]


def live_links(owner):
    short = make_domain("go.example.org")
    made = [links.create({"target": t}, actor=owner) for t in TARGETS]
    made.append(
        links.create(
            {"target": "https://example.com/other", "domain": short.host, "redirect_code": "301"},
            actor=owner,
        )
    )
    locked = links.create(
        {"target": "https://example.com/secret", "password": "pw pw pw"}, actor=owner
    )
    ruled = links.create(
        {
            "target": "https://example.com/ruled",
            "rules": [{"target": "https://m.example.com/", "when": {"device": ["mobile"]}}],
        },
        actor=owner,
    )
    off = links.create({"target": "https://example.com/off"}, actor=owner)
    links.disable(off, by=owner)
    return made, locked, ruled, off


def torii_location(client, link) -> tuple[int, str]:
    answer = client.get(f"/{link.slug}", HTTP_HOST=link.domain.host)
    return answer.status_code, answer["Location"]


def records_of(owner):
    return export.records(access.exportable(owner))


def test_each_file_says_what_it_cannot_express_and_leaves_out_what_it_would_weaken():
    alice = make_user("alice")
    _made, locked, ruled, off = live_links(alice)
    result = exits.plan(records_of(alice))
    text = "".join(exits.nginx(result))
    assert "cannot ask for a password" in text
    assert f"left out: {locked.domain.host}/{locked.slug} (protected by a password)" in text
    assert f"left out: {ruled.domain.host}/{ruled.slug} (has rules)" in text
    assert off.slug not in text and "example.com/secret" not in text
    plain = exits.plan(records_of(alice), exits.PLAIN)
    assert ruled.target in "".join(exits.caddy(plain))
    assert "example.com/secret" not in "".join(exits.redirects(plain, locked.domain.host))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ask(port: int, host: str, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": host})
    answer = connection.getresponse()
    answer.read()
    return answer.status, answer.getheader("Location") or ""


@pytest.mark.skipif(not shutil.which("nginx"), reason="apt-get install -y nginx-light")
def test_debian_nginx_serving_the_map_redirects_exactly_as_torii(client, tmp_path):
    alice = make_user("alice")
    made, *_ = live_links(alice)
    (tmp_path / "torii.map").write_text("".join(exits.nginx(exits.plan(records_of(alice)))))
    port = free_port()
    ifs = "".join(f"if ($torii_{c}) {{ return {c} $torii_{c}; }}\n" for c in exits.CODES)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; include {tmp_path}/torii.map;\n"
        f"server {{ listen 127.0.0.1:{port}; server_name _; {ifs} return 404; }} }}\n"
    )
    server = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        for link in made:
            assert ask(port, link.domain.host, f"/{link.slug}") == torii_location(client, link)
        assert ask(port, "go.example.org", "/nosuch")[0] == 404
    finally:
        server.terminate()
        server.wait(10)


def test_a_static_file_server_serving_the_site_redirects_to_each_destination(tmp_path):
    alice = make_user("alice")
    made, *_ = live_links(alice)
    site = Link.objects.get(pk=made[0].pk).domain.host
    archive = zipfile.ZipFile(
        io.BytesIO(exits.render("static", exits.plan(records_of(alice), host=site), site))
    )
    archive.extractall(tmp_path)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for link in made[: len(TARGETS)]:
            status, _ = ask(server.server_port, site, f"/{link.slug}/")
            assert status == 200
            page = (tmp_path / link.slug / "index.html").read_text()
            url = re.search(r'content="0; url=([^"]+)"', page)[1]
            assert url.replace("&amp;", "&").replace("&#x27;", "'") == link.target
            assert f'<link rel="canonical" href="{url}">' in page
    finally:
        server.shutdown()
    assert "cannot ask for a password" in (tmp_path / "README.txt").read_text()


def test_the_command_writes_each_format_and_refuses_an_unknown_domain(tmp_path):
    alice = make_user("alice")
    live_links(alice)
    for fmt in sorted(exits.FORMATS):
        out = tmp_path / f"out.{fmt}"
        call_command(
            "export_redirects", "--format", fmt, "--output", str(out), stderr=io.StringIO()
        )
        assert out.stat().st_size > 0
    assert "redir /" in (tmp_path / "out.caddy").read_text()
    assert re.search(
        r"^/\w+ https://example.com/plain 302$", (tmp_path / "out.redirects").read_text(), re.M
    )
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no short domain"):
        call_command("export_redirects", "--format", "nginx", "--domain", "nope.example")


@pytest.mark.parametrize(
    ("url", "value"),
    [
        ("https://a.example/$x", '"https://a.example/${torii_dollar}x"'),
        ('https://a.example/\\"', '"https://a.example/\\\\\\""'),
    ],
)
def test_nginx_values_escape_what_nginx_reads(url, value):
    assert exits.nginx_value(url) == value


def test_caddy_values_escape_placeholders():
    assert exits.caddy_value("https://a.example/{x}") == '"https://a.example/\\{x\\}"'


def test_the_list_page_offers_each_file_of_the_links_one_may_export(client):
    """From the browser: a person's own live links, everything for staff, one domain with
    the list's filter; the rest as the command writes them."""
    alice, bob = make_user("alice"), make_user("bob")
    made, locked, ruled, _off = live_links(alice)
    bobs = links.create({"target": "https://example.com/bobs-own"}, actor=bob)
    client.force_login(alice)
    listing = client.get("/links/").content.decode()
    for kind in exits.FORMATS:
        assert re.search(rf'href="/links/redirects\.{kind}[?"]', listing)
    answer = client.get("/links/redirects.nginx")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="torii-redirects.nginx.conf"'
    text = answer.content.decode()
    assert exits.nginx_value(made[0].target) in text
    assert bobs.slug not in text and "bobs-own" not in text  # another user's link
    assert f"left out: {locked.domain.host}/{locked.slug} (protected by a password)" in text
    assert ruled.target not in text
    plain = client.get("/links/redirects.caddy", {"unsupported": "plain"}).content.decode()
    assert ruled.target in plain and "example.com/secret" not in plain
    one = client.get("/links/redirects.redirects", {"domain": "go.example.org"}).content.decode()
    assert "_redirects file for go.example.org" in one
    assert f"/{made[-1].slug} https://example.com/other 301" in one
    assert made[0].target not in one  # the site's links are another domain's
    archive = zipfile.ZipFile(io.BytesIO(client.get("/links/redirects.static").content))
    assert f"{made[0].slug}/index.html" in archive.namelist()

    client.force_login(make_user("staff", is_staff=True))
    assert "bobs-own" in client.get("/links/redirects.apache").content.decode()


def test_the_exit_files_need_a_sign_in_and_a_known_format(client):
    answer = client.get("/links/redirects.nginx")
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    client.force_login(make_user("alice"))
    assert client.get("/links/redirects.htaccess").status_code == 404
    assert client.post("/links/redirects.nginx").status_code == 405


# --- many links: the file written in the background, its job page, its download --------


@pytest.fixture
def exports(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    return settings.EXPORT_DIR


def test_past_the_direct_limit_the_file_is_written_in_the_background_and_offered(
    client, settings, exports
):
    alice = make_user("alice")
    made, locked, _ruled, _off = live_links(alice)
    client.force_login(alice)
    # The list's links may lead to a job page: a `download` attribute would save that page.
    assert not re.search(
        r'href="/links/redirects\.[a-z]+[^"]*" download', client.get("/links/").content.decode()
    )
    direct = {kind: client.get(f"/links/redirects.{kind}").content for kind in exits.FORMATS}
    settings.EXPORT_DIRECT_MAX = 3
    # The list's filters count: one link is under the limit, and comes straight away.
    one = client.get("/links/redirects.nginx", {"q": made[0].slug})
    assert one.status_code == 200 and exits.nginx_value(made[0].target).encode() in one.content

    for kind in exits.FORMATS:
        answer = client.get(f"/links/redirects.{kind}")
        assert answer.status_code == 302
        page = client.get(answer["Location"])
        text = page.content.decode()
        assert page.status_code == 200 and 'role="alert"' not in text
        assert f"Download {exits.FILENAMES[kind]}" in text
        written = 6 if kind in exits.ONE_DOMAIN else 7  # go.example.org's is another domain
        assert f"{written} redirects written</strong>, 2 left out, of 10 links read" in text
        assert "hx-trigger" not in text and 'http-equiv="refresh"' not in text
        download = client.get(answer["Location"] + "download")
        assert download.status_code == 200
        assert download["Content-Disposition"] == (
            f'attachment; filename="{exits.FILENAMES[kind]}"'
        )
        body = b"".join(download.streaming_content)
        if kind == "static":  # the same pages (a ZIP's bytes carry the time it was made)
            archive, same = (zipfile.ZipFile(io.BytesIO(b)) for b in (body, direct[kind]))
            assert {n: archive.read(n) for n in archive.namelist()} == {
                n: same.read(n) for n in same.namelist()
            }
        else:
            assert body == direct[kind]
    assert sorted(p.name for p in exports.iterdir()) == sorted(
        f"exit-{job.pk}-{exits.FILENAMES[job.kind]}" for job in ExitJob.objects.all()
    )  # whole files only: no .partial left behind
    assert (
        f"{locked.slug}"
        in (
            exports / f"exit-{ExitJob.objects.get(kind='nginx').pk}-{exits.FILENAMES['nginx']}"
        ).read_text()
    )


def test_a_job_being_written_shows_how_far_it_got_with_and_without_javascript(client, exports):
    alice = make_user("alice")
    job = ExitJob.objects.create(
        owner=alice,
        kind="caddy",
        choices={"host": "localhost"},
        total=5000,
        done=2000,
        status=BulkStatus.RUNNING,
    )
    client.force_login(alice)
    text = client.get(job.get_absolute_url()).content.decode()
    assert "2000 of 5000 links read" in text and 'value="2000"' in text
    assert 'hx-trigger="every 1s"' in text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in text
    fragment = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="exit-progress"')
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]
    assert client.get(f"/links/redirects/{job.pk}/download").status_code == 404


def test_a_job_is_its_owners_alone_and_is_gone_with_its_file_a_day_after(client, settings, exports):
    alice, bob = make_user("alice"), make_user("bob")
    live_links(alice)
    settings.EXPORT_DIRECT_MAX = 1
    client.force_login(alice)
    where = client.get("/links/redirects.apache")["Location"]
    job = ExitJob.objects.get()
    path = exit_jobs.path_of(job)
    assert job.status == BulkStatus.DONE and path.exists()
    client.force_login(bob)
    assert client.get(where).status_code == 404
    assert client.get(where + "download").status_code == 404
    client.force_login(make_user("stan", is_staff=True))
    assert client.get(where).status_code == 404  # staff export for themselves
    client.force_login(alice)
    listing = client.get("/links/").content.decode()
    assert f'<a href="{where}">torii-redirects.apache.map, ' in listing and "(done)</a>" in listing

    assert exit_jobs.prune(now=job.finished_at + timedelta(hours=23)) == 0
    assert path.exists()
    assert exit_jobs.prune(now=job.finished_at + timedelta(days=1, seconds=1)) == 1
    assert not path.exists() and not ExitJob.objects.exists()
    client.force_login(alice)
    assert client.get(where).status_code == 404


def test_a_job_that_fails_says_so_and_leaves_no_half_file(client, settings, exports, monkeypatch):
    alice = make_user("alice")
    live_links(alice)
    settings.EXPORT_DIRECT_MAX = 1

    def breaks(kind, result, host, into):
        into.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exits, "write", breaks)
    client.force_login(alice)
    where = client.get("/links/redirects.nginx")["Location"]
    text = client.get(where).content.decode()
    assert 'role="alert"' in text and "The file could not be written (OSError)" in text
    assert "Download" not in text
    assert client.get(where + "download").status_code == 404
    assert list(exports.iterdir()) == []


def test_a_job_a_dead_worker_left_running_is_written_whole_when_run_again(exports):
    alice = make_user("alice")
    live_links(alice)
    site = Domain.objects.site().host
    job = ExitJob.objects.create(
        owner=alice,
        kind="redirects",
        choices={"host": site, "unsupported": exits.SKIP},
        total=11,
        done=7,
        status=BulkStatus.RUNNING,
    )
    path = exit_jobs.path_of(job)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True)
    partial.write_text("what the dead worker wrote")
    assert exit_jobs.write_exit.call(job.pk) == "6 written, 2 left out, 0 plain"
    job.refresh_from_db()
    assert (job.status, job.done, job.written) == (BulkStatus.DONE, 10, 6)
    written = path.read_text()
    assert written.startswith(f"# Torii's live redirects as a _redirects file for {site}: 6 links.")
    assert written.count("\n/") == 6 and "what the dead worker wrote" not in written
    assert not partial.exists()
