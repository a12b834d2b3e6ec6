"""URL checks shared by the spiders: only plain http(s) URLs with a host are fetched."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

MAX_URL_LENGTH = 2048  # longer is almost surely not a study page, and bloats every log line
_SHOWN = 120  # how much of a bad URL an error message repeats


def host_allowed(host: str, domains: Iterable[str]) -> bool:
    """OffsiteMiddleware's rule: `host` is one of `domains` or a subdomain of one."""
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


def _shown(url: str) -> str:
    # Never echo a password into a log line; keep the message one short line.
    if "@" in url:
        try:
            parts = urlsplit(url)
            if "@" in parts.netloc:
                url = urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
        except ValueError:
            url = "***@" + url.rsplit("@", 1)[1]
    return repr(url if len(url) <= _SHOWN else url[: _SHOWN - 1] + "…")


def validate_url(url: object, hosts: Sequence[str] = ()) -> str:
    """Return the URL (trimmed) if it is a plain http(s) URL on one of `hosts` (any host if
    `hosts` is empty); else raise ValueError naming it and the reason, in one line."""
    if not isinstance(url, str):
        raise ValueError(f"invalid URL {url!r}: expected a string")
    text = url.strip()
    if not text:
        raise ValueError("invalid URL '': empty")
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"invalid URL {_shown(text)}: longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"invalid URL {_shown(text)}: contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"invalid URL {_shown(text)}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"invalid URL {_shown(text)}: only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise ValueError(f"invalid URL {_shown(text)}: credentials in a URL are not accepted")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"invalid URL {_shown(text)}: no host")
    if hosts and not host_allowed(host, hosts):
        raise ValueError(f"invalid URL {_shown(text)}: host {host!r} is not {' or '.join(hosts)}")
    return text
