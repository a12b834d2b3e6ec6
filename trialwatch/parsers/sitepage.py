"""A republishing site's page as what a reader sees: ordered visible lines (plus JSON-LD).

Site parsers read labels and values from these lines, not from the markup, so a page whose
class names, nesting or tags change but whose visible text stays the same gives the same
record. Both an HTML page and the plain text a browser shows (copied or saved as .txt)
become the same `Page`:

- every block element (`<p>`, `<div>`, `<li>`, `<dt>`/`<dd>`, table cells, headings) and
  every `<br>` starts a line; inline elements (`<span>`, `<a>`, `<b>`) do not, so text a
  layout glues together ("Phase 1Accepts Healthy Volunteers?") stays glued, as it reads;
- a line starts either a list item ("item": an `<li>`, a line with a "•", "- " marker, or
  the line after a bullet that stands alone in its table cell or line), a new paragraph
  ("block": a `<p>`, a table row or a blank line), or continues ("line");
- inside a list item, a paragraph break continues the item: an item is one criterion even
  when its text has a blank line (a browser shows it indented under its bullet);
- script, style and other invisible parts are dropped; entities and whitespace are
  normalised with clean.clean_text;
- page chrome is dropped: navigation, the site's header, asides, small forms (search,
  sign-up), dialogs and cookie banners, share and newsletter widgets, found by tag, ARIA
  role or a class/id word ("cookie-consent", "share-bar", "top-nav"). A page footer (a
  `<footer>`, role contentinfo or a "footer" class/id outside the main content) ends the
  page: nothing after it is read. Chrome that carries no such hint is found by its text
  (site_words.chrome_kind) where the lines are cut into sections (sitelabels.py);
- an empty paragraph (`<p>&nbsp;</p>`, `<div><br></div>`) is a blank printed line: the
  next line has `gap` set, so a page printing one element per line keeps its paragraphs.

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
    """One visible line; `start` says how it begins (see the module docstring); `gap`: an
    empty paragraph element came right before it (a blank printed line)."""

    text: str
    start: Start = "line"
    gap: bool = False


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
        line = _line(body, start)
        lone_marker = is_item and not body  # a bullet on a line of its own: the next is the item
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
    | {"select", "option", "input", "textarea", "object", "canvas", "aside", "dialog"}
)
# A table row is a paragraph: the next row never continues its text.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"})
_BLOCK = frozenset(
    {"address", "article", "caption", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr"}
    | {"main", "ol", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead"}
    | {"ul", "label", "legend", "body", "html"}
)
_SCHEMA_MEMBER = re.compile(r"^https?://schema\.org/([A-Za-z]+)$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TRIAL_TYPES = frozenset({"medicalstudy", "medicaltrial", "clinicaltrial"})

# Chrome hints. Roles and class/id words name what a part of the page is for; "header"
# is not one of them: a trial's own header ("trial-header") holds its title.
_CHROME_ROLES = frozenset(
    {"navigation", "banner", "complementary", "search", "dialog", "alertdialog", "menu"}
)
_CHROME_PARTS = ("cookie", "consent", "gdpr", "newsletter", "subscribe")  # in any word
_CHROME_WORDS = frozenset(
    {"nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "share", "sharing"}
    | {"social", "signup", "skiplink", "skip", "masthead", "topbar", "toolbar", "modal"}
)
_CONTENT = frozenset({"main", "article", "section"})
_CONTENT_MARKS = frozenset({"main", "article", "h1"})
_NEVER_CHROME = frozenset({"html", "body", "main", "article"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SMALL_FORM = 300  # characters: a search box or a sign-up, not a page wrapped in a <form>


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


def _words(el: Any) -> tuple[str, list[str]]:
    """The element's class and id as one lower-case string and as words."""
    hints = f"{el.get('class') or ''} {el.get('id') or ''}"
    joined = _CAMEL.sub(" ", hints).lower()
    return joined, [w for w in re.split(r"[^a-z0-9]+", joined) if w]


def _in_content(el: Any) -> bool:
    return any(
        isinstance(a.tag, str) and (a.tag.lower() in _CONTENT or a.get("role") == "main")
        for a in el.iterancestors()
    )


def _chrome(el: Any, tag: str) -> str | None:
    """ "footer" for a page footer (ends the page), "drop" for other chrome, else None."""
    if tag in _NEVER_CHROME:
        return None
    role = (el.get("role") or "").strip().lower()
    joined, words = _words(el)
    if tag == "footer" or role == "contentinfo" or "footer" in words:
        return "drop" if _in_content(el) else "footer"
    if tag == "form" and len(el.text_content()) < _SMALL_FORM:
        return "drop"
    if _HIDDEN_STYLE.search(el.get("style") or ""):
        return "drop"
    hinted = role in _CHROME_ROLES or el.get("aria-modal") == "true"
    hinted = hinted or any(part in joined for part in _CHROME_PARTS)
    hinted = hinted or bool(_CHROME_WORDS.intersection(words))
    hinted = hinted or (tag == "header" and not _in_content(el))
    # A wrapper of the page's content ("<div class='nav-open'>", a header holding the
    # trial's <h1>) is not chrome, whatever its class says.
    return "drop" if hinted and not _holds_content(el) else None


def _holds_content(el: Any) -> bool:
    return any(
        isinstance(d.tag, str) and d.tag.lower() in _CONTENT_MARKS for d in el.iterdescendants()
    )


class _Renderer:
    """Walks the element tree in document order, collecting inline text into lines."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.buffer: list[str] = []
        self.pending: Start = "block"
        self.in_item = 0
        self.gap = False  # an empty paragraph was seen since the last line
        self.ended = False  # a page footer began: nothing after it is read

    def brk(self, start: Start) -> None:
        if start == "block" and self.in_item:
            start = "line"  # a paragraph inside a list item continues the item
        self.flush()
        if _STRENGTH[start] > _STRENGTH[self.pending]:
            self.pending = start

    def flush(self) -> bool:
        raw = clean_text("".join(self.buffer))
        self.buffer = []
        if raw is not None and strip_marker(raw) == (True, ""):
            self.pending = "item"  # a bullet in an element of its own: the next line is the item
            return False
        line = _line(raw or "", self.pending)
        if line is None:
            return False
        self.lines.append(Line(line.text, line.start, self.gap))
        self.pending, self.gap = "line", False
        return True

    def walk(self, el: Any) -> None:
        if self.ended:
            return
        tag = el.tag.lower() if isinstance(el.tag, str) else None
        chrome = _chrome(el, tag) if tag is not None else None
        if chrome == "footer":
            self.flush()
            self.ended = True
            return
        if tag is None or tag in _DROP or el.get("hidden") is not None or chrome:
            self._tail(el)  # comments, scripts, hidden parts, chrome: only their tail shows
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
        before = len(self.lines)
        self.in_item += item
        if el.text:
            self.buffer.append(el.text)
        for child in el:
            self.walk(child)
        self.in_item -= item
        if start is not None:
            self.brk("block" if start == "block" else "line")
            if len(self.lines) == before and not self.ended and _empty_paragraph(el, tag):
                self.gap = True
        self._tail(el)

    def _tail(self, el: Any) -> None:
        if el.tail and not self.ended:
            self.buffer.append(el.tail)


def _empty_paragraph(el: Any, tag: str) -> bool:
    """`<p></p>`, `<p>&nbsp;</p>`, `<div><br></div>`: a blank line an editor prints."""
    if tag == "p":
        return not (el.text_content() or "").strip()
    return (
        tag == "div"
        and len(el) > 0
        and all(isinstance(c.tag, str) and c.tag.lower() == "br" for c in el)
        and not (el.text_content() or "").strip()
    )


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
        if text is not None:
            out.append(text)
    return list(dict.fromkeys(out))  # repeats dropped, first kept: one pass, not a search each
