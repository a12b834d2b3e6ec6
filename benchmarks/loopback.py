"""A stand-in for ClinicalTrials.gov's `/api/v2/studies` on 127.0.0.1, serving one day's
generated pages with the API's pageToken paging.

What trialwatch's ctgov spider asks for (trialwatch/spiders/ctgov.py): `/robots.txt` (it obeys
robots.txt; a 404 means all allowed), then `GET /api/v2/studies?pageSize=1000&<query.*>`, then
the same with `&pageToken=<nextPageToken>` until a page comes back without a token. The search
parameters (query.*, filter.*) are accepted and not applied: every search gets the whole day,
which is what the benchmark crawls. A pageSize other than the pages' size, or an unknown token,
gets HTTP 400 with a one-line reason, as the real API answers a bad token.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


class PagesServer:
    """`with PagesServer(day_dir / "pages") as server:` serves at `server.url` until the block
    ends. `server.requests` counts the answered requests by path."""

    def __init__(self, pages: Path, host: str = "127.0.0.1") -> None:
        index = orjson.loads((pages / "index.json").read_bytes())
        self.pages = pages
        self.page_size = int(index["page_size"])
        self.first: str = index["first"]
        self.tokens: dict[str, str] = index["tokens"]
        self.requests: dict[str, int] = {}
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> PagesServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def answer(self, target: str) -> tuple[int, bytes]:
        """The status and body for a request target (path and query)."""
        parts = urlsplit(target)
        with self.lock:
            self.requests[parts.path] = self.requests.get(parts.path, 0) + 1
        if parts.path.rstrip("/") != "/api/v2/studies":
            return 404, b'{"message":"not found"}'
        params = parse_qs(parts.query, keep_blank_values=True)
        size = params.get("pageSize", [str(self.page_size)])[-1]
        if size != str(self.page_size):
            reason = f"pageSize {size}: these pages hold {self.page_size} studies"
            return 400, orjson.dumps({"message": reason})
        token = params.get("pageToken", [None])[-1]
        if token is None:
            name = self.first
        elif token in self.tokens:
            name = self.tokens[token]
        else:
            return 400, orjson.dumps({"message": f"invalid pageToken {token!r}"})
        return 200, (self.pages / name).read_bytes()


def _handler(server: PagesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            status, body = server.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the runner reports
            return

    return Handler
