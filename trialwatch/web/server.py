"""The HTTP server under `trialwatch serve`: uvicorn with its h11 protocol, given the limits
uvicorn does not set on a request's head.

- A request line ("GET /target HTTP/1.1") longer than ``MAX_REQUEST_LINE`` bytes gets
  414 URI Too Long; a head (request line and headers) longer than ``MAX_HEAD`` gets 431.
  Left to uvicorn, both are a 400 and an immediate close, which a client still sending its
  request mostly sees as a connection reset.
- A request's head must arrive whole within ``header_timeout`` seconds of the connection
  opening or of the previous response's end; else the connection is closed, with a 408 when
  part of a head came. uvicorn only times out an idle kept-alive connection, and any byte
  starts that timer again, so a client sending a byte at a time was never cut off.

After such an answer the connection is half-closed and whatever the client still sends is
read and dropped for up to ``LINGER`` seconds, so that it reads the answer, not a reset.
WebSocket upgrades are off: the app has none.
"""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from trialwatch.web.app import SECURITY_HEADERS

MAX_REQUEST_LINE = 8192  # bytes, as Apache's LimitRequestLine and nginx's default buffers
MAX_HEAD = 16384  # bytes of request line and headers (h11's own limit, kept)
HEADER_TIMEOUT = 10.0  # seconds, the default of `serve --header-timeout`
LINGER = 2.0  # seconds to drain a refused client's request before closing
_HEAD_END = re.compile(rb"\n\r?\n")


def head_problem(pending: bytes) -> tuple[int, str] | None:
    """The status and one line refusing the request head that starts ``pending`` (the bytes
    received and not yet parsed), as soon as it is too long; None while it may still do."""
    data = pending.lstrip(b"\r\n")
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    if len(line.rstrip(b"\r")) > MAX_REQUEST_LINE:
        return 414, f"request line longer than {MAX_REQUEST_LINE} bytes"
    blank = _HEAD_END.search(data)
    if (blank.end() if blank else len(data)) > MAX_HEAD:
        return 431, f"request headers longer than {MAX_HEAD} bytes"
    return None


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the head limits above. It hooks the points where uvicorn
    parses (``handle_events``) and where a response ends (``on_response_complete``)."""

    header_timeout = HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # answered and half-closed: what still comes is dropped
            return
        super().data_received(data)

    def handle_events(self) -> None:
        if self._refused:
            return
        if self.conn.their_state is h11.IDLE:
            problem = head_problem(self.conn.trailing_data[0])
            if problem is not None:
                self._refuse(*problem)
                return
        super().handle_events()
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def _awaiting_head(self) -> bool:
        idle = self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE
        return idle and not self._refused and not self.transport.is_closing()

    def _watch_head(self) -> None:
        """Time the head being waited for (once, from when waiting began); stop the clock
        once it is in."""
        if self._refused:  # the timer left is the linger's
            return
        if not self._awaiting_head():
            self._stop_timer()
        elif self._timer is None:
            self._timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if not self._awaiting_head():
            return
        if self.conn.trailing_data[0].strip():
            seconds = f"{self.header_timeout:g}"
            self._refuse(408, f"request headers not received within {seconds} seconds")
        else:
            self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message``, then half-close and drain (see LINGER)."""
        self._refused = True
        self._stop_timer()
        self.logger.warning("%s %s", status, message)
        body = (message + "\n").encode()
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **SECURITY_HEADERS,
        }
        head = f"HTTP/1.1 {status} {STATUS_PHRASES[status].decode()}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.transport.write(head.encode("latin-1") + b"\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._timer = self.loop.call_later(LINGER, self.transport.close)


def limited_protocol(header_timeout: float) -> type[LimitedH11Protocol]:
    """The protocol class with ``header_timeout`` (uvicorn makes one per connection)."""

    class Limited(LimitedH11Protocol):
        pass

    Limited.header_timeout = header_timeout
    return Limited


def run(app: Any, host: str, port: int, header_timeout: float = HEADER_TIMEOUT) -> None:
    """Serve ``app`` until interrupted. The app's own log lines (trialwatch.web) go to
    stderr as uvicorn's do."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["trialwatch.web"] = {"handlers": ["default"], "propagate": False}
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=limited_protocol(header_timeout),
        ws="none",
        h11_max_incomplete_event_size=MAX_HEAD,
        log_config=log_config,
        log_level="warning",
        server_header=False,
    )
