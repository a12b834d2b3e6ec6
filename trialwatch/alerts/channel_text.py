"""The text of one alert for one Apprise channel: sized to fit it, neutralised for its markup.

Scraped text (titles, criteria, site names) must show literally wherever it lands:

* Slack (text): Apprise escapes ``& < >`` in body and title itself; we add nothing. With
  ``format=markdown`` its text-to-Markdown step leaves ``<`` alone, so there we escape.
* Discord renders Markdown and mentions even in plain content and Apprise escapes neither
  (nor sends ``allowed_mentions``): we backslash-escape and break every ``@``.
* Teams (workflows://): Apprise escapes the body into CommonMark, not the title: we do.
* HTML channels: Apprise's text-to-HTML step escapes; JSON/XML/form webhooks get the text.

Sizes are measured on the text as Apprise hands it to the service (after its conversion and
dialect escaping), against Apprise's own limits, so it never truncates or splits a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape as html_escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from apprise import Apprise, NotifyFormat
from apprise.conversion import convert_between, text_to_markdown
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack
from apprise.plugins.workflows import NotifyWorkflows

from trialwatch.alerts.render import ELLIPSIS, one_line, truncate
from trialwatch.display import displayed

if TYPE_CHECKING:
    from apprise.plugins import NotifyBase

MESSAGE_ID_HEADER = "X-Trialwatch-Message-Id"
# Schemes whose plugins send `+Name=value` URL arguments as request (or email) headers.
HEADER_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"})

SLACK_BLOCK_TEXT_MAX = 3000  # Slack's own limits for a section block and a header block;
SLACK_HEADER_MAX = 150  # Apprise's body_maxlen (35000) does not know them
ZWSP = "\u200b"

# Discord: inline Markdown anywhere, block Markdown (headings, lists, quotes) at a line start.
_DISCORD_INLINE = re.compile(r"([\\*_~`|<>\[\]()])")
_DISCORD_LINE_START = re.compile(r"^([ \t]*)([-+#])", re.MULTILINE)
_DISCORD_NUMBERED = re.compile(r"^([ \t]*\d+)\.", re.MULTILINE)


@dataclass(frozen=True)
class ChannelText:
    title: str
    body: str
    body_format: str  # an apprise.NotifyFormat value for Apprise.notify(body_format=...)


@dataclass(frozen=True)
class _Line:
    text: str
    rank: int  # 0 is kept longest; higher ranks are dropped first


def channel_text(plugin: NotifyBase, *, subject: str, text: str, message_id: str) -> ChannelText:
    """``subject`` and ``text`` (the email's) as one message for ``plugin``'s channel, ending
    with the line ``id: <message_id>``."""
    body_format, escape = _markup(plugin)
    message_id = one_line(message_id)
    subject = one_line(subject)
    title_max = plugin.title_maxlen or 0
    lines = _ranked_lines(text)
    title = ""
    if title_max > 0:
        title = _cut_title(plugin, subject, escape)
    elif subject:  # no title field: the subject leads the body (Apprise would do the same)
        lines.insert(0, _Line(subject, 0))
    id_line = _id_line(plugin, message_id, escape)

    def build(dropped: frozenset[int]) -> str:
        return _body(lines, dropped, id_line, escape)

    # Lowest rank first, and within a rank from the end: footer, item lines, links, ...
    order = sorted(
        (i for i, line in enumerate(lines) if line.text.strip()),
        key=lambda i: (-lines[i].rank, -i),
    )
    fits = _fitter(plugin, body_format, title)
    if not fits(build(frozenset())):
        lines = [
            _Line(_cap(line.text, _body_budget(plugin, title) // 2), line.rank) for line in lines
        ]
        # The fewest lines to drop: one more than the most that still leave it too long.
        drop = 1 + _largest(len(order), lambda n: not fits(build(frozenset(order[:n]))))
        body = build(frozenset(order[:drop]))
        if not fits(body):  # not even the id fits: a tiny channel, cut characters
            body = body[: _largest(len(body), lambda n: fits(body[:n]))]
    else:
        body = build(frozenset())
    return ChannelText(title=title, body=body, body_format=body_format.value)


def with_message_id(url: str, message_id: str) -> str:
    """``url`` with the header ``X-Trialwatch-Message-Id: <message_id>`` added, for schemes
    whose Apprise plugin sends ``+Header=value`` arguments as headers; else ``url``."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    value = one_line(message_id)
    if scheme not in HEADER_SCHEMES or not value:
        return url
    base, _, query = url.partition("?")
    kept = [arg for arg in query.split("&") if arg and not _is_id_header(arg)]
    # Apprise 2.3 unquotes these values twice (query parsing, then the plugin), so the
    # value is checked by parsing the URL back; quoting twice is the fallback for a "%".
    for encoded in (quote(value, safe=""), quote(quote(value, safe=""), safe="")):
        candidate = base + "?" + "&".join([*kept, f"+{MESSAGE_ID_HEADER}={encoded}"])
        plugin = Apprise.instantiate(candidate)
        if plugin is not None and getattr(plugin, "headers", {}).get(MESSAGE_ID_HEADER) == value:
            return candidate
    return url


def _is_id_header(arg: str) -> bool:
    key = unquote(arg.partition("=")[0])
    return key[:1] in ("+", " ") and key[1:].strip().lower() == MESSAGE_ID_HEADER.lower()


# --- markup -----------------------------------------------------------------------------


def _markup(plugin: NotifyBase) -> tuple[NotifyFormat, Callable[[str], str]]:
    """The format to declare to Apprise and the escaping we add (identity where Apprise's
    own conversion already neutralises the text)."""
    if isinstance(plugin, NotifyDiscord):
        # Declare the format Apprise resolves to, so it converts nothing more.
        return plugin.resolve_format(NotifyFormat.MARKDOWN), _discord_escape
    if (
        isinstance(plugin, NotifySlack)
        and plugin.resolve_format(NotifyFormat.TEXT) == NotifyFormat.MARKDOWN
    ):
        return NotifyFormat.MARKDOWN, _slack_markdown_escape
    return NotifyFormat.TEXT, _same


def _same(text: str) -> str:
    return text


def _discord_escape(text: str) -> str:
    text = _DISCORD_INLINE.sub(r"\\\1", text)
    text = _DISCORD_LINE_START.sub(r"\1\\\2", text)
    text = _DISCORD_NUMBERED.sub(r"\1\\.", text)
    # A zero-width space after "@" stops @everyone, @here and <@123> from pinging.
    return text.replace("@", "@" + ZWSP)


def _slack_markdown_escape(text: str) -> str:
    return text_to_markdown(text).replace("<", "\\<")


def _title_escape(plugin: NotifyBase, escape: Callable[[str], str]) -> Callable[[str], str]:
    if isinstance(plugin, NotifyWorkflows):
        # The title goes into a Markdown text block without Apprise's conversion.
        return text_to_markdown
    if isinstance(plugin, NotifySlack):
        return _same  # Slack's send() escapes & < > in titles itself
    return escape


def _id_line(plugin: NotifyBase, message_id: str, escape: Callable[[str], str]) -> str:
    if isinstance(plugin, NotifyDiscord):
        # A code span shows the id verbatim (no mention, no Markdown inside). In embed mode
        # Apprise looks for "@name" pings in the body, so the "@" is broken there too.
        shown = message_id.replace("`", "")
        if plugin.resolve_format(None) == NotifyFormat.MARKDOWN:
            shown = shown.replace("@", "@" + ZWSP)
        return f"id: `{shown}`"
    return escape(f"id: {message_id}")


# --- lines ------------------------------------------------------------------------------


def _ranked_lines(text: str) -> list[_Line]:
    """The text's lines with how long each is worth keeping (see alert.txt.j2)."""
    raw = [line.rstrip() for line in displayed(text).splitlines()]
    while raw and not raw[-1]:
        raw.pop()
    footer = len(raw)
    if "--" in raw:
        footer = len(raw) - 1 - raw[::-1].index("--")
    lines: list[_Line] = []
    previous = ""
    for i, line in enumerate(raw):
        stripped = line.strip()
        if i >= footer:
            rank = 7
        elif stripped.startswith("== ") and stripped.endswith(" =="):
            rank = 1
        elif previous.startswith("== ") or not lines:
            rank = 2  # a trial's headline; the count line
        elif line.startswith("* "):
            rank = 3
        elif stripped.startswith("why ") or line.startswith("Observed:"):
            rank = 4
        elif line.startswith(("Record:", "History:")):
            rank = 5
        elif line[:1].isspace():
            rank = 6  # item lines
        else:
            rank = 4
        lines.append(_Line(line, rank))
        previous = stripped
    return lines


def _body(
    lines: list[_Line], dropped: frozenset[int], id_line: str, escape: Callable[[str], str]
) -> str:
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in dropped:
            continue
        if not line.text and (not out or not out[-1]):
            continue  # no runs of blank lines where lines were dropped
        out.append(line.text)
    while out and not out[-1]:
        out.pop()
    tail = [f"{ELLIPSIS} {len(dropped)} more line{'' if len(dropped) == 1 else 's'} not shown"]
    text = "\n".join([*out, "", *tail] if dropped else out)
    return (escape(text) + "\n" if text else "") + id_line


def _cap(line: str, limit: int) -> str:
    """A line longer than half the body cannot share it; only such lines are cut."""
    return truncate(line, limit) if limit > 40 and len(line) > limit else line


def _largest(high: int, ok: Callable[[int], bool]) -> int:
    """The largest n in 0..high with ok(n), ok being true up to some n and false after."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if ok(middle) else (low, middle - 1)
    return low


def _cut_title(plugin: NotifyBase, subject: str, escape: Callable[[str], str]) -> str:
    escape = _title_escape(plugin, escape)
    limit = plugin.title_maxlen
    if isinstance(plugin, NotifySlack) and getattr(plugin, "use_blocks", False):
        limit = min(limit, SLACK_HEADER_MAX)

    def size(title: str) -> int:
        shown = escape(title)
        if isinstance(plugin, NotifySlack):
            return len(html_escape(shown, quote=False))  # as Slack's send() will
        if isinstance(plugin, NotifyDiscord):
            return len(plugin.dialect_convert(shown))  # as Discord's send() will
        return len(shown)

    if size(subject) <= limit:
        return escape(subject)
    keep = _largest(len(subject), lambda n: size(truncate(subject, n)) <= limit)
    return escape(truncate(subject, keep)) if keep > 1 else ""


# --- sizes ------------------------------------------------------------------------------


def _body_budget(plugin: NotifyBase, title: str) -> int:
    """The body length Apprise's overflow handling allows with ``title`` (0: no limit)."""
    maxlen = plugin.body_maxlen or 0
    if maxlen <= 0:
        return 0
    if plugin.overflow_amalgamate_title and title:
        # As NotifyBase._apply_overflow: the title's share comes off the body.
        title_share = min(
            len(title) + plugin.overflow_max_display_count_width,
            plugin.title_maxlen,
            maxlen,
        )
        maxlen -= title_share + plugin.overflow_buffer
    if isinstance(plugin, NotifySlack) and getattr(plugin, "use_blocks", False):
        maxlen = min(maxlen, SLACK_BLOCK_TEXT_MAX)
    return max(maxlen, 1)


def _fitter(plugin: NotifyBase, body_format: NotifyFormat, title: str) -> Callable[[str], bool]:
    """Whether a body fits ``plugin``'s channel, measured as Apprise will send it."""
    target = plugin.resolve_format(body_format)
    budget = _body_budget(plugin, title)
    payload_cap = int(getattr(plugin.asset, "_payload_max_size", 0) or 0)
    json_cap = int(getattr(plugin, "ntfy_json_upstream_size_limit", 0) or 0)

    def fits(body: str) -> bool:
        converted = convert_between(body_format, target, body)
        sent = plugin.dialect_convert(converted, target)
        size = max(len(converted), len(sent))
        if budget and size > budget:
            return False
        if budget and plugin.overflow_amalgamate_title and title:
            if len(title) + 2 + size > (plugin.body_maxlen or 0):  # "title\r\nbody"
                return False
        if payload_cap and len(title) + len(body) > payload_cap:
            return False
        if json_cap and _ntfy_json_size(plugin, title, sent) > json_cap:
            return False  # ntfy would send a larger message as a file attachment
        return True

    return fits


def _ntfy_json_size(plugin: NotifyBase, title: str, body: str) -> int:
    topics: list[str] = list(getattr(plugin, "topics", None) or [""])
    data: dict[str, Any] = {"topic": max(topics, key=len)}
    if attach := getattr(plugin, "attach", None):  # a URL ntfy is to attach
        data["attach"] = attach
        data["filename"] = getattr(plugin, "filename", None)
    data["title"] = title
    data["message"] = body
    return len(json.dumps(data))
