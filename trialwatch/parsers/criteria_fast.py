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
from dataclasses import dataclass, field

from trialwatch.parsers.criteria_lines import Line, list_item, read_lines
from trialwatch.parsers.criteria_markup import _MD_LIST_MARK
from trialwatch.parsers.criteria_read import HeadingTest, Node, clean, marker, prep

__all__ = ["fast_markdown_nodes"]


class _Unsure(Exception):
    """The text has something this reader does not place with certainty."""


# Whitespace other than " " and "\n" (tabs, form feeds, NBSP-like spaces NFKC keeps, line
# separators): markdown-it and str.strip() do not agree on it.
_ODD_SPACE = re.compile(r"[^\S \n]")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash escape, as markdown-it reads it
# Inline markup left after escapes: code spans, emphasis, autolinks and HTML, a backslash
# that escapes nothing (or breaks a line), entities.
_INLINE = re.compile(r"[`*_<\\]|&[#A-Za-z0-9]")
# What may start a block other than a paragraph or one of the list items read here:
# headings, setext underlines, fences, HTML, block quotes, breaks, items of other shapes.
_BLOCK_START = re.compile(r"[#=`~<>_+*-]|\d{1,9}[.)](?: |$)")
_ORDERED = re.compile(r"\d{1,9}([.)])")
_MAX_ITEMS = 6  # open items at once; markdown-it stops nesting at some depth


@dataclass
class _Paragraph:
    raw: list[str]  # its source lines
    pieces: list[str]  # each line's inline text, escapes resolved


@dataclass
class _Container:
    content: int  # the column its content starts at
    column: int = 0  # an item's marker column
    list_id: int = -1  # an item's list
    blocks: list[_Paragraph | _Container] = field(default_factory=list)
    open_list: tuple[str, int] | None = None  # (kind, id) of a list that may go on


def _piece(content: str) -> str:
    """A line's inline text as markdown-it gives it, or _Unsure for any inline markup."""
    if "\\" not in content:
        if _INLINE.search(content):
            raise _Unsure
        return content
    if _INLINE.search(_ESCAPE.sub("", content)):
        raise _Unsure
    return _ESCAPE.sub(r"\1", content)


def _list_marker(s: str) -> tuple[str, int, int] | None:
    """(list kind, width up to the item's text, number) of a list marker opening `s` (a
    line without its indentation); None for none; _Unsure for an empty item or an odd one."""
    head = s[:1]
    if head in ("*", "-", "+"):
        if s[1:2] != " ":
            return None
        kind, number, width = "b" + head, -1, 1
    elif head.isdigit() and (m := _ORDERED.match(s)) is not None:
        width = m.end()
        if s[width : width + 1] not in (" ", ""):
            return None
        kind, number = "o" + m[1], int(s[: width - 1])
    else:
        return None
    body = s[width:]
    spaces = len(body) - len(body.lstrip(" "))
    if not body.strip(" ") or spaces > 4:  # empty, or its text is an indented code block
        raise _Unsure
    return kind, width + spaces, number


def _parse(source: str) -> _Container:
    root = _Container(content=0)
    stack: list[_Container] = [root]  # the open containers, innermost last
    para: _Paragraph | None = None  # the open paragraph: no blank line since it
    ids = 0
    for line in source.split("\n"):
        s = line.lstrip(" ")
        if not s:
            para = None
            continue
        n = len(line) - len(s)
        d = 0  # the innermost container the line is inside
        while d + 1 < len(stack) and n >= stack[d + 1].content:
            d += 1
        mark = _list_marker(s)
        if para is not None and mark is None:
            if _BLOCK_START.match(s):
                raise _Unsure
            para.raw.append(line)  # a continuation line, maybe lazy
            para.pieces.append(_piece(s))
            continue
        if n - stack[d].content >= 4:  # indented code, or a lazy line that looks like an item
            raise _Unsure
        container = stack[d]
        del stack[d + 1 :]
        if mark is None:
            if _BLOCK_START.match(s):
                raise _Unsure
            container.open_list = None  # a paragraph ends the list before it
            para = _Paragraph([line], [_piece(s)])
            container.blocks.append(para)
            continue
        kind, width, number = mark
        goes_on = container.open_list is not None and container.open_list[0] == kind
        if para is not None and not goes_on and number not in (-1, 1):
            raise _Unsure  # only a list at 1 interrupts a paragraph; otherwise a lazy line
        if not goes_on:
            ids += 1
            container.open_list = (kind, ids)
        assert container.open_list is not None
        item = _Container(content=n + width, column=n, list_id=container.open_list[1])
        container.blocks.append(item)
        stack.append(item)
        if len(stack) > _MAX_ITEMS:
            raise _Unsure
        body = s[width:]
        if _BLOCK_START.match(body):  # "* 1. x", "* # x": a block inside the item
            raise _Unsure
        para = _Paragraph([line], [_piece(body)])
        item.blocks.append(para)
    return root


def _text(piece: str) -> str:
    # prep() changes nothing in ASCII without entities or tags: skip it there.
    if piece.isascii() and "&" not in piece and "<" not in piece:
        return piece.strip()
    return prep(piece).strip()


def _paragraph(para: _Paragraph, heading: HeadingTest) -> list[Node]:
    """markdown_nodes' `_paragraph`: the paragraph's lines through the line reader."""
    if len(para.pieces) == 1:
        text = _text(para.pieces[0])
        if not text:
            return []
        if marker(text) is None:  # one line and no marker: the line reader's one paragraph
            return [Node(clean(text))]
    raw = para.raw
    indents = [len(s) - len(s.lstrip()) for s in raw]
    indents[0] = m.end() if (m := _MD_LIST_MARK.match(raw[0])) else 0
    texts = [_text(piece) for piece in para.pieces]
    lines: list[Line] = [(n, t) for n, t in zip(indents, texts, strict=True) if t]
    return read_lines(lines, heading)


def _nodes(
    container: _Container, heading: HeadingTest, placed: dict[int, tuple[int, int]]
) -> list[Node]:
    """The outline of a container's blocks, placed as markdown_nodes places them."""
    out: list[Node] = []
    for block in container.blocks:
        if isinstance(block, _Paragraph):
            out.extend(_paragraph(block, heading))
            continue
        nodes = list_item(_nodes(block, heading, placed))
        target = out
        prev = placed.get(id(target[-1])) if target and target[-1].item else None
        if prev is not None and prev[1] != block.list_id and prev[0] < block.column:
            target = target[-1].children
        placed.update((id(node), (block.column, block.list_id)) for node in nodes)
        target.extend(nodes)
    return out


def fast_markdown_nodes(source: str, heading: HeadingTest) -> list[Node] | None:
    """The outline markdown_nodes gives for `source` (a markdown_source() text), or None
    when the text has anything this reader does not place with certainty."""
    if "](" in source or "]:" in source or "\x00" in source or _ODD_SPACE.search(source):
        return None  # links and link definitions; NUL and odd whitespace
    try:
        root = _parse(source)
    except _Unsure:
        return None
    return _nodes(root, heading, {})
