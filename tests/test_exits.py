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
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from shortener import links
from shortener.links import access
from shortener.links.models import Link
from shortener.portability import exits, export
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
    archive = zipfile.ZipFile(io.BytesIO(exits.static_site(exits.plan(records_of(alice)), site)))
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
