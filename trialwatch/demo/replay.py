"""Replay recorded HTTP responses from a folder on 127.0.0.1, for tests and the demo.

The folder holds body files and a routes file (default ``routes.json``)::

    {"routes": [
      {"path": "/api/v2/studies/NCT00184067",
       "responses": [{"status": 429, "headers": {"Retry-After": "1"}},
                     {"status": 200, "body": "ctgov_v2_NCT00184067.json"}]},
      {"path": "/api/v2/studies", "query": {"pageToken": null},
       "responses": [{"status": 200, "body": "page_1.json"}]},
      {"path": "/api/v2/studies", "query": {"pageToken": "NF0g5JaGmg"},
       "responses": [{"status": 200, "body": "page_2.json"}]}
    ]}

Matching: the path must be equal; each `query` entry must equal the request's parameter
(`null` means the parameter must be absent); parameters not named are ignored. Of the routes
that match, the one naming the most parameters wins, then the first in the file. Each request
to a route takes its next response; the last one repeats. A response has `status`, optional
`headers`, and a body from `body` (a file name inside the folder) or `text` (inline).
Unknown paths get a 404 with a small JSON error body; so does /robots.txt unless routed.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class RoutesError(ValueError):
    """The routes file or a body name in it is unusable."""


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.time() when it arrived

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Route:
    path: str
    query: dict[str, str | None]
    replies: list[Reply]
    served: int = field(default=0)

    def matches(self, path: str, query: Mapping[str, list[str]]) -> bool:
        if path != self.path:
            return False
        for name, want in self.query.items():
            got = query.get(name)
            if want is None:
                if got:
                    return False
            elif not got or got[0] != want:
                return False
        return True

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


def safe_body_path(folder: Path, name: object) -> Path:
    """Resolve a body file name inside `folder`; refuse anything that could leave it."""
    if (
        not isinstance(name, str)
        or not name
        or "/" in name
        or "\\" in name
        or ".." in name
        or name.startswith(".")
        or "\x00" in name
    ):
        raise RoutesError(f"body name {name!r} refused: must be a plain file name in {folder}")
    path = folder / name
    if not path.is_file():
        raise RoutesError(f"body file {name!r} not found in {folder}")
    return path


def load_routes(folder: Path, spec: Mapping[str, Any]) -> list[Route]:
    raw_routes = spec.get("routes")
    if not isinstance(raw_routes, list):
        raise RoutesError(f"routes in {folder}: expected {{'routes': [...]}}")
    routes = []
    for i, raw in enumerate(raw_routes):
        where = f"route {i} in {folder}"
        if not isinstance(raw, dict) or not str(raw.get("path", "")).startswith("/"):
            raise RoutesError(f"{where}: needs a 'path' starting with '/'")
        query = raw.get("query") or {}
        if not isinstance(query, dict) or not all(
            v is None or isinstance(v, str) for v in query.values()
        ):
            raise RoutesError(f"{where}: 'query' must map names to strings or null")
        responses = raw.get("responses")
        if not isinstance(responses, list) or not responses:
            raise RoutesError(f"{where}: needs a non-empty 'responses' list")
        routes.append(
            Route(raw["path"], dict(query), [_reply(folder, r, where) for r in responses])
        )
    return routes


def _reply(folder: Path, raw: Any, where: str) -> Reply:
    if not isinstance(raw, dict) or not isinstance(raw.get("status"), int):
        raise RoutesError(f"{where}: each response needs an integer 'status'")
    headers = {str(k): str(v) for k, v in (raw.get("headers") or {}).items()}
    if raw.get("body") is not None:
        name = raw["body"]
        body = safe_body_path(folder, name).read_bytes()
        if str(name).endswith(".json"):
            headers.setdefault("Content-Type", "application/json")
    else:
        body = str(raw.get("text", "")).encode("utf-8")
    return Reply(raw["status"], headers, body)


class ReplayServer:
    """``with ReplayServer(folder) as srv: crawl(..., base_url=srv.base_url)``."""

    def __init__(self, folder: Path | str, routes: str | Mapping[str, Any] = "routes.json") -> None:
        self.folder = Path(folder).resolve()
        if isinstance(routes, str):
            try:
                spec = json.loads(safe_body_path(self.folder, routes).read_text("utf-8"))
            except json.JSONDecodeError as exc:
                raise RoutesError(f"routes file {routes!r} in {self.folder}: {exc}") from None
        else:
            spec = routes
        self.routes = load_routes(self.folder, spec)
        self.received: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("replay server is not running")
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def respond(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self.received.append(
                ReceivedRequest(method, parts.path, query, dict(headers), time.time())
            )
            candidates = [r for r in self.routes if r.matches(parts.path, query)]
            if candidates:
                best = max(candidates, key=lambda r: len(r.query))  # max keeps the first on ties
                return best.next_reply()
        body = json.dumps({"error": "Not Found", "status": 404, "path": parts.path})
        return Reply(404, {"Content-Type": "application/json"}, body.encode())


def _handler_for(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server calls do_<METHOD>
            self._serve(send_body=True)

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def _serve(self, send_body: bool) -> None:
            reply = server.respond(self.command, self.path, dict(self.headers.items()))
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body:
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests assert on `received`; no noise on stderr

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay recorded responses from a folder.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--routes", default="routes.json", help="routes file inside the folder")
    args = parser.parse_args(argv)
    try:
        server = ReplayServer(args.folder, args.routes).start()
    except (RoutesError, OSError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"replaying {args.folder} at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
