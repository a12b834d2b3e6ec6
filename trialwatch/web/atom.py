"""Atom 1.0 feeds of stored changes (RFC 4287), written with lxml.

Every entry is one change: its trial (NCT id and title), kind, grade and reason, its summary
line, and the item-level diff as HTML (``type="html"``). That HTML is rendered by the page's
autoescaped templates, so scraped markup arrives as text; the characters that reorder text
(bidirectional controls) and those XML cannot hold are removed, and titles are one line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from lxml import etree

from trialwatch.display import displayed
from trialwatch.registry.models import Change
from trialwatch.web.diff import field_diff
from trialwatch.web.feed import found_change
from trialwatch.web.models import FieldDiff
from trialwatch.web.pages import TEMPLATES

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
# Entry and feed ids: tag URIs (RFC 4151), stable for as long as the database keeps its ids.
TAG = "tag:trialwatch,2026:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "updated" of a feed with no entry
ITEMS_SHOWN = 50  # items of one change in its entry: one registry edit can add 1,000 sites
# What XML 1.0 cannot hold: C0 controls other than tab and line ends, U+FFFE/U+FFFF and lone
# surrogates.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class AtomFeed:
    """What a feed says of itself: its id (after ``TAG``), title, and its own and its page's
    absolute URLs."""

    id: str
    title: str
    self_url: str
    page_url: str


def xml_text(value: str) -> str:
    """``value`` without bidirectional controls and without what XML cannot hold."""
    return NOT_XML.sub("", displayed(value))


def one_line(value: str) -> str:
    """``xml_text`` on one line: line breaks and runs of white space are one space."""
    return " ".join(xml_text(value).split())


def updated(change: Change, clock: str) -> datetime:
    """When the entry counts as updated: observed, or on the registry clock the registry
    date of the version that brought it (observed when it has none)."""
    if clock == "registry" and change.registry_date:
        try:
            return datetime.combine(date.fromisoformat(change.registry_date), time.min, UTC)
        except ValueError:
            pass
    return change.observed_at


def _add(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def content_html(change: Change, title: str | None, diff: FieldDiff, base: str) -> str:
    """The entry's content: the page's autoescaped rendering of the change, item by item."""
    template = TEMPLATES.env.get_template("atom_entry.html")
    return template.render(
        change=change,
        title=title,
        diff=diff,
        shown=ITEMS_SHOWN,
        trial_url=f"{base}/trials/{change.nct_id}",
    )


def diff_url(base: str, change: Change) -> str:
    query = urlencode({"a": change.from_version_id, "b": change.to_version_id})
    return f"{base}/trials/{change.nct_id}/diff?{query}"


def atom(
    feed: AtomFeed, rows: Sequence[tuple[Change, str | None]], *, base: str, clock: str
) -> bytes:
    """The feed as UTF-8 XML: ``rows`` (changes with their trials' titles) in their order,
    links absolute on ``base`` (the app's URL, without a trailing slash)."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _add(root, "id", TAG + feed.id)
    _add(root, "title", one_line(feed.title))
    newest = max((updated(c, clock) for c, _ in rows), default=EPOCH)
    _add(root, "updated", newest.isoformat())
    _add(root, "link", rel="self", type=MEDIA_TYPE, href=feed.self_url)
    _add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _add(_add(root, "author"), "name", "trialwatch")
    _add(root, "generator", "trialwatch")
    for change, title in rows:
        found = found_change(change)
        entry = _add(root, "entry")
        _add(entry, "id", f"{TAG}change/{change.id}")
        heading = f"{change.nct_id} · {change.kind} ({found.grade}) · {title or ''}"
        _add(entry, "title", one_line(heading).rstrip(" ·"))
        _add(entry, "updated", updated(change, clock).isoformat())
        _add(entry, "published", change.observed_at.isoformat())
        _add(entry, "link", rel="alternate", type="text/html", href=diff_url(base, change))
        _add(entry, "category", term=change.kind, scheme=TAG + "kind")
        _add(entry, "category", term=found.grade, scheme=TAG + "grade")
        diff = field_diff(found)
        said = f"{diff.summary} ({found.grade}: {diff.reason})" if diff.reason else diff.summary
        _add(entry, "summary", one_line(said), type="text")
        _add(entry, "content", xml_text(content_html(change, title, diff, base)), type="html")
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return body
