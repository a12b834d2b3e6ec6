"""The line reader: criteria as printed lines -> the outline of criteria_read.py.

Plain text (the classic XML textblock, a site page's criteria, a markdown paragraph's lines)
is read line by line:

- a blank line ends a block; a list marker ("-", "•", "1.", "a)", "(iv)") opens an item;
- indentation gives nesting, and so does numbering where the layout has no indentation (div,
  p and br layouts, lines copied from a page): a list that restarts at 1 (or a run of
  bullets) between items k and k+1 of a numbered list is item k's sub-list, and it ends
  where its parent's numbering resumes (`_sublists`, a look-ahead over the markers);
- a line that is no marker continues the block, unless the text prints one item per line
  without markers (the classic site's text of older versions): a line whose first word
  would have fit on the line before it was not wrapped there, so it starts an item of its
  own (`_LineReader._own_line`). Wrapped prose fills its lines and stays one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trialwatch.parsers.criteria_read import (
    CLOSES,
    OPENS,
    STRONG,
    HeadingTest,
    Marker,
    Node,
    Readings,
    _follows,
    clean,
    marker,
    prep,
)

Line = tuple[int, str] | None  # (indent, prepped text without it); None is a blank line


@dataclass
class _Open:
    node: Node
    indent: int  # column of its marker
    text_col: int
    readings: Readings
    line: int = -1  # the line it opened on
    at: int = -1  # its place in the stack while open


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
        item.at = len(self.items)
        for key in _keys(item):
            self.at.setdefault(key, []).append(len(self.items))
        self.items.append(item)

    def pop(self) -> None:
        for key in _keys(self.items.pop()):
            self.at[key].pop()

    def cut(self, size: int) -> None:
        while len(self.items) > size:
            self.pop()

    def holds(self, item: _Open | None) -> bool:
        return item is not None and 0 <= item.at < len(self.items) and self.items[item.at] is item

    def continued(self, m: Marker, indent: int) -> int | None:
        """The innermost open item whose numbering the marker continues (see _follows): it
        and its sub-items end."""
        found: list[int] = []
        for scheme, n in m.readings:
            before = n - 1 if n else 0  # "3." continues "2."; a bullet continues a bullet
            for key in ((True, indent, scheme, before), (False, indent + m.width, scheme, before)):
                found += self.at.get(key, [])[-1:]
        return max(found, default=None)


def numbering(m: Marker, body: str) -> tuple[Marker, str]:
    """ "* a) Cohort 1", "-  1. ...": an enumerator after a bullet is the item's numbering."""
    inner = marker(body)
    if inner is not None and not inner.weak and not (inner.bullet and m.bullet):
        return Marker(m.width + inner.width, inner.readings, False, False), body[inner.width :]
    return m, body


def _sublists(
    lines: Sequence[Line], numbers: list[Marker | None], ends_lists: list[bool]
) -> tuple[dict[int, int], dict[int, int], set[int]]:
    """Sub-lists printed at their parent's indentation: ({line of a sub-list's first item:
    line of its parent}, {line of the item after the sub-list: line of the parent}, the
    marker lines whose list goes on: the next marker at their indentation follows them).

    A list that restarts at 1 (or a run of bullets) right after item k of a numbered list,
    at the same indentation, is item k's sub-list when item k + 1 follows it: after its
    last item ("3. x" / "1. a" ... "9. i" / "4. y"), or inside it, the sub-list's own
    numbers having reached k ("3. x" / "1. a" "2. b" "3. c" / "4. y" "5. z"), or when item
    k's text ends with ":" (it introduces the list). Linear: each marker is the next of one
    marker, and each run of a sub-list is walked once.
    """
    introduces = [
        ln is not None and n is not None and ln[1].rstrip().endswith(":")
        for ln, n in zip(lines, numbers, strict=True)
    ]
    after: dict[int, int] = {}  # a marker line -> the next marker line at its indentation
    before: dict[int, int] = {}
    open_: list[tuple[int, int]] = []  # (indent, line) of the last marker at each indentation
    blank = True
    for i, line in enumerate(lines):
        if line is None:
            blank = True
            continue
        indent = line[0]
        if ends_lists[i]:
            open_.clear()  # a section heading: every list ends
        elif numbers[i] is not None:
            while open_ and open_[-1][0] > indent:
                open_.pop()
            if open_ and open_[-1][0] == indent:
                after[open_[-1][1]] = i
                before[i] = open_.pop()[1]
            open_.append((indent, i))
        elif blank:
            while open_ and open_[-1][0] >= indent:
                open_.pop()  # a paragraph at this level ends its lists
        blank = False
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for first, parent in before.items():
        p, m = numbers[parent], numbers[first]
        if p is None or m is None or _follows(p.readings, m.readings):
            continue
        restart = any(n == 1 and s[0] != "b" for s, n in m.readings)
        if not (restart or (m.bullet and not p.bullet)):
            continue
        last, closer = first, None
        while last in after:
            nxt = numbers[after[last]]
            if nxt is not None and _follows(p.readings, nxt.readings):
                closer = after[last]  # the parent's numbering resumes (the last time wins)
            step = numbers[last]
            if nxt is None or step is None or not _follows(step.readings, nxt.readings):
                break
            last = after[last]
        if closer is not None:
            starts[first], ends[closer] = parent, parent
        elif introduces[parent]:
            starts[first] = parent  # "... the following:": its list, to the list's end
    listed = {
        i
        for i, j in after.items()
        if (a := numbers[i]) is not None and (b := numbers[j]) and _follows(a.readings, b.readings)
    }
    return starts, ends, listed


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
        # Each line's heading kind, read once: of a marker line's text after its marker.
        self.kinds = [
            0 if ln is None else self.heading(clean(ln[1][m.width :] if m else ln[1]))
            for ln, m in zip(lines, self.markers, strict=True)
        ]
        numbers: list[Marker | None] = []
        for i, (ln, m) in enumerate(zip(lines, self.markers, strict=True)):
            ok = ln is not None and m is not None and (not m.weak or i in self.weak_ok)
            numbers.append(numbering(m, ln[1][m.width :])[0] if ok and ln and m else None)
        strong = [bool(kind & STRONG) for kind in self.kinds]
        self.sub_starts, self.sub_ends, self.listed = _sublists(lines, numbers, strong)
        # The width lines are wrapped at, nearly: one longer line (an edit) is left out.
        sizes = sorted(ln[0] + len(ln[1]) for ln in lines if ln is not None)
        self.width = sizes[(len(sizes) - 1) * 9 // 10] if sizes else 0
        self.own = self._one_per_line()
        self.line_nodes: set[int] = set()  # ids of those lines' nodes (held in the outline)
        self.roots: list[Node] = []
        self.stack = _Stack()
        self.opened: dict[int, _Open] = {}  # line -> the item it opened
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
        said = self.parts[-1].rstrip() if self.parts else ""
        opens = any(n == 1 for _, n in m.readings)
        opens = opens and (i in self.listed or said.endswith(":"))
        if not start and self.loose and indent >= self.block_col and not opens:
            return False  # a hard wrap in the block's text column, not a list it introduces
        if m.weak:
            return i in self.weak_ok
        if start or i in self.sub_starts or i in self.sub_ends:
            return True
        # A line that is not after a blank line: a hard wrap unless it plainly starts an item.
        # A "1." right after a paragraph or an item's text opens a (sub-)list; a later
        # number that continues no list is a wrapped line ("... at least\n2. ").
        first = any(n == 1 for _, n in m.readings)
        return m.bullet or first or self.stack.continued(m, indent) is not None

    def _item(self, i: int, m: Marker, indent: int, body: str, start: bool) -> None:
        sibling = self.stack.continued(m, indent)
        own, body = numbering(m, body)
        readings, width = own.readings, own.width
        if own is not m:  # "* 4." continues "* 3.": by its number
            sibling = self.stack.continued(own, indent) if sibling is None else sibling
        top = self.stack.items[-1] if self.stack.items else None
        # A list restarting at "1." right under an item's text is its sub-list (but
        # "1. a\n1. b" numbers every item "1.": those are siblings).
        nested = top is not None and not start and self.block is top.node
        nested = nested and any(n == 1 and s[0] != "b" for s, n in readings)
        nested = nested and top is not None and not set(top.readings) & set(readings)
        parent = self.opened.get(self.sub_starts.get(i, -1))
        closes = self.opened.get(self.sub_ends.get(i, -1))
        if self.stack.holds(parent) and parent is not None:
            self.stack.cut(parent.at + 1)  # a sub-list at its parent's indentation
        elif self.stack.holds(closes) and closes is not None:
            self.stack.cut(closes.at)  # the parent's numbering resumes: a sibling of it
        elif sibling is not None:
            self.stack.cut(sibling)  # its parent is the parent of the item it continues
        else:
            items = self.stack.items
            while items and (
                items[-1].indent > indent or (items[-1].indent == indent and not nested)
            ):
                self.stack.pop()
        node = Node("", item=True)
        self._open(node, body, indent + width)
        self.opened[i] = _Open(node, indent, indent + width, readings, line=i)
        self.stack.push(self.opened[i])

    def _one_per_line(self) -> set[int]:
        """The lines of paragraphs printed one item per line: a run of lines without markers
        in which some line's first word would have fit on the line before it (so no wrap cut
        it there; wrapped prose fills its lines), that line ending no phrase ("... and")."""
        own: set[int] = set()
        run: list[int] = []
        broken = False
        for i, line in enumerate([*self.lines, None]):
            prev = self.lines[i - 1] if 0 < i <= len(self.lines) else None
            cut = prev is None or self.markers[i - 1] is not None or prev[0] != (line or (0,))[0]
            if line is None or self.markers[i] is not None or cut or prev is None:
                if broken:
                    own.update(run)
                run, broken = ([i] if line is not None and self.markers[i] is None else []), False
                continue
            run.append(i)
            last = prev[1].rsplit(" ", 1)[-1].lower()
            ends = prev[1][-1:] in _GOES_ON or last in _GOES_ON_WORDS or line[1][:1] in _NO_START
            fits = prev[0] + len(prev[1]) + 1 + len(line[1].split(" ", 1)[0]) <= self.width
            broken = broken or (fits and not ends)
        return own

    def _line_node(self, i: int, text: str) -> Node:
        """A line of a one-per-line paragraph is an item, but a short label ("Cohort A:")
        stays a paragraph, which names the group of the lines after it."""
        label = text.endswith(":") and len(text.split()) <= 4
        node = Node("", item=i in self.own and not label and not self.kinds[i])
        if i in self.own:
            self.line_nodes.add(id(node))
        return node

    def read(self) -> list[Node]:
        start = True  # the next line starts a block
        for i, line in enumerate(self.lines):
            if line is None:
                start = True
                continue
            indent, text = line
            m = self.markers[i]
            if m is not None:
                kind = self.kinds[i]
                if self._starts_item(i, m, indent, start or bool(kind & STRONG)):
                    self._item(i, m, indent, text[m.width :], start)
                    start = bool(kind & CLOSES)
                    continue
                kind = self.heading(clean(text))
            else:
                kind = self.kinds[i]
            if kind & STRONG and not start and self.block is not None and not self.block.item:
                # "Eligibility criteria for X\nInclusion criteria" is one heading.
                if self.heading(clean(" ".join(self.parts))) & OPENS:
                    kind = 0
            if start or kind & STRONG or self.block is None:
                while self.stack.items and self.stack.items[-1].indent >= indent:
                    self.stack.pop()
                self._open(self._line_node(i, text), text, indent)
                start = bool(kind & CLOSES)
            elif i - 1 in self.own and i in self.own and id(self.block) in self.line_nodes:
                self._open(self._line_node(i, text), text, indent)
            else:
                self.parts.append(text)
        if self.block is not None:
            self.block.text = clean(" ".join(self.parts))
        return self.roots


# A line ending so, or in such a word, goes on on the next line: a wrap, not an item's end.
_GOES_ON = frozenset(",-/(&+–")
_GOES_ON_WORDS = frozenset(
    "a an and or nor the of to with without in into for by at on from than as that who which"
    " whose whom is are was were be been not no per via e.g. i.e. including such after before"
    " during within between under over about against among upon".split()
)
_NO_START = frozenset(")]},.;:%")


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
