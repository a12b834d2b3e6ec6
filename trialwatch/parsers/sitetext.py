"""A site page's visible lines: the `Line` both a page's HTML (sitehtml.py) and the plain
text a browser shows (copied or saved as .txt) become, and the reader of that text.

A line starts either a list item ("item": an `<li>`, a line with a "•", "- " marker, or the
line after a bullet that stands alone in its table cell or line), a new paragraph ("block":
a `<p>`, a table row or a blank line), or continues ("line"); `indent` is how far it is set
in, in columns (a nested list, an indented block, printed indentation), which nests the
criteria; `gap` says a blank printed line came right before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.site_words import strip_marker

Start = Literal["item", "block", "line"]


@dataclass(frozen=True)
class Line:
    """One visible line; `start` says how it begins; `gap`: an empty paragraph element came
    right before it (a blank printed line); `indent`: columns it is set in by."""

    text: str
    start: Start = "line"
    gap: bool = False
    indent: int = 0


def text_lines(text: str) -> list[Line]:
    """A browser's text rendering -> lines. Indentation says which lines an item holds."""
    out: list[Line] = []
    blank = True
    item_indent: int | None = None  # indentation of the open item's marker
    lone_marker = False
    for raw in text.expandtabs(4).splitlines():
        stripped = raw.strip()
        if not stripped:
            blank = True
            continue
        indent = len(raw) - len(raw.lstrip())
        is_item, body = strip_marker(stripped)
        if is_item or lone_marker:
            start: Start = "item"
            item_indent = indent if is_item else item_indent
        elif blank and item_indent is not None and indent > item_indent:
            start = "line"  # an indented paragraph under a bullet: the same item
        elif blank:
            start, item_indent = "block", None
        else:
            start = "line"
        blank = False
        line = line_from(body, start)
        lone_marker = is_item and not body  # a bullet on a line of its own: the next is the item
        if line is not None:
            out.append(Line(line.text, line.start, indent=indent))
    return out


def line_from(text: str, start: Start) -> Line | None:
    """A cleaned line, its list marker read off (an item then), or None for no text."""
    cleaned = clean_text(text)
    if cleaned is None:
        return None
    is_item, cleaned = strip_marker(cleaned)
    if not cleaned:
        return None
    return Line(cleaned, "item" if is_item else start)
