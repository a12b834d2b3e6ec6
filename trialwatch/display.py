"""Scraped text as the web page and the alert email show it: without the characters that
reorder or hide what a reader sees.

Unicode bidirectional controls (embeddings and overrides U+202A-U+202E, isolates
U+2066-U+2069, the marks U+200E, U+200F and U+061C) make text display in another order than
it is stored ("exe.txt" read as "txt.exe"), and an unclosed one runs on into the text after
it. Right-to-left letters need none of them to display in the right order, so they are
removed rather than isolated. Control characters other than tab and line ends are removed
too: HTML forbids them and a terminal acts on some.

The stored record is untouched; only what is rendered is cleaned (``finalize`` is the Jinja2
hook that does it for every value a template outputs).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

STATUS_WORDS: dict[str, str] = {
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "RECRUITING": "Recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "COMPLETED": "Completed",
    "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
    "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
}

HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def displayed(text: str) -> str:
    """``text`` without bidirectional controls and control characters (tab and line ends
    kept)."""
    return HIDDEN.sub("", text)


def finalize(value: Any) -> Any:
    """Jinja2's ``finalize``: every ``{{ value }}`` is ``displayed`` before it is escaped.
    Numbers and None are left to Jinja2 as they are."""
    if hasattr(value, "__html__"):  # already markup: the characters removed are not syntax
        return Markup(displayed(value.__html__()))
    if value is None or isinstance(value, int | float):
        return value
    return displayed(str(value))


def status_words(value: Any) -> str:
    """A registry status in words ("ACTIVE_NOT_RECRUITING" → "Active, not recruiting").

    A site's own wording (not the registry vocabulary) is shown as it is.
    """
    if value is None:
        return "(none)"
    text = " ".join(displayed(str(value)).split())
    if text in STATUS_WORDS:
        return STATUS_WORDS[text]
    if re.fullmatch(r"[A-Z]+(?:_[A-Z]+)+", text):
        return text.replace("_", " ").capitalize()
    return text
