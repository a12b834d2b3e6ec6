"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the alert tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from trialwatch.alerts.smtp import SmtpSettings

HOST = "127.0.0.1"


def plain_settings(port: int) -> SmtpSettings:
    """Settings for the loopback server below: no TLS, no login."""
    return SmtpSettings(
        host=HOST,
        port=port,
        user=None,
        password=None,
        sender="alerts@trialwatch.test",
        security="none",
        timeout=5,
    )


USER, PASSWORD = "alerts@example.org", "pa55-w0rd-that-must-not-leak"
MESSAGE_ID = "<alert-42.7f3c@trialwatch.example>"


def free_port() -> int:
    """A port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what arrives, or answers with a fixed reply."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or envelope.content
        got = {"content": content, "rcpt_tos": list(envelope.rcpt_tos)}
        self.received.append(got | {"auth": session.authenticated, "tls": bool(session.ssl)})
        return "250 Message accepted"


def check_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    # handled=False: let aiosmtpd send its 535 reply for a refused login.
    return AuthResult(success=ok, handled=ok)


@contextmanager
def smtp_server(handler: Recorder, port: int | None = None, **smtp_options: Any) -> Iterator[int]:
    """The server on ``port`` (default: a free one) until the block ends; yields the port."""
    controller = Controller(handler, hostname=HOST, port=port or free_port(), **smtp_options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()
