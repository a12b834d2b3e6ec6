"""Apprise URLs as channels: checked when a watch is added, shown with their secrets masked,
and used to send one message.

Apprise (https://github.com/caronc/apprise) knows the channels: Slack, Teams (`workflows://`),
Discord, ntfy, JSON/XML/form webhooks, `mailto://` and a few hundred more. Nothing here
speaks a channel's protocol; this module only decides what a failure means for the outbox:
a 4xx other than 408/425/429 holds the message for a person (the URL or its token is wrong),
anything else (5xx, a timeout, a refused connection) is retried with backoff.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import apprise
from apprise.manager_plugins import NotificationManager

from trialwatch.alerts.smtp import SendError

if TYPE_CHECKING:
    from trialwatch.alerts.channel_text import ChannelText

SCHEMES_DOC = "https://github.com/caronc/apprise/wiki"
# Paths that may hold a token Apprise shows as is: a webhook's own path, an ntfy topic.
OWN_PATH_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys"})
TRY_AGAIN = frozenset({408, 425, 429})
_STATUS = re.compile(r"\b(?:error|status|code)\s*[=:]?\s*([1-5][0-9]{2})\b", re.IGNORECASE)
_LOG_PREFIX = re.compile(r"^\S+ \S+ - [A-Z]+ - ")
_LOG_LEVEL = re.compile(r"^\S+ \S+ - ([A-Z]+) - ")
_SOCKET = "Socket Exception"
# Apprise logs URLs, headers and payloads: none of it may reach a log file or the terminal.
# The outbox reports each failure itself, secrets masked; LogCapture still hears everything.
logging.getLogger("apprise").propagate = False


@dataclass(frozen=True)
class Channel:
    url: str  # as given: holds secrets
    scheme: str
    shown: str  # safe to print
    plugin: apprise.plugins.NotifyBase


def _scheme(url: str) -> str:
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def _mask(part: str) -> str:
    return part if len(part) <= 2 else f"{part[0]}...{part[-1]}"


def masked(url: str, plugin: apprise.plugins.NotifyBase | None = None) -> str:
    """The URL as Apprise prints it privately (tokens and passwords masked), without its
    query; a webhook's own path is masked too. Never raises."""
    if plugin is None:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        return f"{_scheme(url) or '?'}://****"
    shown = str(plugin.url(privacy=True)).split("?", 1)[0]
    if _scheme(shown) in OWN_PATH_SCHEMES:
        head, sep, path = shown.partition("://")
        host, slash, rest = path.partition("/")
        parts = [_mask(p) for p in rest.split("/")]
        shown = f"{head}{sep}{host}{slash}{'/'.join(parts)}"
    return shown.rstrip("/")


def check_url(url: str) -> Channel:
    """The channel for ``url``, or a ValueError in one line: an unknown scheme, or a URL its
    channel cannot use. The message never repeats the URL (it may hold a secret)."""
    text = url.strip()
    scheme = _scheme(text)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("the URL holds a line break or a control character")
    if not scheme:
        raise ValueError(f"not a notification URL (expected scheme://..., see {SCHEMES_DOC})")
    known = NotificationManager().schemas()
    if scheme not in known and scheme not in ("http", "https"):
        raise ValueError(f"unknown notification scheme {scheme + '://'!r} (see {SCHEMES_DOC})")
    with apprise.LogCapture(level=logging.WARNING) as log:
        plugin = apprise.Apprise.instantiate(text, suppress_exceptions=True)
    if not plugin:
        why = _reason(str(log.getvalue()), text) or "Apprise could not load it"
        raise ValueError(f"not a usable {scheme}:// URL: {why}")
    return Channel(url=text, scheme=scheme, shown=masked(text, plugin), plugin=plugin)


def secrets_of(url: str) -> list[str]:
    """Parts of ``url`` that may be secret: its password, user, path segments and query
    values (longest first, so a longer one is replaced before a part of it)."""
    try:
        parts = urlsplit(url)
        pieces = [parts.password, parts.username, *parts.path.split("/")]
        pieces += [p.partition("=")[2] for p in parts.query.split("&")]
    except ValueError:
        pieces = re.split(r"[/:@?&=#]+", url)
    found = {url}
    for piece in pieces:
        if piece and len(piece) >= 3:
            found |= {piece, unquote(piece)}
    return sorted(found, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (an error, a log line) with every secret part of ``url`` masked."""
    for secret in secrets_of(url):
        text = text.replace(secret, "****")
    return text


def _reason(log: str, url: str) -> str:
    """The warnings and errors Apprise logged, and the socket error under them (logged at
    debug level, where the rest is payloads and headers: left out)."""
    lines = []
    keep = False  # a line with no prefix goes on the record above it
    for line in log.splitlines():
        level = _LOG_LEVEL.match(line)
        said = _LOG_PREFIX.sub("", line).strip()
        if level is not None:
            keep = level.group(1) != "DEBUG" or said.startswith(_SOCKET)
        if said and keep:
            lines.append(said)
    return scrub("; ".join(dict.fromkeys(lines)), url)[:500]


def send(channel: Channel, *, title: str, body: str, body_format: str) -> None:
    """Send one message through ``channel``; a SendError (with the reason, secrets masked)
    when the channel did not take it. ``temporary``: worth trying again later."""
    client = apprise.Apprise()
    client.add(channel.plugin)
    with apprise.LogCapture(level=logging.DEBUG) as log:
        try:
            ok = client.notify(body=body, title=title, body_format=body_format)
        except Exception as exc:  # a plugin bug must hold one message, not stop the outbox
            raise SendError(
                scrub(f"{channel.scheme}: {type(exc).__name__}: {exc}", channel.url),
                temporary=False,
            ) from None
    if ok:
        return
    reason = _reason(str(log.getvalue()), channel.url) or "the channel did not take the message"
    codes = [int(code) for code in _STATUS.findall(reason)]
    refused = bool(codes) and 400 <= codes[-1] < 500 and codes[-1] not in TRY_AGAIN
    raise SendError(f"{channel.shown}: {reason}", temporary=not refused)


def fitted(
    sealed: str | None, *, subject: str, text: str, message_id: str
) -> tuple[Channel, ChannelText]:
    """The channel behind a sealed URL (the message id added where the URL carries it), and
    the message as that channel gets it; a SendError (never temporary) when the URL cannot
    be opened or used."""
    from trialwatch.alerts.channel_text import channel_text, with_message_id
    from trialwatch.alerts.secrets import SecretError, unseal

    if not sealed:
        raise SendError("the channel has no URL stored", temporary=False)
    try:
        url = unseal(sealed)
    except SecretError as exc:
        raise SendError(str(exc), temporary=False) from None
    try:
        channel = check_url(with_message_id(url, message_id))
    except ValueError as exc:
        raise SendError(f"{masked(url)}: {exc}", temporary=False) from None
    return channel, channel_text(channel.plugin, subject=subject, text=text, message_id=message_id)


def send_message(sealed: str | None, *, subject: str, text: str, message_id: str) -> None:
    """Send a stored message (its subject and text part) to the sealed Apprise URL, sized
    and escaped for that channel, with ``message_id`` where the channel carries one."""
    channel, text_ = fitted(sealed, subject=subject, text=text, message_id=message_id)
    send(channel, title=text_.title, body=text_.body, body_format=text_.body_format)
