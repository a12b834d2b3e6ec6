"""A line-based reader for the common shapes of API v2 markdown criteria.

API v2 criteria are nearly always a few paragraphs ("Inclusion Criteria:") and lists of
"* " or "1. " items, some nested by indentation. For those, this module finds the same
blocks markdown-it would (a small part of CommonMark's block rules) without building
markdown-it's tokens, and turns them into the outline exactly as `markdown_nodes` does.

It is conservative: whatever it cannot place with certainty (emphasis, code, links, HTML,
entities, escapes other than a backslash before punctuation, tabs, headings, thematic
breaks, lazy lines that might start a block, deep nesting, ...) makes `fast_markdown_nodes`
return None, and the caller reads the text with markdown-it (criteria_markup.py).
"""

from __future__ import annotations

import re
import unicodedata

from trialwatch.parsers.criteria_lines import Line, list_item, read_lines
from trialwatch.parsers.criteria_markup import _MD_LIST_MARK
from trialwatch.parsers.criteria_read import _MARKER, HeadingTest, Node, clean, prep

__all__ = ["fast_markdown_nodes"]


class _Unsure(Exception):
    """The text has something this reader does not place with certainty."""


# Whitespace other than " " and "\n" (tabs, form feeds, line separators): markdown-it and
# str.strip() do not agree on it. Only what NFKC keeps (markdown_source applied it); no
# character past U+3000 is whitespace.
_ODD_SPACE = tuple(
    c
    for c in map(chr, range(0x3001))
    if c.isspace() and c not in " \n" and unicodedata.normalize("NFKC", c) == c
)
_ODD_ASCII = tuple(c for c in _ODD_SPACE if c.isascii())
# Never in a text read here: NUL, code spans; links and link definitions, a backslash
# escaping a backslash (which leaves the next character unescaped), both tested only
# where their first character is (a one-character test runs at memchr's speed).
_REFUSED = ("\x00", "`")
_REFUSED_AFTER = (("]", ("](", "]:")), ("\\", ("\\\\",)))
# Inline markup unless escaped: emphasis, autolinks and HTML. (A "*" opening a line's
# list item is a marker: _parse counts those.)
_MARKUP = ("_", "<")
_BARE_BACKSLASH = re.compile(r"\\(?![!-/:-@\[-`{-~])")  # escapes nothing, or breaks a line
_ENTITY = re.compile(r"&[#A-Za-z0-9]")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash escape, as markdown-it reads it
# Each line (read all at once: one call, not one a line): the line, its indentation, then
# maybe a list marker ("*", "-", "+", "1.", "1)", with the ordered list's delimiter) and
# the 1 to 4 spaces after it with text after those (more spaces would make an indented
# code block); then, looked at, what may start a block other than a paragraph or such an
# item (headings, setext underlines, fences, HTML, block quotes, breaks, items of other
# shapes); then the text. An unmatched part is "".
_LINES = re.compile(
    r"^(( *)(?:([*+-]|[0-9]{1,9}([.)]))( {1,4})(?! ))?"
    r"(?:(?=([#=`~<>_+*-]|\d{1,9}[.)](?: |$))))?(.*))$",
    re.MULTILINE,
)
_MAX_ITEMS = 6  # open items at once; markdown-it stops nesting at some depth

# A paragraph: its source lines and each line's inline text (escapes resolved).
_Paragraph = tuple[list[str], list[str]]


class _Container:
    """The root or a list item, with its blocks: paragraphs and items."""

    __slots__ = ("blocks", "column", "list_id", "open_list")

    def __init__(self, column: int, list_id: int) -> None:
        self.column = column  # an item's marker column
        self.list_id = list_id  # an item's list
        self.blocks: list[_Paragraph | _Container] = []
        self.open_list: tuple[str, int] | None = None  # (kind, id) of a list that may go on


def _inline_free(source: str) -> bool:
    """No inline markup but backslash escapes, in a text with none of _REFUSED; the "*"
    that are no list markers are counted by the caller."""
    if "\\" in source and _BARE_BACKSLASH.search(source):
        return False
    if "&" in source:  # an entity, unless its "&" is escaped
        for m in _ENTITY.finditer(source):
            if source[m.start() - 1 : m.start()] != "\\":
                return False
    # With no "\\\\" in the text, each "\\<" is an escaped "<": all others are markup.
    return all(c not in source or source.count(c) == source.count("\\" + c) for c in _MARKUP)


def _parse(source: str) -> _Container:
    root = _Container(0, -1)
    stack: list[_Container] = [root]  # the open containers, innermost last
    contents = [0]  # the column each one's content starts at: rising
    para: _Paragraph | None = None  # the open paragraph: no blank line since it
    ids = stars = 0
    for line, indent, mark, delim, spaces, block, text in _LINES.findall(source):
        if not text:
            if mark:
                raise _Unsure  # an empty item
            para = None  # a blank line
            continue
        if block:  # "* 1. x", "* # x": a block inside the item; "---"
            raise _Unsure
        if "\\" in text:
            text = _ESCAPE.sub(r"\1", text)  # the line's inline text, as markdown-it reads it
        if para is not None and not mark:
            para[0].append(line)  # a continuation line, maybe lazy
            para[1].append(text)
            continue
        n = len(indent)
        d = len(contents) - 1  # the innermost container the line is inside
        while contents[d] > n:
            d -= 1
        if n - contents[d] >= 4:  # indented code, or a lazy line that looks like an item
            raise _Unsure
        container = stack[d]
        if d + 1 < len(stack):
            del stack[d + 1 :], contents[d + 1 :]
        interrupts = para is not None  # right after a paragraph's line
        para = ([line], [text])
        if not mark:
            container.open_list = None  # a paragraph ends the list before it
            container.blocks.append(para)
            continue
        kind = delim or mark  # the bullet, or the ordered list's delimiter
        stars += mark == "*"
        open_list = container.open_list
        if open_list is None or open_list[0] != kind:  # a new list
            if interrupts and delim and mark[:-1].lstrip("0") != "1":
                raise _Unsure  # only a list at 1 interrupts a paragraph; otherwise a lazy line
            ids += 1
            open_list = container.open_list = (kind, ids)
        item = _Container(n, open_list[1])
        item.blocks.append(para)
        container.blocks.append(item)
        stack.append(item)
        contents.append(n + len(mark) + len(spaces))
        if len(stack) > _MAX_ITEMS:
            raise _Unsure
    escaped = source.count("\\*") if "\\" in source else 0
    if source.count("*") - escaped != stars:
        raise _Unsure  # a "*" that is neither escaped nor a list marker: emphasis
    return root


def _text(piece: str) -> str:
    # prep() changes nothing in ASCII without entities or tags: skip it there.
    if piece.isascii() and "&" not in piece and "<" not in piece:
        return piece.strip()
    return prep(piece).strip()


def _one_node(para: _Paragraph) -> str | None:
    """The text of the one node the line reader makes of a paragraph of one line without a
    list marker; None for any other paragraph (or one that makes no node)."""
    pieces = para[1]
    if len(pieces) != 1:
        return None
    piece = pieces[0]
    plain = piece.isascii() and not ("&" in piece or "<" in piece or "\\" in piece or "  " in piece)
    text = piece.strip() if plain else _text(piece)
    if not text or _MARKER.match(text):  # (a match that marker() refuses: read_lines)
        return None
    # clean() has nothing to do without an entity, tag, escape or run of spaces.
    return text if plain else clean(text)


def _paragraph(para: _Paragraph, heading: HeadingTest) -> list[Node]:
    """markdown_nodes' `_paragraph`: the paragraph's lines through the line reader."""
    if (text := _one_node(para)) is not None:
        return [Node(text, False, [])]
    raw, pieces = para
    indents = [len(s) - len(s.lstrip()) for s in raw]
    indents[0] = m.end() if (m := _MD_LIST_MARK.match(raw[0])) else 0
    texts = [_text(piece) for piece in pieces]
    lines: list[Line] = [(n, t) for n, t in zip(indents, texts, strict=True) if t]
    return read_lines(lines, heading)


def _nodes(
    blocks: list[_Paragraph | _Container],
    heading: HeadingTest,
    placed: dict[int, tuple[int, int]],
) -> list[Node]:
    """The outline of a container's blocks, placed as markdown_nodes places them."""
    out: list[Node] = []
    for block in blocks:
        if not isinstance(block, _Container):
            out.extend(_paragraph(block, heading))
            continue
        first = block.blocks[0]  # an item opens with the paragraph on its marker's line
        assert not isinstance(first, _Container)
        if (text := _one_node(first)) is not None:  # list_item()'s common case, inline
            rest = block.blocks
            children = _nodes(rest[1:], heading, placed) if len(rest) > 1 else []
            nodes = [Node(text, True, children)]
        else:
            nodes = list_item(_nodes(block.blocks, heading, placed))
        target = out
        prev = placed.get(id(target[-1])) if target and target[-1].item else None
        if prev is not None and prev[1] != block.list_id and prev[0] < block.column:
            target = target[-1].children
        where = (block.column, block.list_id)
        for node in nodes:
            placed[id(node)] = where
        target.extend(nodes)
    return out


def fast_markdown_nodes(source: str, heading: HeadingTest) -> list[Node] | None:
    """The outline markdown_nodes gives for `source` (a markdown_source() text), or None
    when the text has anything this reader does not place with certainty."""
    # Substring tests, not a regex: they run at memchr's speed over the whole text.
    odd = _ODD_ASCII if source.isascii() else _ODD_SPACE
    if any(c in source for c in _REFUSED) or any(c in source for c in odd):
        return None
    if any(c in source and any(t in source for t in then) for c, then in _REFUSED_AFTER):
        return None
    if not _inline_free(source):
        return None
    try:
        root = _parse(source)
    except _Unsure:
        return None
    return _nodes(root.blocks, heading, {})
