"""Loopback servers for crawl-limit tests: a search API whose page tokens follow a plan (a
cycle, an endless chain), answering at once or slowly, and a server that accepts connections
and never answers.

Pages are built from the studies of a real recorded search page
(tests/fixtures/ctgov_spider/ctgov_v2_studies_page_10studies_martinadep.json); only the
`nextPageToken` each page carries is the plan's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURE_PAGE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "ctgov_spider"
    / "ctgov_v2_studies_page_10studies_martinadep.json"
)
STUDIES: list[dict[str, Any]] = json.loads(FIXTURE_PAGE.read_bytes())["studies"]

# page token (None for the first page) -> (studies on that page, the next token or None)
Plan = Callable[[str | None], tuple[list[dict[str, Any]], str | None]]


def nct_of(study: Mapping[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def cycle_plan(*tokens: str, per_page: int = 3) -> Plan:
    """First page -> tokens[0] -> tokens[1] -> ... -> tokens[-1] -> tokens[0] (a loop)."""
    order: list[str | None] = [None, *tokens]

    def plan(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        n = order.index(token)
        studies = STUDIES[n * per_page : (n + 1) * per_page]
        return studies, tokens[n % len(tokens)]

    return plan


def endless_plan() -> Plan:
    """Every page carries a token never seen before (one study each, the ten in turn)."""

    def plan(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        n = 0 if token is None else int(token.removeprefix("page-"))
        return [STUDIES[n % len(STUDIES)]], f"page-{n + 1}"

    return plan


class PageServer:
    """`/api/v2/studies` pages by `plan`, other paths from `bodies` (path -> bytes), 404
    otherwise (robots.txt too); each answer after `delay` seconds."""

    def __init__(
        self,
        plan: Plan | None = None,
        *,
        bodies: Mapping[str, bytes] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.plan = plan
        self.bodies = dict(bodies or {})
        self.delay = delay
        self.received: list[tuple[str, dict[str, list[str]], float]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                owner.received.append((parts.path, query, time.monotonic()))
                if parts.path != "/robots.txt":
                    time.sleep(owner.delay)
                status, body = owner.answer(parts.path, query)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, query: Mapping[str, list[str]]) -> tuple[int, bytes]:
        if path == "/api/v2/studies" and self.plan is not None:
            token = query.get("pageToken", [None])[0]
            studies, following = self.plan(token)
            page: dict[str, Any] = {"studies": studies}
            if following is not None:
                page["nextPageToken"] = following
            return 200, json.dumps(page).encode()
        if path in self.bodies:
            return 200, self.bodies[path]
        return 404, b'{"error": "not found"}'

    def pages(self) -> list[str | None]:
        """The pageToken of each search page asked for, in order."""
        return [
            q.get("pageToken", [None])[0] for p, q, _ in self.received if p == "/api/v2/studies"
        ]

    def __enter__(self) -> PageServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """Accepts every connection and never sends a byte (nor closes it) until stopped; with
    ``hang_up``, reads the request and closes the connection without a word."""

    def __init__(self, *, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[float] = []  # time.monotonic() of each connection
        self._held: list[socket.socket] = []
        self._stop = threading.Event()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(time.monotonic())
            if self.hang_up:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                conn.close()
            else:
                self._held.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()
