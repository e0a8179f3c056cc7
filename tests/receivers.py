"""Webhook receivers on loopback for tests: each answers as its test says (a status, a
hang, a drip, 10 MB, a reset), records what it was sent, and stops with the test."""

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """`behaviour(received) -> bytes | None`: the raw answer, or None to do something
    nasty the behaviour already did (it gets the connection as `conn`)."""

    behaviour: object = None
    received: list[Received] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                body += conn.recv(65536)
            got = Received(headers, body)
            self.received.append(got)
            answer = (self.behaviour or ok)(got, conn, self)
            if answer is not None:
                conn.sendall(answer)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self):
        self.stopped.set()
        self.sock.close()
        self.thread.join(timeout=2)


def answer(status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ok(got, conn, receiver) -> bytes:
    return answer(200, b"thanks")


def status(code: int, **headers):
    return lambda got, conn, receiver: answer(code, b"no", headers)


def hang(got, conn, receiver):
    receiver.stopped.wait(5)  # never answers while the test runs


def drip(got, conn, receiver):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not receiver.stopped.is_set():
        conn.sendall(b"X-Slow: y\r\n")
        time.sleep(0.05)


def huge(got, conn, receiver):
    size = 10 * 1024 * 1024
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    block = b"x" * 65536
    try:
        for _ in range(size // len(block)):
            conn.sendall(block)
    except OSError:
        pass  # the fetcher stopped reading and closed: as it should


def reset(got, conn, receiver):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def redirect_to_metadata(got, conn, receiver) -> bytes:
    return answer(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
