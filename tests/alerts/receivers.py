"""Real HTTP receivers on 127.0.0.1 for the channel tests: a JSON webhook (answering a
given sequence of statuses, or hanging to make a sender time out) and an endpoint that
answers as an ntfy server does (https://docs.ntfy.sh/publish/#publish-as-json)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server was sent, and how it answers: ``statuses`` in turn, then ``then``."""

    statuses: list[int] = field(default_factory=list)
    then: int = 200
    ntfy: bool = False
    hang: float = 0.0  # seconds to wait before answering (a timeout on the sender's side)
    arrived: threading.Event = field(default_factory=threading.Event)  # a post came
    release: threading.Event | None = None  # set: hold each answer until it is set
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status < 300]

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.then

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://{HOST}:{self.port}{path}"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.arrived.set()
            if receiver.release is not None:
                receiver.release.wait(timeout=60)
            if receiver.hang:
                time.sleep(receiver.hang)
            status = receiver.next_status()
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers), body, status))
            answer = b'{"ok": true}'
            if receiver.ntfy and status == 200:
                sent = json.loads(body or b"{}")
                answer = json.dumps(
                    {
                        "id": secrets.token_hex(6),
                        "time": int(time.time()),
                        "event": "message",
                        "topic": sent.get("topic"),
                        "title": sent.get("title"),
                        "message": sent.get("message"),
                    }
                ).encode()
            elif status >= 400:
                answer = json.dumps({"code": status, "error": "refused by the test"}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the sender gave up waiting (a timeout test)
                self.close_connection = True

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Serve ``receiver`` on a free loopback port while the block runs."""
    receiver = receiver or Receiver()
    server = ThreadingHTTPServer((HOST, 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
