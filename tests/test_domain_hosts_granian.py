"""Host headers as they arrive on the wire, through real granian workers: each gets a
defined answer (its own domain's redirect, 404 or 400), never a 500 and never another
domain's link. Raw sockets, so the Host header is exactly the bytes sent (or absent)."""

import socket

import pytest

from tests.conftest import make_domain, make_link
from tests.servers import granian

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def raw_get(base_url: str, path: str, host: bytes | None, version: str = "1.1") -> tuple[int, str]:
    address = base_url.removeprefix("http://")
    ip, port = address.rsplit(":", 1)
    request = f"GET {path} HTTP/{version}\r\n".encode()
    if host is not None:
        request += b"Host: " + host + b"\r\n"
    request += b"Connection: close\r\n\r\n"
    with socket.create_connection((ip, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    location = next(
        (
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("location:")
        ),
        "",
    )
    return status, location


HOSTS = [
    (b"localhost", 302, "https://example.com/site"),
    (b"ex.co", 302, "https://example.com/ex"),
    (b"EX.CO.:8080", 302, "https://example.com/ex"),
    (b"xn--bcher-kva.example", 302, "https://example.com/idn"),
    ("bücher.example".encode(), 400, ""),
    (b"sub.ex.co", 400, ""),
    (b"old.example", 400, ""),
    (b"ex.co:bad", 400, ""),
    (b"", 400, ""),
]


def test_bad_hosts_through_granian_get_defined_answers():
    ex = make_domain("ex.co")
    idn = make_domain("bücher.example")
    old = make_domain("old.example", is_active=False)
    make_link(slug="launch", target="https://example.com/site")
    make_link(slug="launch", target="https://example.com/ex", domain=ex)
    make_link(slug="launch", target="https://example.com/idn", domain=idn)
    make_link(slug="launch", target="https://example.com/old", domain=old)
    with granian(workers=1) as url:
        answers = {host: raw_get(url, "/launch", host) for host, _, _ in HOSTS}
        not_found = raw_get(url, "/admin/", b"ex.co")
        health = raw_get(url, "/healthz", b"ex.co")
        missing_host = raw_get(url, "/launch", None, version="1.0")
    assert answers == {host: (status, location) for host, status, location in HOSTS}
    assert not_found[0] == 404 and health[0] == 200
    # HTTP/1.0 without Host: the server's own name, 127.0.0.1, a configured host: the
    # site's own link, or a 400; never another domain's link and never a 500.
    assert missing_host in {(302, "https://example.com/site"), (400, "")}
