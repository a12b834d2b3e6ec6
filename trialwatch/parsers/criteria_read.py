"""Criteria text in any of its renderings -> one outline of list items and paragraphs.

The same criteria reach us as API v2 markdown, as record-history HTML and as the classic
XML plain text. Each reader turns its rendering into the same `Node` outline, so what is
layout (bullets, numbering, wrapping, indentation, entities, escapes) never reaches the
tree built from it (criteria.py):

- plain text: the line reader here, with indentation giving nesting;
- markdown and HTML: criteria_markup.py, whose readers hand each paragraph's lines to the
  line reader.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from trialwatch.text import norm_text

Rendering = Literal["auto", "markdown", "html", "plain"]
# How a line bears on block boundaries, as flags: a heading starts a block after a blank
# line; a STRONG one ("Exclusion Criteria:") also inside a paragraph, so a wrapped line
# "... criteria for the appropriate subprotocols" does not; one that CLOSES has no text.
HeadingTest = Callable[[str], int]
HEADING, STRONG, CLOSES, OPENS = 1, 2, 4, 8  # OPENS: "Eligibility criteria for X" goes on


@dataclass
class Node:
    """A list item (bullet, number, `<li>`) or a paragraph; only items have children."""

    text: str
    item: bool = False
    children: list[Node] = field(default_factory=list)


# --- text ----------------------------------------------------------------------------

_SUP_CHARS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUP_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
# `(?:/\s*)?`, not `/?\s*`: two `\s*` either side of an optional "/" try every split of a
# run of spaces after each "<".
_SUP_TAG = re.compile(r"<\s*(/\s*)?sup\s*>", re.IGNORECASE)
_SUB_TAG = re.compile(r"<\s*(?:/\s*)?sub\s*>", re.IGNORECASE)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_POWER = re.compile(r"[-+−]?\d+(?:\.\d+)?")


def sup(content: str) -> str:
    """A superscript as text: a power keeps its caret ("mm^3"); "th", "®" just join."""
    content = content.strip()
    return f"^{content}" if _POWER.fullmatch(content) else content


def powers(text: str) -> str:
    r"""NFKC would read "10⁹" as "109": keep the power as "10^9", like <sup> and "10\^9"."""
    return _SUP_RUN.sub(lambda m: "^" + m[0].translate(_SUP_CHARS), text)


def _sup_tags(line: str) -> str:
    """Each `<sup>` up to the first `</sup>` after it read by sup(), in one pass over the
    tags: a lazy regex from every unclosed `<sup>` to the end of the line is quadratic."""
    out: list[str] = []
    done = 0  # the text before this is in `out`
    opened: re.Match[str] | None = None
    for tag in _SUP_TAG.finditer(line):
        if tag[1] is None:
            opened = opened or tag
        elif opened is not None:
            out += [line[done : opened.start()], sup(line[opened.end() : tag.start()])]
            done, opened = tag.end(), None
    out.append(line[done:])
    return "".join(out)


def prep(line: str) -> str:
    """Entities, inline sup/sub tags, superscript digits and NFKC resolved; spacing kept."""
    for _ in range(3):  # double-escaped entities ("&amp;gt;") need more than one pass
        unescaped = html.unescape(line)
        if unescaped == line:
            break
        line = unescaped
    line = _SUB_TAG.sub("", _sup_tags(line))
    line = powers(line)
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", line))


def clean(text: str) -> str:
    """Item text: whitespace collapsed, Markdown escapes dropped (see text.norm_text)."""
    return norm_text(text) or ""


# --- list markers --------------------------------------------------------------------

_ROMAN = re.compile(r"(?=[xvi])x{0,3}(?:ix|iv|v?i{0,3})")  # up to xxxix
_MARKER = re.compile(
    r"""(?:
        (?P<sym>[•·‣◦▪▫●○■□►▸➢➤✓✔⁃∙])\s*
      | (?P<dash>[-*+–—])(?:\s+|$)
      | (?P<o>o)\s+(?=\S)
      | \((?P<paren>\d{1,3}|[A-Za-z]{1,6})\)\s*(?=\S)
      | (?P<ord>\d{1,3}|[A-Za-z]{1,6})(?P<punct>[.)])\s+(?=\S)
    )""",
    re.VERBOSE,
)
Readings = tuple[tuple[str, int], ...]  # (scheme, ordinal): "b)" is ("a", 2), "-" is ("b-", 0)


@dataclass(frozen=True)
class Marker:
    width: int  # characters up to the item's text
    readings: Readings  # a bullet has one reading, ordinal 0
    weak: bool  # "A." "iv." "o": an item only next to a sibling of the same scheme
    bullet: bool


def _roman(word: str) -> int | None:
    lower = word.lower()
    if not _ROMAN.fullmatch(lower) or word not in (lower, word.upper()):
        return None
    values = {"i": 1, "v": 5, "x": 10}
    pairs = zip(lower, lower[1:] + " ", strict=True)
    return sum(-values[a] if values.get(b, 0) > values[a] else values[a] for a, b in pairs)


def marker(text: str) -> Marker | None:
    """The list marker opening a (stripped) line, if it has one."""
    m = _MARKER.match(text)
    if m is None:
        return None
    if m["sym"] or m["dash"]:
        return Marker(m.end(), ((f"b{m['sym'] or m['dash']}", 0),), False, True)
    if m["o"]:
        return Marker(m.end(), (("bo", 0),), True, True)
    # A scheme is the kind of number; "1)" then "2." is one list in two styles.
    word = m["paren"] or m["ord"]
    case = "a" if word.islower() else "A"
    readings = [("1", int(word))] if word.isdigit() else []
    if len(word) == 1 and word.isalpha():
        readings.append((case, ord(word.lower()) - 96))
    if (roman := _roman(word)) is not None:
        readings.append((f"{case}i", roman))
    # "E. coli", "H. pylori": a letter or numeral with "." is text unless a sibling agrees.
    weak = m["punct"] == "." and not word.isdigit()
    return Marker(m.end(), tuple(readings), weak, False) if readings else None


def _follows(prev: Readings, new: Readings) -> bool:
    """True when `new` is the next marker after `prev` in one scheme ("3." after "2.")."""
    return any(s == p_s and (n == p + 1 or n == p == 0) for s, n in new for p_s, p in prev)


# --- group names ---------------------------------------------------------------------

_GROUP_HEAD = re.compile(
    r"(?:group|cohort|part|arm|stage|phase|step|period|sub-?study|panel|population|"
    r"segment|module|cohorts|parts|arms)\s+",
    re.IGNORECASE,
)
_NAME_CHAR = re.compile(r"[\w.-]")
_JOINER = re.compile(r"\s*(?:and|&|/|,)\s*", re.IGNORECASE)
_NAME_LENGTH = 6


def group_word(text: str) -> bool:
    """A group word and its names: "Cohort 2", "Parts A and B", "Arms 1, 2 & 3" (names of
    up to 6 characters joined by "and", "&", "/" or ",").

    Read with the positions where a name may start and end, not as one regex: "and" is both
    a joiner and a name, and a regex tries every way of cutting "aandandand..." into names,
    taking time exponential in its length.
    """
    head = _GROUP_HEAD.match(text)
    if head is None:
        return False
    size, reach = len(text), head.end()  # reach: the furthest a name or joiner goes
    starts, ends = [False] * (size + 1), [False] * (size + 1)
    starts[reach] = True
    for at in range(head.end(), size + 1):
        if at > reach:
            break  # names end before this: no name ends further on
        if ends[at] and (joiner := _JOINER.match(text, at)):
            starts[joiner.end()] = True
            reach = max(reach, joiner.end())
        if starts[at]:
            end = at
            while end < size and end - at < _NAME_LENGTH and _NAME_CHAR.match(text, end):
                end += 1
                ends[end] = True
            reach = max(reach, end)
    # Like a regex's `$`, the text may end with a newline after its last name.
    return ends[size] or (text.endswith("\n") and ends[size - 1])


# --- the line reader -----------------------------------------------------------------

Line = tuple[int, str] | None  # (indent, prepped text without it); None is a blank line


@dataclass
class _Open:
    node: Node
    indent: int  # column of its marker
    text_col: int
    readings: Readings


_Key = tuple[bool, int, str, int]  # (a marker column?, the column, scheme, ordinal)


def _keys(item: _Open) -> list[_Key]:
    """How a marker continuing the item finds it: by the item's marker column or its text
    column (a right-aligned "10."), and by each reading of its number."""
    return [
        key
        for scheme, n in item.readings
        for key in ((True, item.indent, scheme, n), (False, item.text_col, scheme, n))
    ]


class _Stack:
    """The open items, innermost last, looked up by the keys of _keys: lists nested without
    indentation (lines "1. x", "A) y", "1. x", "A) y", ...) open as many items as there are
    lines, and a scan of them all for every line is quadratic."""

    def __init__(self) -> None:
        self.items: list[_Open] = []
        self.at: dict[_Key, list[int]] = {}  # key -> positions in `items`, ascending

    def push(self, item: _Open) -> None:
        for key in _keys(item):
            self.at.setdefault(key, []).append(len(self.items))
        self.items.append(item)

    def pop(self) -> None:
        for key in _keys(self.items.pop()):
            self.at[key].pop()

    def cut(self, size: int) -> None:
        while len(self.items) > size:
            self.pop()

    def continued(self, m: Marker, indent: int) -> int | None:
        """The innermost open item whose numbering the marker continues (see _follows): it
        and its sub-items end."""
        found: list[int] = []
        for scheme, n in m.readings:
            before = n - 1 if n else 0  # "3." continues "2."; a bullet continues a bullet
            for key in ((True, indent, scheme, before), (False, indent + m.width, scheme, before)):
                found += self.at.get(key, [])[-1:]
        return max(found, default=None)


class _LineReader:
    """Lines -> outline. Indentation gives nesting; a blank line ends a block."""

    def __init__(self, lines: Sequence[Line], heading: HeadingTest) -> None:
        self.lines, self.heading = lines, heading
        self.markers = [marker(ln[1]) if ln is not None else None for ln in lines]
        marked = [i for i, m in enumerate(self.markers) if m is not None]
        after_blank = sum(1 for i in marked if i == 0 or lines[i - 1] is None)
        # Classic layout puts a blank line before every item, so there a marker inside an
        # item's text column is a hard wrap ("... 18\n   - 65 years"), not a sub-item.
        self.loose = after_blank >= 2 and after_blank > 2 * (len(marked) - after_blank)
        self.weak_ok = self._neighbours()
        self.roots: list[Node] = []
        self.stack = _Stack()
        self.block: Node | None = None
        self.block_col = 0  # where the open block's text starts
        self.parts: list[str] = []

    def _neighbours(self) -> set[int]:
        """Lines whose weak marker has a sibling of the same scheme (a./b., i./ii., o/o)."""
        seen = [
            (i, ln[0], m)
            for i, (ln, m) in enumerate(zip(self.lines, self.markers, strict=True))
            if ln is not None and m is not None and m.weak
        ]
        ok: set[int] = set()
        for a, (i, indent, m) in enumerate(seen):
            for j, other_indent, other in seen[a + 1 : a + 50]:  # siblings are near
                if other_indent == indent and _follows(m.readings, other.readings):
                    ok.update((i, j))
                    break
        return ok

    def _open(self, node: Node, text: str, col: int) -> None:
        if self.block is not None:
            self.block.text = clean(" ".join(self.parts))
        (self.stack.items[-1].node.children if self.stack.items else self.roots).append(node)
        self.block, self.parts, self.block_col = node, [text], col

    def _starts_item(self, i: int, m: Marker, indent: int, start: bool) -> bool:
        if not start and self.loose and indent >= self.block_col:
            return False  # a hard wrap in the block's text column
        if m.weak:
            return i in self.weak_ok
        if start:
            return True
        # A line that is not after a blank line: a hard wrap unless it plainly starts an item.
        # A "1." right after a paragraph or an item's text opens a (sub-)list; a later
        # number that continues no list is a wrapped line ("... at least\n2. ").
        first = any(n == 1 for _, n in m.readings)
        return m.bullet or first or self.stack.continued(m, indent) is not None

    def _item(self, m: Marker, indent: int, body: str, start: bool) -> None:
        sibling = self.stack.continued(m, indent)
        readings, width = m.readings, m.width
        inner = marker(body)
        if inner is not None and not inner.weak and not (inner.bullet and m.bullet):
            # "* a) Cohort 1", "-  1. ...": the inner enumerator is the numbering
            readings, width, body = inner.readings, width + inner.width, body[inner.width :]
        top = self.stack.items[-1] if self.stack.items else None
        # A list restarting at "1." right under an item's text is its sub-list (but
        # "1. a\n1. b" numbers every item "1.": those are siblings).
        nested = top is not None and not start and self.block is top.node
        nested = nested and any(n == 1 and s[0] != "b" for s, n in readings)
        nested = nested and top is not None and not set(top.readings) & set(readings)
        if sibling is not None:
            self.stack.cut(sibling)
        items = self.stack.items
        while items and (items[-1].indent > indent or (items[-1].indent == indent and not nested)):
            self.stack.pop()
        node = Node("", item=True)
        self._open(node, body, indent + width)
        self.stack.push(_Open(node, indent, indent + width, readings))

    def read(self) -> list[Node]:
        start = True  # the next line starts a block
        for i, line in enumerate(self.lines):
            if line is None:
                start = True
                continue
            indent, text = line
            m = self.markers[i]
            if m is not None:
                kind = self.heading(clean(text[m.width :]))
                if self._starts_item(i, m, indent, start or bool(kind & STRONG)):
                    self._item(m, indent, text[m.width :], start)
                    start = bool(kind & CLOSES)
                    continue
            kind = self.heading(clean(text))
            if kind & STRONG and not start and self.block is not None and not self.block.item:
                # "Eligibility criteria for X\nInclusion criteria" is one heading.
                if self.heading(clean(" ".join(self.parts))) & OPENS:
                    kind = 0
            if start or kind & STRONG or self.block is None:
                while self.stack.items and self.stack.items[-1].indent >= indent:
                    self.stack.pop()
                self._open(Node(""), text, indent)
                start = bool(kind & CLOSES)
            else:
                self.parts.append(text)
        if self.block is not None:
            self.block.text = clean(" ".join(self.parts))
        return self.roots


def read_lines(lines: Sequence[Line], heading: HeadingTest) -> list[Node]:
    return _LineReader(lines, heading).read()


def plain_lines(text: str) -> list[Line]:
    out: list[Line] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = prep(raw.expandtabs(4))
        out.append((len(line) - len(line.lstrip()), line.strip()) if line.strip() else None)
    return out


def list_item(content: list[Node]) -> list[Node]:
    """A list item's content -> the item. An item that opens with a list or an enumerated
    line ("* 1. x", "* a) x") is that list: its items stand in its place."""
    if content and not content[0].item:
        return [Node(content[0].text, item=True, children=content[1:])]
    out: list[Node] = []
    for node in content:  # a paragraph after such an item is that item's
        if node.item or not out:
            out.append(node)
        else:
            out[-1].children.append(node)
    return out
