"""A site page's HTML -> its visible lines (sitepage.Line), read with BeautifulSoup.

BeautifulSoup, with lxml as its tree builder, reads whatever a site serves (unclosed tags,
stray end tags); the renderer below walks its tree once, in document order, with a stack of
its own (no recursion, so nesting depth is no limit), and says for each line how it starts
(see sitepage.py) and how far it is indented:

- a list item nested in another (`<li>` in `<li>`, or a block starting with a bullet inside
  another such block), a `<blockquote>` and a block set in by an inline `margin-left`,
  `padding-left` or `text-indent` are one level in (INDENT columns); leading no-break spaces
  (`&nbsp;`) set a line in by one column each, as a `<br>` layout indents;
- `<pre>`, and any element styled `white-space: pre`, `pre-wrap` or `break-spaces`, holds
  printed lines: its text is read as plain text (sitepage.text_lines), line by line with its
  own indentation, never run into one line;
- chips and labels given as inline elements (`<span class="chip">`, `<span class="label">`,
  the children of a `display: flex` or `grid` container, an `inline-block` element) are lines
  of their own, as a browser lays them out; other inline elements never start a line.

Scraped text is data only: nothing from the page is evaluated or used as a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag
from bs4.element import CData

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.site_words import strip_marker
from trialwatch.parsers.sitetext import Line, Start, line_from, text_lines

INDENT = 4  # columns a nesting level is worth: what text_lines reads from printed text
_STRENGTH: dict[Start, int] = {"line": 0, "block": 1, "item": 2}
_DROP = frozenset(
    {"script", "style", "noscript", "template", "nav", "head", "svg", "iframe", "button"}
    | {"select", "option", "input", "textarea", "object", "canvas", "aside", "dialog"}
)
# A table row is a paragraph: the next row never continues its text.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"})
_BLOCK = frozenset(
    {"address", "article", "caption", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr"}
    | {"main", "ol", "section", "summary", "table", "tbody", "tfoot", "th", "thead"}
    | {"td", "ul", "label", "legend", "body", "html"}
)
_INLINE = frozenset({"span", "b", "i", "em", "strong", "a", "small", "mark", "u", "font"})
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
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
# An inline element a page lays out as a box of its own; a container whose children are.
_CHIP_WORDS = frozenset({"chip", "badge", "pill", "tag", "label", "value", "token"})
_CHIPS_WORDS = frozenset({"chips", "badges", "pills", "tags", "labels"})
_CONTENT = frozenset({"main", "article", "section"})
_CONTENT_MARKS = frozenset({"main", "article", "h1"})
_NEVER_CHROME = frozenset({"html", "body", "main", "article"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BOX_STYLE = re.compile(r"display\s*:\s*(?:block|inline-block|list-item|flex|grid)", re.I)
_LAYOUT_STYLE = re.compile(r"display\s*:\s*(?:inline-)?(?:flex|grid)", re.IGNORECASE)
_PRE_STYLE = re.compile(r"white-space\s*:\s*(pre(?:-wrap|-line)?|break-spaces)", re.I)
_INDENT_STYLE = re.compile(
    r"(?:margin-left|padding-left|text-indent|margin-inline-start|padding-inline-start)"
    r"\s*:\s*(\d*\.?\d+)",
    re.IGNORECASE,
)
_LEAD_SPACE = re.compile("^[\u00a0\u2002\u2003\u2007\u2009 \t\r\n]*")
_SMALL_FORM = 300  # characters: a search box or a sign-up, not a page wrapped in a <form>


def html_page(text: str) -> tuple[list[Line], list[str]]:
    """A page's HTML -> (its visible lines, the text of its JSON scripts): chrome dropped,
    a page footer ending the page."""
    soup = parse_html(text)
    scripts = [
        script.string
        for script in soup.find_all("script")
        if "json" in _attr(script, "type").lower() and script.string
    ]
    renderer = _Renderer(_holding_content(soup))
    renderer.walk(soup)
    renderer.flush()
    return renderer.lines, [str(s) for s in scripts if s is not None]


def parse_html(text: str) -> BeautifulSoup:
    try:
        return BeautifulSoup(text, "lxml")
    except Exception as exc:  # bs4 and lxml raise their own kinds for markup they refuse
        raise ParseError(f"HTML page cannot be read: {type(exc).__name__}") from None


def _words(el: Tag) -> tuple[str, list[str]]:
    """The element's class and id as one lower-case string and as words."""
    classes = el.get("class")
    classes = " ".join(classes) if isinstance(classes, list) else str(classes or "")
    joined = _CAMEL.sub(" ", f"{classes} {el.get('id') or ''}").lower()
    return joined, [w for w in re.split(r"[^a-z0-9]+", joined) if w]


def _attr(el: Tag, name: str) -> str:
    value = el.get(name)
    return " ".join(value) if isinstance(value, list) else str(value or "")


def _holding_content(soup: BeautifulSoup) -> set[int]:
    """ids of the elements holding a <main>, <article> or <h1>: those are never chrome.
    Each mark climbs only to the first element already known, so this is linear."""
    held: set[int] = set()
    for mark in soup.find_all(_CONTENT_MARKS):
        parent = mark.parent
        while parent is not None and id(parent) not in held:
            held.add(id(parent))
            parent = parent.parent
    return held


def _first_text(el: Tag, limit: int, nodes: int = 40) -> str | None:
    """The element's text when it has at most `limit` visible characters, else None; only
    its first `nodes` nodes are looked at (deep empty nesting costs no more), and an element
    with more is taken as long."""
    pieces: list[str] = []
    size = 0
    stack: list[PageElement] = list(reversed(el.contents))
    while stack:
        nodes -= 1
        if nodes < 0:
            return None
        node = stack.pop()
        if isinstance(node, Tag):
            stack.extend(reversed(node.contents))
        elif type(node) is NavigableString or isinstance(node, CData):
            pieces.append(str(node))
            size += len(node.strip())
            if size > limit:
                return None
    return "".join(pieces).strip()


def _starts_with_marker(el: Tag) -> bool:
    """The element's own first text, or its first inline child's, starts with a bullet; or
    its first child is a bullet standing alone (`<div class="mk">•</div>`)."""
    for child in el.children:
        if isinstance(child, NavigableString):
            if not child.strip():
                continue
            return strip_marker(child.strip())[0]
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _INLINE:
            after = child.next_sibling
            tail = after.strip() if isinstance(after, NavigableString) else ""
            text = f"{_first_text(child, 40) or ''} {tail}".strip()
            return bool(text) and strip_marker(text)[0]
        lone = _first_text(child, 8)
        return lone is not None and strip_marker(lone) == (True, "")
    return False


def _indented(style: str, tag: str) -> bool:
    return tag == "blockquote" or any(float(m[1]) > 0 for m in _INDENT_STYLE.finditer(style))


class _Renderer:
    """Walks the tree in document order, collecting inline text into lines."""

    def __init__(self, holding: set[int]) -> None:
        self.holding = holding
        self.lines: list[Line] = []
        self.buffer: list[str] = []
        self.pending: Start = "block"
        self.in_item = 0
        self.level = 0  # nesting levels open (list items in items, indented blocks)
        self.content = 0  # <main>, <article>, <section> open
        self.seen = 0  # characters of visible text so far (an element that adds none is empty)
        self.gap = False  # an empty paragraph was seen since the last line
        self.ended = False  # a page footer began: nothing after it is read

    def brk(self, start: Start) -> None:
        if start == "block" and self.in_item:
            start = "line"  # a paragraph inside a list item continues the item
        self.flush()
        if _STRENGTH[start] > _STRENGTH[self.pending]:
            self.pending = start

    def flush(self) -> bool:
        joined = "".join(self.buffer)
        self.buffer = []
        raw = clean_text(joined)
        if raw is not None and strip_marker(raw) == (True, ""):
            self.pending = "item"  # a bullet in an element of its own: the next line is the item
            return False
        lead = _LEAD_SPACE.match(joined)
        spaces = lead[0].count("\u00a0") + lead[0].count("\u2003") * 2 if lead else 0
        line = line_from(raw or "", self.pending)
        if line is None:
            return False
        indent = self.level * INDENT + spaces
        self.lines.append(Line(line.text, line.start, self.gap, indent))
        self.pending, self.gap = "line", False
        return True

    def walk(self, root: Tag) -> None:
        stack: list[tuple[PageElement, bool, int]] = [(root, False, 0)]
        while stack and not self.ended:
            node, leaving, opened = stack.pop()
            if isinstance(node, Tag) and leaving:
                self._leave(node, opened)
            elif isinstance(node, Tag):
                flags = self._enter(node)
                if flags >= 0:
                    stack.append((node, True, flags))
                    stack.extend((c, False, 0) for c in reversed(node.contents))
            elif type(node) is NavigableString or isinstance(node, CData):
                self.buffer.append(str(node))  # comments, doctypes, scripts' text: never
                self.seen += len(node.strip())

    # flags of an open element, for its leaving
    _ITEM, _LEVEL, _CONTENT_OPEN, _PARA, _LINE = 1, 2, 4, 8, 16

    def _enter(self, el: Tag) -> int:
        """Opens an element; -1 when its content is not read (dropped, or read here)."""
        tag = el.name.lower()
        chrome = self._chrome(el, tag)
        if chrome == "footer":
            self.flush()
            self.ended = True
            return -1
        if tag in _DROP or el.get("hidden") is not None or chrome:
            return -1  # scripts, hidden parts, chrome: their text never shows
        if tag == "br":
            # A second <br> in a row is a blank line: a paragraph break.
            self.brk("line" if "".join(self.buffer).strip() else "block")
            return -1
        style = _attr(el, "style")
        if tag == "pre" or _PRE_STYLE.search(style):
            self._printed(el, keep_indent=not re.search(r"pre-line", style, re.I))
            return -1
        start: Start | None = "item" if tag == "li" else "block" if tag in _PARAGRAPH else None
        if start is None and (tag in _BLOCK or self._boxed(el, style)):
            start = "line"
        # A block that begins with a bullet ("<div>• text</div>") is a list item too.
        item = tag == "li" or (start is not None and _starts_with_marker(el))
        flags = (self._PARA if start == "block" else self._LINE) if start else 0
        if start is not None:
            self.brk("item" if item else start)
        if item:
            flags |= self._ITEM
            self.in_item += 1
        if (item and self.in_item > 1) or (start and _indented(style, tag)):
            flags |= self._LEVEL
            self.level += 1
        if tag in _CONTENT or el.get("role") == "main":
            flags |= self._CONTENT_OPEN
            self.content += 1
        return flags | (self.seen << 5)

    def _leave(self, el: Tag, flags: int) -> None:
        self.in_item -= bool(flags & self._ITEM)
        self.content -= bool(flags & self._CONTENT_OPEN)
        if flags & (self._PARA | self._LINE):
            before = len(self.lines)
            self.brk("block" if flags & self._PARA else "line")  # at the element's own level
            empty = self.seen == flags >> 5
            if len(self.lines) == before and not self.ended and empty and _blank_line(el):
                self.gap = True
        self.level -= bool(flags & self._LEVEL)

    def _boxed(self, el: Tag, style: str) -> bool:
        """An inline element laid out as a box: a chip, a label, a flex or grid item."""
        if _BOX_STYLE.search(style):
            return True
        _, words = _words(el)
        if _CHIP_WORDS.intersection(words):
            return True
        parent = el.parent
        if not isinstance(parent, Tag):
            return False
        _, around = _words(parent)
        return bool(_LAYOUT_STYLE.search(_attr(parent, "style")) or _CHIPS_WORDS & set(around))

    def _printed(self, el: Tag, keep_indent: bool) -> None:
        """A <pre> (or white-space: pre) element: its text as printed lines."""
        self.brk("block")
        raw = "".join(_printed_text(el))
        if not keep_indent:
            raw = "\n".join(line.strip() for line in raw.split("\n"))
        base = self.level * INDENT
        for line in text_lines(raw):
            start: Start = "line" if self.in_item and line.start == "block" else line.start
            self.lines.append(Line(line.text, start, self.gap, base + line.indent))
            self.gap = False
            self.seen += len(line.text)
        self.pending = "block"

    def _chrome(self, el: Tag, tag: str) -> str | None:
        """ "footer" for a page footer (ends the page), "drop" for other chrome, else None."""
        if tag in _NEVER_CHROME:
            return None
        role = _attr(el, "role").strip().lower()
        joined, words = _words(el)
        if tag == "footer" or role == "contentinfo" or "footer" in words:
            return "drop" if self.content else "footer"
        if tag == "form" and _first_text(el, _SMALL_FORM, nodes=2000) is not None:
            return "drop"
        if _HIDDEN_STYLE.search(_attr(el, "style")):
            return "drop"
        hinted = role in _CHROME_ROLES or el.get("aria-modal") == "true"
        hinted = hinted or any(part in joined for part in _CHROME_PARTS)
        hinted = hinted or bool(_CHROME_WORDS.intersection(words))
        hinted = hinted or (tag == "header" and not self.content)
        # A wrapper of the page's content ("<div class='nav-open'>", a header holding the
        # trial's <h1>) is not chrome, whatever its class says.
        return "drop" if hinted and id(el) not in self.holding else None


def _blank_line(el: Tag) -> bool:
    """`<p></p>`, `<p>&nbsp;</p>`, `<div><br></div>`: a blank line an editor prints."""
    tag = el.name.lower()
    if tag == "p":
        return True
    children = [c for c in el.children if isinstance(c, Tag)]
    return tag == "div" and bool(children) and all(c.name.lower() == "br" for c in children)


def _printed_text(el: Tag) -> Iterator[str]:
    """The visible text of a printed (pre) element, a <br> a line break, in order."""
    stack: list[PageElement] = list(reversed(el.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            name = node.name.lower()
            if name == "br":
                yield "\n"
            elif name not in _DROP and node.get("hidden") is None:
                stack.extend(reversed(node.contents))
        elif type(node) is NavigableString or isinstance(node, CData):
            yield str(node)
