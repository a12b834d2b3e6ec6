"""Send one email over SMTP (stdlib ``smtplib``), with settings from the environment or config.

Settings come from ``TRIALWATCH_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_FROM`` and
``_SECURITY``; each one set (and not empty) wins over the same key (host, port, user,
password, from, security) of a config mapping such as the ``[smtp]`` table of a TOML file.
``SmtpSettings.load`` validates them and raises ``SmtpConfigError`` (a ValueError) naming the
variable; ``send_email`` raises ``SendError`` and says whether trying again later may help and
whether the settings (rather than the message) are what a person must fix.

A password is never sent over an unencrypted connection, whatever the security mode, and it
never appears in a repr, an exception message or a log line.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

ENV_PREFIX = "TRIALWATCH_SMTP_"
SECURITY_MODES: tuple[str, ...] = ("auto", "starttls", "tls", "none")
DEFAULT_PORTS: dict[str, int] = {"auto": 587, "starttls": 587, "tls": 465, "none": 25}
# config key -> environment variable suffix
_KEYS: dict[str, str] = {
    "host": "HOST",
    "port": "PORT",
    "user": "USER",
    "password": "PASSWORD",
    "from": "FROM",
    "security": "SECURITY",
}


class SmtpConfigError(ValueError):
    """The SMTP settings are missing or malformed (the message names the variable)."""


class SendError(Exception):
    """A message was not sent. ``temporary``: True when trying again later may succeed
    (connection refused, timeout, a 4xx reply); False for 5xx replies and setting errors.
    ``settings``: the SMTP settings or the server's set-up are at fault (TLS or login
    mismatch, login refused, the sender or relaying refused), so every message would fail
    the same way; False when only this message or its recipient was refused."""

    def __init__(self, message: str, *, temporary: bool, settings: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.settings = settings


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    security: str = "auto"  # "starttls" | "tls" | "none" | "auto" (STARTTLS when offered)
    timeout: float = 30.0

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] = os.environ,
        config: Mapping[str, Any] | None = None,
    ) -> SmtpSettings:
        """Settings from ``environ`` (TRIALWATCH_SMTP_*) over ``config`` (an ``[smtp]`` table).

        Raises SmtpConfigError when host or from is missing, the port is not a number in
        1-65535, the security mode is unknown, or only one of user and password is set.
        """
        values = {key: _setting(key, environ, config or {}) for key in _KEYS}
        host, sender = _required("host", values), _required("from", values)
        security = (values["security"] or "auto").lower()
        if security not in SECURITY_MODES:
            raise SmtpConfigError(
                f"{ENV_PREFIX}SECURITY: unknown mode {values['security']!r} "
                f"(expected one of {', '.join(SECURITY_MODES)})"
            )
        port = DEFAULT_PORTS[security]
        if values["port"] is not None:
            port = _port(values["port"])
        user, password = values["user"], values["password"]
        if (user is None) != (password is None):
            missing = "PASSWORD" if password is None else "USER"
            raise SmtpConfigError(
                f"{ENV_PREFIX}{missing} is not set: SMTP login needs both a user and a password"
            )
        return cls(
            host=host,
            port=port,
            user=user,
            password=password,
            sender=sender,
            security=security,
        )

    def fingerprint(self, salt: str | None = None) -> str:
        """``salt$hash`` of every setting, the password too: equal for the same settings and
        salt, and slow to guess a password from (PBKDF2). A new salt when none is given."""
        salt = salt or secrets.token_hex(8)
        material = "\n".join(
            (self.host, str(self.port), self.user or "", self.password or "", self.sender)
        )
        material += "\n" + self.security
        digest = hashlib.pbkdf2_hmac("sha256", material.encode(), salt.encode(), 100_000)
        return f"{salt}${digest.hex()[:40]}"

    def __repr__(self) -> str:
        password = None if self.password is None else "'***'"
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port!r}, user={self.user!r}, "
            f"password={password}, sender={self.sender!r}, security={self.security!r}, "
            f"timeout={self.timeout!r})"
        )

    __str__ = __repr__


def _setting(key: str, environ: Mapping[str, str], config: Mapping[str, Any]) -> str | None:
    for value in (environ.get(ENV_PREFIX + _KEYS[key]), config.get(key)):
        if value is not None and str(value).strip():
            # A password may begin or end with a space; nothing else should.
            return str(value) if key == "password" else str(value).strip()
    return None


def _required(key: str, values: Mapping[str, str | None]) -> str:
    value = values[key]
    if value is None:
        raise SmtpConfigError(
            f"SMTP {key} is not set: set {ENV_PREFIX}{_KEYS[key]} (or '{key}' in the [smtp] config)"
        )
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise SmtpConfigError(f"{ENV_PREFIX}PORT: {value!r} is not a port number (1-65535)")
    return port


def _header(name: str, value: str) -> str:
    """A header value on one line: CR and LF would start a new header (injection)."""
    clean = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    if not clean:
        raise ValueError(f"build_email: the {name} header is empty")
    return clean


def build_email(
    settings: SmtpSettings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML) from ``settings.sender``.

    ``message_id`` is used exactly as given (such as "<alert-42@trialwatch.example>"), so a
    retried delivery carries the same id; one with line breaks or spaces is a ValueError.
    ``date`` defaults to now.
    """
    if not message_id or any(c.isspace() for c in message_id):
        raise ValueError(f"build_email: malformed Message-ID {message_id!r}")
    message = EmailMessage()
    message["From"] = _header("From", settings.sender)
    message["To"] = _header("To", to)
    message["Subject"] = _header("Subject", subject)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_email(
    settings: SmtpSettings,
    message: EmailMessage,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send ``message`` to its To address through the server in ``settings``.

    ``ssl_context`` replaces the default verifying context (``ssl.create_default_context()``),
    for a server with a private certificate; a sender of many messages passes one context to
    all (making one reads the system's certificates). Raises SendError.
    """
    where = f"SMTP {settings.host}:{settings.port}"
    if not settings.host:
        raise SendError(f"SMTP host is not set ({ENV_PREFIX}HOST)", temporary=False, settings=True)
    if not settings.sender:
        raise SendError(
            f"SMTP sender is not set ({ENV_PREFIX}FROM)", temporary=False, settings=True
        )
    if settings.security not in SECURITY_MODES:
        raise SendError(
            f"{where}: unknown security mode {settings.security!r}", temporary=False, settings=True
        )
    if settings.security == "none" and settings.user is not None:
        raise _refuse_plain(where, settings.security)
    if ssl_context is None and settings.security != "none":
        ssl_context = ssl.create_default_context()
    try:
        _send(settings, message, ssl_context, where)
    except SendError:
        raise
    except Exception as exc:
        error = _classify(exc, where)
        password = settings.password or ""
        leaks = bool(password) and password in repr(exc)
        raise SendError(
            _scrub(str(error), settings.password),
            temporary=error.temporary,
            settings=error.settings,
        ) from (None if leaks else exc)


def _send(
    settings: SmtpSettings, message: EmailMessage, context: ssl.SSLContext | None, where: str
) -> None:
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        client.ehlo()
        encrypted = settings.security == "tls"
        if settings.security in ("starttls", "auto"):
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()  # the capabilities may differ once encrypted (AUTH)
                encrypted = True
            elif settings.security == "starttls":
                raise SendError(
                    f"{where}: the server does not offer STARTTLS "
                    f"({ENV_PREFIX}SECURITY=starttls requires it)",
                    temporary=False,
                    settings=True,
                )
        if settings.user is not None:
            if not encrypted:
                raise _refuse_plain(where, settings.security)
            client.login(settings.user, settings.password or "")
        refused = client.send_message(message)
        if refused:  # some recipients refused, others accepted
            raise _recipients_error(refused, where)


def _refuse_plain(where: str, security: str) -> SendError:
    return SendError(
        f"{where}: refusing to send the SMTP password over an unencrypted connection "
        f"(security={security}; use starttls or tls)",
        temporary=False,
        settings=True,
    )


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


def _policy(code: int, text: bytes | str) -> bool:
    """A reply that refuses the client rather than the mailbox: authentication required,
    relaying denied, any 5.7.x (security or policy) status."""
    words = _reply(code, text).lower()
    return code in (530, 535) or " 5.7." in words or "relay" in words or "authenticat" in words


def _recipients_error(refused: Mapping[str, tuple[int, bytes]], where: str) -> SendError:
    replies = "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in refused.items())
    temporary = all(400 <= code < 500 for code, _ in refused.values())
    settings = any(_policy(code, text) for code, text in refused.values())
    return SendError(
        f"{where}: recipient refused: {replies}", temporary=temporary, settings=settings
    )


def _classify(exc: Exception, where: str) -> SendError:
    """Map an smtplib, ssl or socket error to a SendError: may a later try succeed?"""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _recipients_error(exc.recipients, where)
    if isinstance(exc, smtplib.SMTPResponseException):
        temporary = 400 <= exc.smtp_code < 500
        # Refused at DATA: this message's content. Anywhere else (greeting, EHLO, STARTTLS,
        # AUTH, MAIL FROM): the settings or the server's set-up.
        settings = not isinstance(exc, smtplib.SMTPDataError) or _policy(
            exc.smtp_code, exc.smtp_error
        )
        return SendError(
            f"{where}: {_reply(exc.smtp_code, exc.smtp_error)}",
            temporary=temporary,
            settings=settings,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendError(f"{where}: server disconnected: {exc}", temporary=True)
    if isinstance(exc, smtplib.SMTPException):  # e.g. no AUTH offered: a setting to fix
        return SendError(f"{where}: {exc}", temporary=False, settings=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        # A certificate that does not verify needs a person, not a retry.
        return SendError(
            f"{where}: TLS certificate not trusted: {exc}", temporary=False, settings=True
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(
        exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
    ):
        # e.g. security=tls against a plain port: the handshake cannot succeed as set.
        return SendError(f"{where}: TLS failed: {exc}", temporary=False, settings=True)
    if isinstance(exc, TimeoutError):
        return SendError(f"{where}: timed out", temporary=True)
    if isinstance(exc, OSError):  # refused, unreachable, reset, TLS handshake cut short
        return SendError(f"{where}: {type(exc).__name__}: {exc}", temporary=True)
    return SendError(f"{where}: {type(exc).__name__}: {exc}", temporary=False)


def _scrub(text: str, password: str | None) -> str:
    # Belt and braces: no reply or library message should hold the password, but if one
    # ever echoes it, it stops here.
    return text.replace(password, "***") if password else text
