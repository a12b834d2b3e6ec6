"""`trialwatch serve` against hostile clients, through the real command on loopback: raw
sockets send an over-long request line, headers a byte at a time or never finished, HEAD,
and a request that fails unexpectedly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.analyst_data import analyst_template  # noqa: F401
from tests.web.conftest import free_port
from trialwatch.cli import cli
from trialwatch.web.app import CSP
from trialwatch.web.server import HEADER_TIMEOUT as DEFAULT_TIMEOUT
from trialwatch.web.server import MAX_HEAD, MAX_REQUEST_LINE

TRIAL = "NCT04280705"
HEADER_TIMEOUT = 2  # seconds, given to --header-timeout so the tests stay short


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    stderr: str = field(default="")


@contextmanager
def serving(db: Path, *options: str) -> Iterator[Served]:
    """`trialwatch --db DB serve --port PORT OPTIONS` in a subprocess, once it answers; its
    stderr is read into ``Served.stderr`` when it stops."""
    port = free_port()
    command = [sys.executable, "-m", "trialwatch.cli", "--db", str(db), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TRIALWATCH_DATABASE_URL": ""},
    )
    served = Served(port, process)
    try:
        deadline = time.monotonic() + 20
        while not answers(port):
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        served.stderr = process.communicate(timeout=10)[1].decode()


def answers(port: int) -> bool:
    try:
        return exchange(port, request("GET", "/static/app.css")).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def request(method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` and read until the server closes (a reset fails the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.fixture
def analyst_db(analyst_template: Path, tmp_path: Path) -> Path:  # noqa: F811
    shutil.copytree(analyst_template, tmp_path / "db")
    return tmp_path / "db" / "trialwatch.db"


def test_an_overlong_request_line_gets_414(analyst_db: Path) -> None:
    with serving(analyst_db) as served:
        huge = exchange(served.port, request("GET", "/trials?q=" + "a" * 160_000))
        status, headers, body = parse(huge)
        assert status == 414, huge[:200]
        assert headers["content-security-policy"] == CSP
        assert headers["connection"] == "close"
        assert body.decode().strip() == "request line longer than 8192 bytes"
        # The limit is the request line ("GET target HTTP/1.1"): 8192 bytes pass, 8193 do not.
        padding = 8192 - len("GET /trials?q= HTTP/1.1")
        status, _, body = parse(exchange(served.port, request("GET", "/trials?q=" + "a" * padding)))
        assert status == 400 and b"q: longer than 200 characters" in body
        over = exchange(served.port, request("GET", "/trials?q=" + "a" * (padding + 1)))
        assert parse(over)[0] == 414
        many = [f"X-Filler-{n}: {'b' * 100}" for n in range(200)]  # 20 KB of headers
        status, headers, _ = parse(exchange(served.port, request("GET", "/", *many)))
        assert status == 431 and headers["content-security-policy"] == CSP
        assert parse(exchange(served.port, request("GET", "/")))[0] == 200  # still serving


def cut_off_after(port: int, first: bytes, trickle: bytes, every: float) -> tuple[float, bytes]:
    """Send ``first``, then ``trickle`` a byte at a time every ``every`` seconds (nothing
    when empty) until the server closes; the seconds that took and what it answered."""
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(first)
        sock.settimeout(every)
        sent = 0
        while time.monotonic() - started < 30:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if trickle:
                    try:
                        sock.sendall(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    sent += 1
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return time.monotonic() - started, answer


def test_slow_headers_are_cut_off(analyst_db: Path) -> None:
    with serving(analyst_db, "--header-timeout", str(HEADER_TIMEOUT)) as served:
        start = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        cases = {
            "a byte at a time": (start, b"X-Slow: abcdefgh"),
            "never finished": (start, b""),
            "nothing sent": (b"", b""),
        }
        for name, (first, trickle) in cases.items():
            took, answer = cut_off_after(served.port, first, trickle, every=0.25)
            assert HEADER_TIMEOUT - 0.5 <= took <= HEADER_TIMEOUT + 5, (name, took)
            if first:
                status, headers, _ = parse(answer)
                assert status == 408 and headers["content-security-policy"] == CSP, name
            else:
                assert answer == b"", name
        # Requests sent whole are answered, one after another on the same connection.
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            for _ in range(3):
                sock.sendall(b"GET /static/app.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert read_response(sock)[0] == 200
                time.sleep(HEADER_TIMEOUT / 2)  # together longer than the timeout
            sock.sendall(request("GET", "/api/trials"))
            assert read_response(sock)[0] == 200


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole response on a kept-alive connection (its body by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    status, headers, body = parse(data)
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return status, headers, body


def test_head_is_answered_like_get(analyst_db: Path) -> None:
    paths = [
        "/",
        "/trials?q=covid",
        f"/trials/{TRIAL}",
        "/changes?grade=major",
        "/api/trials?q=covid",
        f"/api/trials/{TRIAL}/timeline",
        "/api/changes",
        "/openapi.json",
        "/static/app.css",
        "/no/such/page",
    ]
    with serving(analyst_db) as served:
        for path in paths:
            get = parse(exchange(served.port, request("GET", path)))
            head = parse(exchange(served.port, request("HEAD", path)))
            assert head[0] == get[0] == (404 if path.startswith("/no/") else 200), path
            assert head[2] == b"" and get[2] != b"", path
            for name in ("content-type", "content-length", "content-security-policy"):
                assert head[1][name] == get[1][name], (path, name)


def test_an_unexpected_error_keeps_the_headers_and_logs_one_line(analyst_db: Path) -> None:
    with serving(analyst_db) as served:
        engine = create_engine(f"sqlite:///{analyst_db}")
        with engine.begin() as conn:  # the database changed under the server
            conn.execute(text('ALTER TABLE "change" RENAME TO change_moved'))
        engine.dispose()
        status, headers, body = parse(exchange(served.port, request("GET", "/changes")))
        assert status == 500
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert b"Traceback" not in body and b"change_moved" not in body
        status, headers, _ = parse(exchange(served.port, request("GET", "/api/changes")))
        assert status == 500 and headers["content-type"].startswith("application/json")
    assert "Traceback" not in served.stderr
    logged = [line for line in served.stderr.splitlines() if "/changes" in line]
    assert len(logged) == 2, served.stderr
    assert all(line.startswith("ERROR:") and "500 GET /" in line for line in logged), logged
    assert all("no such table" in line for line in logged), logged


def test_the_help_states_the_limits() -> None:
    said = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "--header-timeout SECONDS" in said and f"[default: {DEFAULT_TIMEOUT};" in said
    assert f"over {MAX_REQUEST_LINE} bytes get 414" in said
    assert f"over {MAX_HEAD} bytes get 431" in said
