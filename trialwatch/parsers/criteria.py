"""Eligibility criteria text -> a tree of criteria, as a flat list in source order.

Every rendering of one text (API v2 markdown, record-history HTML, classic plain text)
is first read into the same outline of items and paragraphs (criteria_read.py); this
module walks that outline:

- Sections: "Inclusion Criteria:", "Exclusion Criteria:" and their variants ("Key ...",
  "Criteria for inclusion", French "non-inclusion" = exclusion) switch the section; items
  before any heading are inclusion. A neutral heading ("Eligibility Criteria:") is
  dropped. A heading is a line that is only a heading: "Exclusion criteria of the parent
  study do not apply" is an item.
- A heading's qualifier opens a group: "Inclusion Criteria for Cohort A:", "Inclusion
  Criteria (MCI patients):", "Exclusion criteria - Part 2:", "Donor Inclusion Criteria:".
  A qualified "X Inclusion/Exclusion:" heading starts a group that, like the start of the
  text, is inclusion until an exclusion heading.
- A non-bulleted paragraph ending with ":" that introduces items is a group label, not an
  item ("Donor:", "Part A:", "At least one of the following:"). A short noun-phrase label
  ("Cohort 1:") holds until the next label; a longer one ("... the following criteria:")
  holds for the list right after it; one of several sentences is also an item. A label
  directly followed by another label, or in capitals, is an outer group.
- A bulleted item with sub-items stays an item; its sub-items carry its text in their path.
  A paragraph right after an item's text (a second paragraph of the item) joins it.
"""

from __future__ import annotations

import re
from typing import Literal

from trialwatch.parsers.clean import storable, unchecked
from trialwatch.parsers.criteria_fast import fast_markdown_nodes
from trialwatch.parsers.criteria_heading import Heading, heading, heading_test
from trialwatch.parsers.criteria_lines import plain_lines, read_lines
from trialwatch.parsers.criteria_markup import (
    block_tags,
    html_nodes,
    looks_like_markdown,
    markdown_nodes,
    markdown_source,
    markdown_tokens,
)
from trialwatch.parsers.criteria_read import (
    Node,
    Rendering,
    clean,
    group_word,
)
from trialwatch.record import Criterion

Section = Literal["inclusion", "exclusion"]

__all__ = ["Heading", "heading", "heading_test", "parse_criteria", "read_outline"]


# --- group labels --------------------------------------------------------------------

_OUTER, _GROUP, _INTRO = 0, 1, 2
# Words of an introduction ("At least one of the following:"), not of a group's name.
_INTRO_WORDS = re.compile(
    r"\b(?:following|one of|any of|all of|either|both|at least|at most|as follows|"
    r"such as|defined|include[sd]?|including|must|should|will|are|is|have|has|meet)\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"[.;!?]\s+[A-Z(\[]")


def _name(text: str) -> str:
    """A parent's or label's text as a path element: without its trailing colon."""
    return text.rstrip().rstrip(":").rstrip()


def _labelish(text: str) -> bool:
    return text.rstrip().endswith(":") or group_word(text.strip())


def _label(node: Node, following: Node | None) -> tuple[int, str, bool] | None:
    """(level, name, also an item) when a paragraph is a group label, else None."""
    text = node.text
    if following is None or not _labelish(text) or heading(following.text) is not None:
        return None
    name = _name(text)
    if not name:
        return None
    if _SENTENCE_BREAK.search(name):
        return (_INTRO, name, True) if following.item else None
    category = group_word(name) or (len(name.split()) <= 6 and not _INTRO_WORDS.search(name))
    if category:
        outer = name.isupper() or (not following.item and _labelish(following.text))
        return _OUTER if outer else _GROUP, name, False
    return (_INTRO, name, False) if following.item else None


def _pop_out(node: Node) -> bool:
    """A short label closing an item's text ("Cohort 2:" after item 3's sub-list) names the
    group of the items after that item."""
    name = _name(node.text)
    return _labelish(node.text) and 0 < len(name.split()) <= 6 and not _INTRO_WORDS.search(name)


# --- the tree ------------------------------------------------------------------------

_MAX_DEPTH = 40  # deeper nesting is read flat: no real text nests this far


class _Builder:
    def __init__(self) -> None:
        self.section: Section = "inclusion"
        self.scope: list[str] = []  # groups of "Eligibility criteria for X" headings
        self.base: list[str] = []  # the heading's groups
        self.epoch = 0  # counts headings: each one ends every open label
        self.out: list[Criterion] = []

    def emit(self, path: list[str], text: str) -> None:
        if text:
            # Built unchecked: parse_criteria checks the texts once (see storable_criteria).
            path = [*self.scope, *self.base, *path]
            self.out.append(
                unchecked(Criterion, {"section": self.section, "path": path, "text": text})
            )

    def heading(self, h: Heading) -> None:
        if h.kind == "neutral" and not h.groups:
            return  # "Eligibility Criteria:" names neither section nor group
        # A qualified neutral heading starts its group the way a text starts: inclusion.
        self.section = "inclusion" if h.kind == "neutral" else h.kind
        if h.scope:
            self.scope, self.base = list(h.groups), []
        else:
            self.base = list(h.groups)
        self.epoch += 1

    def walk(self, nodes: list[Node], prefix: list[str], depth: int = 0) -> str | None:
        """Emit the criteria of one level; returns a label that closes the level."""
        labels: list[tuple[int, str]] = []
        epoch = self.epoch
        for i, node in enumerate(nodes):
            if self.epoch != epoch:
                labels, epoch = [], self.epoch
            if labels and not node.item:
                labels = [lb for lb in labels if lb[0] < _INTRO]  # an introduced list ended
            h = heading(node.text)
            if h is not None and (not node.item or h.rest is None):
                self.heading(h)
                labels, epoch = [], self.epoch
                if h.rest:
                    self.emit(prefix, h.rest)
                self.walk(node.children, prefix, depth + 1)
                continue
            path = prefix + [name for _, name in labels] if labels else prefix  # never changed
            if not node.item:
                following = nodes[i + 1] if i + 1 < len(nodes) else None
                label = _label(node, following)
                if label is not None:
                    level, name, also_item = label
                    if also_item:
                        self.emit(path, node.text)
                    labels = [lb for lb in labels if lb[0] < level] + [(level, name)]
                elif following is None and depth > 0 and _pop_out(node):
                    return _name(node.text)
                else:
                    self.emit(path, node.text)
                continue
            text, children = _join_paragraphs(node) if node.children else (node.text, [])
            if text:
                self.emit(path, text)
                if children:
                    path = path + [_name(text)]
            if depth >= _MAX_DEPTH:
                children = _flatten(children)
            closing = self.walk(children, path, depth + 1) if children else None
            if closing is not None:
                labels = [lb for lb in labels if lb[0] < _GROUP] + [(_GROUP, closing)]
        return None


def _join_paragraphs(node: Node) -> tuple[str, list[Node]]:
    """An item's text with the plain paragraphs right after it (its second paragraph)."""
    rest = node.children
    joined = 0
    while joined < len(rest) and _second_paragraph(rest[joined]):
        joined += 1
    if not joined:
        return node.text, list(rest)
    return clean(" ".join([node.text, *(p.text for p in rest[:joined])])), rest[joined:]


def _second_paragraph(node: Node) -> bool:
    return not node.item and not _labelish(node.text) and heading(node.text) is None


def _flatten(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        out.append(Node(node.text, node.item))
        stack.extend(reversed(node.children))
    return out


# --- which rendering ---------------------------------------------------------------


def read_outline(text: str, rendering: Rendering = "auto", *, fast: bool = True) -> list[Node]:
    """The outline of a criteria text. "auto": HTML when it has block tags; markdown when
    it has Markdown escapes or "* " bullets (API v2) and no indented code blocks, which
    would mean deep plain-text indentation; otherwise plain text (the classic layout).

    Markdown of the common shapes is read line by line (criteria_fast.py), anything else
    with markdown-it; `fast=False` reads all of it with markdown-it (the reference)."""
    if rendering == "html" or (rendering == "auto" and block_tags(text)):
        return html_nodes(text, heading_test)
    if rendering == "markdown" or (rendering == "auto" and looks_like_markdown(text)):
        source = markdown_source(text)
        if fast and (outline := fast_markdown_nodes(source, heading_test)) is not None:
            return outline
        tokens = markdown_tokens(source)
        code = any(t.type in ("code_block", "fence") for t in tokens)
        if rendering == "markdown" or not code:
            return markdown_nodes(source, heading_test, tokens)
    return read_lines(plain_lines(text), heading_test)


def parse_criteria(
    text: str | None, rendering: Rendering = "auto", *, fast: bool = True
) -> list[Criterion]:
    """The criteria tree of a text, as a flat list in source order, each with its path.

    `rendering` forces a reader ("markdown", "html", "plain"); "auto" tells them apart.
    Any text gives a list, possibly empty. `fast=False`: see read_outline.
    """
    if text is None or not text.strip():
        return []
    try:
        outline = read_outline(text, rendering, fast=fast)
    except RecursionError:  # absurdly deep HTML: read its words as plain text
        outline = read_outline(re.sub(r"<[^>]*>", "\n", text), "plain")
    builder = _Builder()
    builder.walk(outline, [])
    if not storable_criteria(builder.out):
        # Validated one by one: the first text a record cannot hold raises, as it always has.
        return [Criterion(section=c.section, path=c.path, text=c.text) for c in builder.out]
    return builder.out


def storable_criteria(criteria: list[Criterion]) -> bool:
    """Whether every text of the criteria passes record.Text's checks, so models built
    unchecked (model_construct) equal validated ones."""
    return storable("".join([t for c in criteria for t in (c.text, *c.path)]))
