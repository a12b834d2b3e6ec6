"""A republishing site's page as what a reader sees: ordered visible lines (plus JSON-LD).

Site parsers read labels and values from these lines, not from the markup, so a page whose
class names, nesting or tags change but whose visible text stays the same gives the same
record. Both an HTML page and the plain text a browser shows (copied or saved as .txt)
become the same `Page`:

- every block element (`<p>`, `<div>`, `<li>`, `<dt>`/`<dd>`, table cells, headings) and
  every `<br>` starts a line; inline elements (`<span>`, `<a>`, `<b>`) do not, so text a
  layout glues together ("Phase 1Accepts Healthy Volunteers?") stays glued, as it reads;
- a line starts either a list item ("item": an `<li>` or a line with a "•", "- " marker),
  a new paragraph ("block": a `<p>` or a blank line), or continues ("line");
- inside a list item, a paragraph break continues the item: an item is one criterion even
  when its text has a blank line (a browser shows it indented under its bullet);
- script, style, nav, and other invisible parts are dropped; entities and whitespace are
  normalised with clean.clean_text.

JSON-LD: a `<script type="application/ld+json">` (or other JSON script) object whose @type
is MedicalStudy, MedicalTrial or ClinicalTrial is kept as `Page.trial_json`; the parsers
read its values first. Scraped text is data only: JSON is loaded with json.loads, nothing
from a page is evaluated or used as a path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import lxml.html
from lxml import etree

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import clean_text, decode_body
from trialwatch.parsers.site_words import strip_marker

Start = Literal["item", "block", "line"]
_STRENGTH: dict[Start, int] = {"line": 0, "block": 1, "item": 2}


@dataclass(frozen=True)
class Line:
    """One visible line; `start` says how it begins (see the module docstring)."""

    text: str
    start: Start = "line"


@dataclass(frozen=True)
class Page:
    lines: tuple[Line, ...]
    trial_json: dict[str, Any] | None = None


def read_page(body: bytes) -> Page:
    """HTML or plain text -> Page. An empty or non-UTF-8 body raises ParseError."""
    text = decode_body(body)
    if _HTML_LIKE.match(text):
        return _from_html(text)
    return Page(lines=tuple(text_lines(text)))


_HTML_LIKE = re.compile(r"^\s*<(?:!doctype|!--|[a-zA-Z])", re.IGNORECASE)


# --- plain text ----------------------------------------------------------------


def text_lines(text: str) -> list[Line]:
    """A browser's text rendering -> lines. Indentation says which lines an item holds."""
    out: list[Line] = []
    blank = True
    item_indent: int | None = None  # indentation of the open item's marker
    for raw in text.expandtabs(4).splitlines():
        stripped = raw.strip()
        if not stripped:
            blank = True
            continue
        indent = len(raw) - len(raw.lstrip())
        is_item, body = strip_marker(stripped)
        if is_item:
            start: Start = "item"
            item_indent = indent
        elif blank and item_indent is not None and indent > item_indent:
            start = "line"  # an indented paragraph under a bullet: the same item
        elif blank:
            start, item_indent = "block", None
        else:
            start = "line"
        blank = False
        line = _line(body, start)
        if line is not None:
            out.append(line)
    return out


def _line(text: str, start: Start) -> Line | None:
    cleaned = clean_text(text)
    if cleaned is None:
        return None
    is_item, cleaned = strip_marker(cleaned)
    if not cleaned:
        return None
    return Line(cleaned, "item" if is_item else start)


# --- HTML ----------------------------------------------------------------------

_DROP = frozenset(
    {"script", "style", "noscript", "template", "nav", "head", "svg", "iframe", "button"}
    | {"select", "option", "input", "textarea", "object", "canvas"}
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})
_BLOCK = frozenset(
    {"address", "article", "aside", "caption", "dd", "details", "dialog", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr"}
    | {"main", "ol", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead"}
    | {"tr", "ul", "label", "legend", "body", "html"}
)
_SCHEMA_MEMBER = re.compile(r"^https?://schema\.org/([A-Za-z]+)$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TRIAL_TYPES = frozenset({"medicalstudy", "medicaltrial", "clinicaltrial"})


def _from_html(text: str) -> Page:
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"HTML page cannot be read: {exc}") from None
    trial_json = _trial_json(root)
    renderer = _Renderer()
    renderer.walk(root)
    renderer.flush()
    return Page(lines=tuple(renderer.lines), trial_json=trial_json)


class _Renderer:
    """Walks the element tree in document order, collecting inline text into lines."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.buffer: list[str] = []
        self.pending: Start = "block"
        self.in_item = 0

    def brk(self, start: Start) -> None:
        if start == "block" and self.in_item:
            start = "line"  # a paragraph inside a list item continues the item
        self.flush()
        if _STRENGTH[start] > _STRENGTH[self.pending]:
            self.pending = start

    def flush(self) -> bool:
        line = _line("".join(self.buffer), self.pending)
        self.buffer = []
        if line is None:
            return False
        self.lines.append(line)
        self.pending = "line"
        return True

    def walk(self, el: Any) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else None
        if tag is None or tag in _DROP or el.get("hidden") is not None:
            self._tail(el)  # comments, scripts, hidden parts: only their tail text shows
            return
        if tag == "br":
            # A second <br> in a row is a blank line: a paragraph break.
            self.brk("line" if self.buffer and "".join(self.buffer).strip() else "block")
            self._tail(el)
            return
        start: Start | None
        start = "item" if tag == "li" else "block" if tag in _PARAGRAPH else None
        if start is None and tag in _BLOCK:
            start = "line"
        # A block that begins with a bullet ("<div>• text</div>") is a list item too.
        item = tag == "li" or (start is not None and _starts_with_marker(el))
        if start is not None:
            self.brk("item" if item else start)
        self.in_item += item
        if el.text:
            self.buffer.append(el.text)
        for child in el:
            self.walk(child)
        self.in_item -= item
        if start is not None:
            self.brk("block" if start == "block" else "line")
        self._tail(el)

    def _tail(self, el: Any) -> None:
        if el.tail:
            self.buffer.append(el.tail)


_INLINE = frozenset({"span", "b", "i", "em", "strong", "a", "small", "mark", "u", "font"})


def _starts_with_marker(el: Any) -> bool:
    """The element's own first text (or its first inline child's) starts with a bullet."""
    text = (el.text or "").strip()
    if not text and len(el) and isinstance(el[0].tag, str) and el[0].tag.lower() in _INLINE:
        text = (el[0].text or "").strip() + " " + (el[0].tail or "").strip()
    return bool(text) and strip_marker(text)[0]


def _trial_json(root: Any) -> dict[str, Any] | None:
    """The first MedicalStudy/MedicalTrial/ClinicalTrial object in the page's JSON scripts."""
    for script in root.iter("script"):
        kind = (script.get("type") or "").lower()
        if "json" not in kind or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (json.JSONDecodeError, RecursionError):
            continue  # a broken script is the site's problem, not a reason to drop the page
        found = _find_trial(data, depth=0)
        if found is not None:
            return found
    return None


def _find_trial(data: Any, depth: int) -> dict[str, Any] | None:
    if depth > 8:
        return None
    if isinstance(data, list):
        for value in data:
            if (found := _find_trial(value, depth + 1)) is not None:
                return found
        return None
    if not isinstance(data, dict):
        return None
    kinds = data.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if any(isinstance(k, str) and k.lower() in _TRIAL_TYPES for k in kinds):
        return data
    for key in ("@graph", "mainEntity", "about"):
        if (found := _find_trial(data.get(key), depth + 1)) is not None:
            return found
    return None


def json_text(page: Page, key: str) -> str | None:
    """A text value of the page's trial JSON (a {"name": ...} object gives its name)."""
    values = json_list(page, key)
    return values[0] if values else None


def json_list(page: Page, key: str) -> list[str]:
    """The text values of a trial JSON member: a string, an object with a name, or a list."""
    if page.trial_json is None:
        return []
    value = page.trial_json.get(key)
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("value")
        text = clean_text(item) if isinstance(item, str | int) else None
        if text is not None and (m := _SCHEMA_MEMBER.match(text)):
            text = _CAMEL.sub(" ", m[1])  # "https://schema.org/ActiveNotRecruiting"
        if text is not None and text not in out:
            out.append(text)
    return out
