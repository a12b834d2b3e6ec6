"""What every request to the web app passes and every response carries, around all routes,
the static files and the error pages:

- HEAD is answered as GET is, without the body.
- A control character (C0, DEL, C1) in the path or in any query parameter's name or value is
  refused with a 400 and one line: no search, date or id holds one, PostgreSQL fails on NUL
  and SQLite's LIKE takes it as matching everything.
- The security headers go on every response, refusals and failures included.
- An exception no route expected becomes a 500 page (JSON under /api) and one log line,
  not a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SHOWN_NAME = 40  # characters of a parameter's name repeated in a refusal
LOGGED_TARGET = 200  # characters of the request target in a failure's log line

log = logging.getLogger("trialwatch.web")

Problem = Callable[[Request, int, str], Response]


def control_problem(scope: Scope) -> str | None:
    """The refusal for a control character in the path or the query; None when there is
    none. The query is read as Starlette reads it for the routes (percent-decoded UTF-8)."""
    found = CONTROL.search(scope["path"])
    if found:
        return _refusal("path", found)
    for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
        found = CONTROL.search(name)
        if found:
            return _refusal("a query parameter name", found)
        found = CONTROL.search(value)
        if found:
            return _refusal(name[:SHOWN_NAME], found)
    return None


def _refusal(where: str, found: re.Match[str]) -> str:
    return f"{where}: control character U+{ord(found.group()):04X} is not accepted"


def target(scope: Scope) -> str:
    """The request's path and query as sent (percent-encoded), cut short for a log line."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    text = (path + (b"?" + query if query else b"")).decode("latin-1")
    return text if len(text) <= LOGGED_TARGET else text[: LOGGED_TARGET - 3] + "..."


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


class Guard:
    """ASGI middleware, outermost around the app; ``problem`` renders a refusal or a
    failure (an HTML page, JSON under /api), ``headers`` go on every response."""

    def __init__(self, app: ASGIApp, problem: Problem, headers: Mapping[str, str]) -> None:
        self.app = app
        self.problem = problem
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).update(self.headers)
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        refused = control_problem(scope)
        if refused is not None:
            await self.problem(Request(scope), 400, refused)(scope, receive, guarded_send)
            return
        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:  # any failure at all: one line, and the page says so
            log.error("500 %s %s: %s", method, target(scope), _first_line(exc))
            if started:  # part of the answer is out: the server closes the connection
                return
            message = f"{scope['path']}: the server failed to answer this request"
            await self.problem(Request(scope), 500, message)(scope, receive, guarded_send)
