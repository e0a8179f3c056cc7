"""A webhook body that disagrees with its Content-Length is refused with 400 before it is
verified or stored: through Django's client (with a stream that ends early, as a server's
does) and through granian on a raw socket, since the test client always sends the right
length."""

import io
import socket
import time

import pytest
from django.urls import reverse

from shortener.models import WebhookEvent
from tests.webhook_delivery import is_problem, make_source, payload, signed_headers


def post_with_length(client, source, body: bytes, declared: int, signed_body: bytes):
    headers = signed_headers(source.secret, signed_body)
    url = reverse("webhook-receive", kwargs={"source": source.name})
    # A real server's input stream hands over what arrived and then ends; Django's
    # FakePayload would raise instead, so a plain stream stands in for the socket.
    return client.post(
        url,
        body,
        content_type="application/json",
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": io.BytesIO(body)},
        **headers,
    )


@pytest.mark.django_db
def test_a_body_shorter_than_its_content_length_is_400_and_not_stored(client):
    source = make_source()
    body = payload()
    response = post_with_length(client, source, body, len(body) + 20, signed_body=body)
    assert is_problem(response, 400)
    assert response.json()["type"] == "urn:torii:problem:incomplete-body"
    assert (
        f"{len(body)} bytes where its Content-Length says {len(body) + 20}"
        in (response.json()["detail"])
    )
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_bytes_past_the_content_length_are_not_the_body(client):
    """HTTP frames a body by its Content-Length: what follows is never read as part of it,
    so a signature over the longer bytes does not hold for the body that was framed."""
    source = make_source()
    body = payload()
    response = post_with_length(client, source, body, len(body) - 5, signed_body=body)
    assert is_problem(response, 401)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_of_its_content_length_is_accepted(client):
    source = make_source()
    body = payload("not.ours")
    response = post_with_length(client, source, body, len(body), signed_body=body)
    assert response.status_code == 202
    assert WebhookEvent.objects.count() == 1


def raw_post(base_url: str, source, body: bytes, declared: int) -> tuple[int, bytes]:
    """Send headers and `body` on a raw socket, then stop sending (half-close)."""
    ip, port = base_url.removeprefix("http://").rsplit(":", 1)
    signed = signed_headers(source.secret, body, timestamp=int(time.time()))
    head = (
        f"POST /webhooks/{source.name}/ HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n"
        f"webhook-id: {signed['HTTP_WEBHOOK_ID']}\r\n"
        f"webhook-timestamp: {signed['HTTP_WEBHOOK_TIMESTAMP']}\r\n"
        f"webhook-signature: {signed['HTTP_WEBHOOK_SIGNATURE']}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((ip, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the server's worker must see the source
def test_granian_a_body_cut_short_of_its_content_length_is_400():
    from tests.servers import granian

    source = make_source()
    body = payload()
    with granian(workers=1) as url:
        status, answer = raw_post(url, source, body, len(body) + 20)
    assert status == 400
    assert b"urn:torii:problem:incomplete-body" in answer
    assert not WebhookEvent.objects.exists()
