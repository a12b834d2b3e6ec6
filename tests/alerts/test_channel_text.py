"""One alert as the text of one Apprise channel: sized for it, and what the service receives
(through a loopback HTTPS-intercepting proxy) shows scraped markup literally."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import apprise
import pytest
from apprise.conversion import convert_between

from trialwatch.alerts.channel_text import (
    MESSAGE_ID_HEADER,
    ZWSP,
    ChannelText,
    channel_text,
    with_message_id,
)
from trialwatch.alerts.render import AlertItem, RenderedMessage, render_message

from .https_proxy import InterceptingProxy, RecordedRequest, Reply, intercepting_proxy

MESSAGE_ID = "<3f2a9e0c1d.w7.c2@trialwatch.example>"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
DISCORD = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
WORKFLOWS = "workflows://prod-00.westus.logic.azure.com:443/abc123/signature"
NTFY = "ntfy://127.0.0.1:8080/trial-alerts"
JSON = "json://127.0.0.1:8081/hook"
HOSTILE = [
    "<!channel>",
    "<!here>",
    "@everyone",
    "<@U024BE7LH>",
    "<https://evil.example|click here>",
    "[click](https://evil.example)",
    "[run](javascript:alert(1))",
    "<script>alert(1)</script>",
    "**bold**",
    "_it_ ~strike~ `code` ||spoiler||",
    "Tom & Jerry",
]
WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def alert(trials: int, sites: int, hostile: str = "") -> RenderedMessage:
    items: list[AlertItem] = []
    for n in range(trials):
        nct = f"NCT0428{n:04d}"
        title = f"Trial {n} of a drug for a disease {hostile}".strip()
        items.append(
            AlertItem(nct, title, "overall_status", "RECRUITING", "COMPLETED", {}, "ctgov", WHEN)
        )
        added = [
            {
                "facility": f"Hospital {i} {hostile}",
                "city": "Lyon",
                "country": "France",
                "status": "RECRUITING",
            }
            for i in range(sites)
        ]
        items.append(
            AlertItem(nct, title, "locations", None, None, {"added": added}, "ctgov", WHEN)
        )
    return render_message(items, recipient="ann@example.org", watch_label="watch 7")


def plain(line: str) -> str:
    """A Markdown-escaped line as it reads (backslash escapes and zero-width spaces gone)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", line).replace(ZWSP, "")


# --- sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [SLACK, DISCORD, WORKFLOWS, NTFY, JSON])
def test_a_long_alert_fits_the_channel_cut_at_line_ends(url: str) -> None:
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    trials = 40 if plugin.body_maxlen > 30000 else 12  # longer than the channel takes
    rendered = alert(trials=trials, sites=20)
    assert len(rendered.text) > plugin.body_maxlen
    got = channel_text(plugin, subject=rendered.subject, text=rendered.text, message_id=MESSAGE_ID)

    lines = got.body.split("\n")
    assert plain(lines[-1]).replace("`", "") == f"id: {MESSAGE_ID}"
    marker = re.fullmatch(r"… (\d+) more lines not shown", lines[-2])
    assert marker, lines[-3:]
    assert 0 < len(got.title) <= plugin.title_maxlen
    # Every other line is a whole line of the email's text; the count says what is missing.
    source = Counter(line for line in rendered.text.splitlines() if line.strip())
    shown = Counter(plain(line) for line in lines[:-2] if line.strip())
    assert not shown - source
    assert int(marker.group(1)) == sum((source - shown).values())
    # The footer goes first, then item lines from the last trial up; headings stay.
    assert not any(line.startswith(("--", "You receive", "To stop")) for line in shown)
    items = [plain(line) for line in lines if line.startswith("    + site")]
    source_items = [line for line in rendered.text.splitlines() if line.startswith("    + site")]
    assert items == source_items[: len(items)]
    headings = [line for line in source if line.startswith("== ")]
    assert len(headings) == trials
    assert all(shown[h] for h in headings)

    # As Apprise itself measures (its conversion and dialect escaping included), the
    # message is neither split nor truncated.
    for overflow in ("split", "truncate"):
        [call] = plugin._build_send_calls(  # what Apprise.notify hands to send()
            body=got.body, title=got.title, body_format=got.body_format, overflow=overflow
        )
        target = call["body_format"]
        last = plugin.dialect_convert(convert_between(got.body_format, target, lines[-1]), target)
        assert call["body"].endswith("\n" + last)
        assert call["title"] == got.title
        assert len(call["body"]) <= plugin.body_maxlen
        assert len(call["body"]) > 0.8 * plugin.body_maxlen  # not more is dropped than needed
        if plugin.overflow_amalgamate_title:  # Discord, ntfy: one limit for both
            assert len(call["title"]) + 2 + len(call["body"]) <= plugin.body_maxlen


def message_text(request: RecordedRequest) -> str:
    """The message text of a Slack, Discord, Teams or ntfy request."""
    payload = request.json()
    if "attachments" in payload and "text" in payload["attachments"][0]:
        return str(payload["attachments"][0]["text"])  # Slack
    if "attachments" in payload:
        return str(payload["attachments"][0]["content"]["body"][-1]["text"])  # Teams
    return str(payload.get("content") or payload["message"])  # Discord, ntfy


@pytest.mark.parametrize("url", [SLACK, DISCORD, WORKFLOWS, NTFY])
def test_a_long_alert_arrives_in_one_piece_even_where_apprise_would_split(
    proxy: InterceptingProxy, url: str
) -> None:
    url += ("&" if "?" in url else "?") + "overflow=split"
    got = send(url, alert(trials=40, sites=20))
    [request] = proxy.requests
    assert request.headers["Content-Type"].startswith("application/json")  # ntfy: no file
    text = message_text(request)
    assert re.search(r"… \d+ more lines not shown\n", text)
    last = html.unescape(text.rsplit("\n", 1)[-1])  # Slack escapes "<" in the id
    assert plain(last).replace("`", "") == f"id: {MESSAGE_ID}"
    assert len(text) <= apprise.Apprise.instantiate(url).body_maxlen  # type: ignore[union-attr]
    assert got.title


@pytest.mark.parametrize("url", [SLACK, DISCORD, WORKFLOWS, NTFY, JSON])
def test_a_short_alert_is_whole(url: str) -> None:
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    rendered = alert(trials=1, sites=2)
    got = channel_text(plugin, subject=rendered.subject, text=rendered.text, message_id=MESSAGE_ID)
    body = [plain(line) for line in got.body.split("\n")]
    assert body[:-1] == rendered.text.rstrip("\n").split("\n")
    assert plain(got.title) == rendered.subject
    assert "more lines" not in got.body


def test_without_a_title_field_the_subject_leads_the_body() -> None:
    plugin = apprise.Apprise.instantiate("tgram://123456789:abcdefg_hijklmnop/12315544/")
    assert plugin is not None and plugin.title_maxlen == 0
    rendered = alert(trials=6, sites=20)
    got = channel_text(plugin, subject=rendered.subject, text=rendered.text, message_id=MESSAGE_ID)
    assert got.title == ""
    assert got.body.split("\n")[0] == rendered.subject
    assert got.body.endswith(f"\nid: {MESSAGE_ID}")
    # Telegram gets HTML: its length after Apprise's text-to-HTML step is what counts.
    [call] = plugin._build_send_calls(body=got.body, title="", body_format=got.body_format)
    assert len(call["body"]) <= plugin.body_maxlen
    assert "&lt;" in call["body"] or "<" not in got.body


def test_a_huge_single_line_is_cut_not_the_id() -> None:
    plugin = apprise.Apprise.instantiate(DISCORD)
    assert plugin is not None
    text = "1 change to 1 trial you watch\n\n== NCT04280705: " + "x" * 5000 + " ==\n"
    got = channel_text(plugin, subject="NCT04280705: x", text=text, message_id=MESSAGE_ID)
    assert len(got.title) + 2 + len(got.body) <= plugin.body_maxlen
    assert got.body.endswith(f"id: `{MESSAGE_ID}`")
    assert "== NCT04280705: xxx" in got.body


# --- what the services receive ------------------------------------------------------------


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InterceptingProxy]:
    with intercepting_proxy(tmp_path) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running
        assert not running.errors


def send(url: str, rendered: RenderedMessage) -> ChannelText:
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    got = channel_text(plugin, subject=rendered.subject, text=rendered.text, message_id=MESSAGE_ID)
    notifier = apprise.Apprise()
    notifier.add(plugin)
    assert notifier.notify(body=got.body, title=got.title, body_format=got.body_format)
    return got


def hostile_alert() -> RenderedMessage:
    rendered = alert(trials=1, sites=1, hostile=" ".join(HOSTILE))
    return RenderedMessage(f"NCT04280000: {' '.join(HOSTILE)}", rendered.text, rendered.html)


@pytest.mark.parametrize("url", [SLACK, SLACK + "?format=markdown", SLACK + "?blocks=yes"])
def test_slack_receives_mentions_and_links_escaped_once(proxy: InterceptingProxy, url: str) -> None:
    send(url, hostile_alert())
    [request] = proxy.requests
    assert request.scheme == "https"
    assert (request.host, request.path) == ("hooks.slack.com", "/services/" + url[8:].split("?")[0])
    payload = request.json()
    if "blocks" in url:
        header, section = payload["attachments"][0]["blocks"][:2]
        title, text = header["text"]["text"], section["text"]["text"]
    else:
        title, text = payload["attachments"][0]["title"], payload["attachments"][0]["text"]
    subject = hostile_alert().subject
    for field in (title, text):
        # "<" opens every Slack link, mention and command; "&" entities are escaped once.
        assert "<" not in field and ">" not in field
        assert "&lt;!channel&gt;" in field and "&lt;@U024BE7LH&gt;" in field
        assert "&amp;amp;" not in field
    # The title is the subject, cut to fit (its escaped form counts).
    assert subject.startswith(html.unescape(title).removesuffix("…"))
    words = plain(html.unescape(text)) if "markdown" in url else html.unescape(text)
    assert all(h in words for h in HOSTILE), words
    assert words.endswith(f"\nid: {MESSAGE_ID}")


UNESCAPED_DISCORD = re.compile(r"(?<!\\)[*_~`|\[\]()<>]|@(?!\u200b)")


@pytest.mark.parametrize("url", [DISCORD, DISCORD + "?format=markdown"])
def test_discord_receives_no_ping_no_masked_link_no_markup(
    proxy: InterceptingProxy, url: str
) -> None:
    send(url, hostile_alert())
    [request] = proxy.requests
    assert request.host == "discord.com"
    assert request.path.startswith("/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js")
    payload = request.json()
    if "embeds" in payload:
        shown = payload["embeds"][0]["title"] + "\n" + payload["embeds"][0]["description"]
        assert "content" not in payload  # Apprise found no "@name" to ping
    else:
        shown = payload["content"]
    *lines, id_line = shown.replace("\r\n", "\n").split("\n")
    assert id_line.replace(ZWSP, "") == f"id: `{MESSAGE_ID}`"
    for line in lines:
        assert not UNESCAPED_DISCORD.search(line), line
    words = plain("\n".join(lines))
    assert all(h in words for h in HOSTILE), words
    assert "allowed_mentions" not in payload  # Apprise sends none: the escaping is ours


# "<" alone is harmless there: an autolink or an <at> mention needs its ">" too.
UNESCAPED_MARKDOWN = re.compile(r"(?<!\\)[*_~`\[\]()>]")


def test_teams_receives_markdown_escaped_in_title_and_body(proxy: InterceptingProxy) -> None:
    send(WORKFLOWS, hostile_alert())
    [request] = proxy.requests
    assert request.host == "prod-00.westus.logic.azure.com"
    assert request.path.startswith("/workflows/abc123/triggers/manual/paths/invoke?")
    assert request.query["sig"] == ["signature"]
    card = request.json()["attachments"][0]["content"]
    assert "entities" not in card["msteams"]
    title, body = (block["text"] for block in card["body"] if block["type"] == "TextBlock")
    for field in (title, *body.split("\n")[:-1]):
        assert not UNESCAPED_MARKDOWN.search(field.replace("\\\\", "")), field
    assert hostile_alert().subject.startswith(plain(title).removesuffix("…"))
    assert all(h in plain(body) for h in HOSTILE), body
    assert "\\\\" not in title + body  # escaped once
    assert plain(body.split("\n")[-1]) == f"id: {MESSAGE_ID}"


def test_a_json_webhook_gets_the_text_as_it_is_and_the_id_as_a_header(
    proxy: InterceptingProxy,
) -> None:
    url = with_message_id(JSON, MESSAGE_ID)
    rendered = hostile_alert()
    got = send(url, rendered)
    html_url = with_message_id(JSON + "?format=html", MESSAGE_ID)
    send(html_url, rendered)
    plain_request, html_request = proxy.requests
    assert (plain_request.scheme, plain_request.host, plain_request.port) == (
        "http",
        "127.0.0.1",
        8081,
    )
    assert plain_request.headers[MESSAGE_ID_HEADER] == MESSAGE_ID
    payload = plain_request.json()
    assert payload["title"] == rendered.subject
    assert payload["message"] == got.body  # no backslashes or entities added
    assert all(h in payload["message"] for h in HOSTILE)
    assert payload["message"].endswith(f"\nid: {MESSAGE_ID}")
    # An HTML-format webhook: Apprise's text-to-HTML conversion escapes the markup.
    assert html_request.headers[MESSAGE_ID_HEADER] == MESSAGE_ID
    message = html_request.json()["message"]
    assert "<script>" not in message and "&lt;script&gt;alert(1)&lt;/script&gt;" in message
    assert "&amp;amp;" not in message
    assert "Tom & Jerry" in html.unescape(message).replace("\xa0", " ")


def test_the_proxy_answers_with_the_statuses_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with intercepting_proxy(tmp_path, replies=[Reply(500, b"down"), 503]) as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        results = [
            bool(apprise.Apprise(url).notify(body="b", title="t")) for url in (SLACK, DISCORD)
        ]
        assert results == [False, False]
        assert apprise.Apprise(WORKFLOWS).notify(body="b", title="t")
        assert [r.host for r in proxy.requests] == [
            "hooks.slack.com",
            "discord.com",
            "prod-00.westus.logic.azure.com",
        ]


# --- the message id in URLs ----------------------------------------------------------------


def test_with_message_id_adds_a_header_argument_keeping_the_others() -> None:
    url = with_message_id("jsons://user:pw@example.org/hook?format=html&-token=abc", MESSAGE_ID)
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    assert plugin.headers == {MESSAGE_ID_HEADER: MESSAGE_ID}
    assert plugin.params == {"token": "abc"}
    assert plugin.resolve_format(None) == apprise.NotifyFormat.HTML
    # Asked again (a retry), the header is replaced, not repeated.
    again = with_message_id(url, "<other@trialwatch.example>")
    assert again.count(MESSAGE_ID_HEADER) == 1
    assert apprise.Apprise.instantiate(again).headers[MESSAGE_ID_HEADER] == (  # type: ignore[union-attr]
        "<other@trialwatch.example>"
    )


@pytest.mark.parametrize(
    "url", ["xml://127.0.0.1/x", "forms://example.org/x", "mailto://user:pw@example.org"]
)
def test_with_message_id_for_other_header_schemes(url: str) -> None:
    odd = "<a%41b+c d@trialwatch.example>"  # "%" and "+" survive Apprise's decoding
    plugin = apprise.Apprise.instantiate(with_message_id(url, odd))
    assert plugin is not None and plugin.headers[MESSAGE_ID_HEADER] == odd


@pytest.mark.parametrize("url", [SLACK, DISCORD, WORKFLOWS, NTFY, "ntfys://ntfy.sh/topic"])
def test_with_message_id_leaves_other_schemes_alone(url: str) -> None:
    assert with_message_id(url, MESSAGE_ID) == url
