"""Criteria given as markup -> the outline of criteria_read.py.

- markdown: markdown-it gives the list structure; a paragraph's own lines go through the
  line reader, which finds what markdown does not know ("a)", "(iv)", "•" items);
- HTML: lxml gives the structure (`<ul>`, `<ol>`, `<li>`, `<p>`, `<br>`); `<sup>` keeps its
  meaning ("10<sup>9</sup>" -> "10^9"), `<sub>` is joined ("HbA<sub>1c</sub>" -> "HbA1c").

Which of the two a text is (`block_tags`, `looks_like_markdown`) is told here too.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import lxml.html
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.token import Token

from trialwatch.parsers.criteria_lines import Line, list_item, plain_lines, read_lines
from trialwatch.parsers.criteria_read import HeadingTest, Node, powers, prep, sup

# --- markdown ------------------------------------------------------------------------

MD = MarkdownIt("commonmark")
# markdown-it tries each "[" as a link, at the cost of some 20 inline rules a try; with no
# "](" (of an inline link) or "]:" (of a link definition) no link can be, and none is tried.
_MD_NO_LINKS = MarkdownIt("commonmark").disable(["link", "image"])
_MD_LIST_MARK = re.compile(r"\s*(?:>\s*)*(?:(?:[*+-]|\d{1,9}[.)])(?:[ \t]+|$))*")


def markdown_tokens(source: str) -> list[Token]:
    """MD.parse(source), with the link rules left out where no link can be."""
    return (MD if "](" in source or "]:" in source else _MD_NO_LINKS).parse(source)


def _inline_lines(token: Token) -> list[str]:
    lines: list[list[str]] = [[]]  # each line's pieces, joined once at the end
    for child in token.children or []:
        tag = child.content.lower().replace(" ", "") if child.type == "html_inline" else ""
        if child.type in ("softbreak", "hardbreak") or tag.startswith("<br"):
            lines.append([])
        elif child.type in ("text", "code_inline", "image"):
            lines[-1].append(child.content)
        elif tag in ("<sup>", "</sup>", "<sub>", "</sub>"):
            lines[-1].append(child.content)  # prep() reads them
    return ["".join(pieces) for pieces in lines]


def _paragraph(token: Token, source: list[str], heading: HeadingTest) -> list[Node]:
    texts = [prep(t) for t in _inline_lines(token)]
    start, end = token.map or (0, 0)
    raw = source[start:end]
    indents = [0] * len(texts)
    if len(raw) == len(texts):
        indents = [len(s) - len(s.lstrip()) for s in raw]
        # The first line's text starts after any list markers on it ("  * a) ...").
        indents[0] = m.end() if (m := _MD_LIST_MARK.match(raw[0])) else 0
    lines: list[Line] = [(n, t.strip()) for n, t in zip(indents, texts, strict=True) if t.strip()]
    return read_lines(lines, heading)


def markdown_nodes(text: str, heading: HeadingTest, tokens: list[Token]) -> list[Node]:
    source = [line.expandtabs(4) for line in text.split("\n")]  # markdown_source() lines
    containers: list[list[Node]] = [[]]
    lists: list[int] = []  # the open lists, innermost last
    items: list[tuple[int, int]] = []  # (marker column, list) of the open items
    placed: dict[int, tuple[int, int]] = {}  # id(item node) -> (marker column, list)
    for n, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append(n)
        elif token.type in ("bullet_list_close", "ordered_list_close") and lists:
            lists.pop()
        elif token.type == "list_item_open":
            line = source[token.map[0]] if token.map and token.map[0] < len(source) else ""
            items.append((len(line) - len(line.lstrip()), lists[-1] if lists else -1))
            containers.append([])
        elif token.type == "list_item_close" and len(containers) > 1 and items:
            column, in_list = items.pop()
            nodes = list_item(containers.pop())
            target = containers[-1]
            prev = placed.get(id(target[-1])) if target and target[-1].item else None
            # "1. x\n\n  - y": a new list set in from the item just before it is that item's
            # sub-list, as the line reader nests it (CommonMark wants the content column).
            if prev is not None and prev[1] != in_list and prev[0] < column:
                target = target[-1].children
            placed.update((id(node), (column, in_list)) for node in nodes)
            target.extend(nodes)
        elif token.type == "inline":
            containers[-1].extend(_paragraph(token, source, heading))
        elif token.type in ("code_block", "fence"):
            containers[-1].extend(read_lines(plain_lines(token.content), heading))
        elif token.type == "html_block":
            containers[-1].extend(html_nodes(token.content, heading))
    return containers[0]  # markdown-it closes every item it opens


# --- HTML ----------------------------------------------------------------------------

_HTML_BLOCK = frozenset(
    "p div blockquote pre table tbody thead tfoot tr td th section article dl dt dd body"
    " h1 h2 h3 h4 h5 h6 center caption figure header footer main hr li ul ol".split()
)
_HTML_DROP = frozenset("script style head title template".split())


def _tag(element: etree._Element) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


def _inline(element: etree._Element) -> str:
    tag = _tag(element)
    if tag == "br" or tag in _HTML_DROP or not tag:
        return "\n" if tag == "br" else ""
    inner = (element.text or "") + "".join(_inline(c) + (c.tail or "") for c in element)
    if tag == "sup":
        return sup(inner)
    return f"\n{inner}\n" if tag in _HTML_BLOCK else inner


def _html_block(element: etree._Element, heading: HeadingTest) -> list[Node]:
    out: list[Node] = []
    text = [element.text or ""]

    def flush() -> None:
        lines = [prep(raw).strip() for raw in "".join(text).split("\n")]
        out.extend(read_lines([(0, line) for line in lines if line], heading))
        text.clear()

    for child in element:
        tag = _tag(child)
        if tag in _HTML_BLOCK:  # a list's <li> become items one level down
            flush()
            content = _html_block(child, heading)
            out.extend(list_item(content) if tag == "li" else content)
        else:
            text.append(_inline(child))
        text.append(child.tail or "")
    flush()
    return out


def html_nodes(text: str, heading: HeadingTest) -> list[Node]:
    try:
        root = lxml.html.fragment_fromstring(text, create_parent="div")
    except (etree.LxmlError, ValueError):
        return read_lines(plain_lines(text), heading)
    return _html_block(root, heading)


# --- which rendering ---------------------------------------------------------------

_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_HTML_TAG = re.compile(r"<\s*(?:/\s*)?(?:p|li|ul|ol|br|div|table|tr|td|h[1-6])\b", re.I)
_MD_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
_MD_BULLET = re.compile(r"^[ \t]*\*[ \t]+\S", re.MULTILINE)


def markdown_source(text: str) -> str:
    """Markdown with its NFKC forms resolved before parsing ("１８." is a list marker, as
    in plain text); a form that becomes punctuation ("＞") stays text: it is escaped."""
    # Nothing for powers(), the escapes or NFKC to do in ASCII, nor in a text NFKC keeps as
    # it is (no character of it has another form): only line ends.
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text.replace("\r\n", "\n").replace("\r", "\n")
    # Only non-ASCII characters can have another NFKC form: visit just those.
    text = _NON_ASCII.sub(_source_char, powers(text))
    return unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _escaped_form(char: str) -> str:
    """A character whose NFKC form is ASCII punctuation, escaped as that punctuation."""
    form = unicodedata.normalize("NFKC", char)
    return f"\\{form}" if form != char and len(form) == 1 and form in _ASCII_PUNCTUATION else char


def _source_char(m: re.Match[str]) -> str:
    return _escaped_form(m[0])


def looks_like_markdown(text: str) -> bool:
    """Markdown escapes or "* " bullets: API v2's markdown."""
    return bool(_MD_ESCAPE.search(text) or _MD_BULLET.search(text))


def block_tags(text: str) -> bool:
    """Whether the text has a block tag ("<p>", "</li >"): a tag's start with a ">" after
    it. (One regex ending in `[^>]*>` would run from every "<p" to the end of a text that
    holds no ">", which is quadratic.)"""
    tag = _HTML_TAG.search(text)
    return tag is not None and text.find(">", tag.end()) >= 0
