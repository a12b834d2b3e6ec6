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
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from trialwatch.parsers.clean import storable
from trialwatch.parsers.criteria_fast import fast_markdown_nodes
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
    CLOSES,
    HEADING,
    OPENS,
    STRONG,
    Node,
    Rendering,
    clean,
    group_word,
)
from trialwatch.record import Criterion

Section = Literal["inclusion", "exclusion"]

__all__ = ["Heading", "heading", "parse_criteria", "read_outline"]


@dataclass(frozen=True)
class Heading:
    kind: Literal["inclusion", "exclusion", "neutral"]
    groups: tuple[str, ...]  # qualifiers: ("Cohort A",)
    rest: str | None  # text after the heading's colon: an item
    scope: bool = False  # "Eligibility criteria for X": X holds over the sections after it
    strong: bool = False  # plainly a heading even inside a paragraph: no name before it


# --- headings ------------------------------------------------------------------------

_HEAD = re.compile(
    r"^(?P<pre>(?:[^\s:]+\s+){0,4}?)"
    r"(?:(?P<both>(?:inclusion\s*(?:and|&|/|or)\s*exclusion|eligibility|selection)"
    r"(?P<bcrit>\s+criteri(?:a|on))?)"
    r"|(?P<neg>non[-\s]?)?(?P<kind>inclusion|exclusion)s?(?P<crit>\s+criteri(?:a|on))?"
    r"|(?P<bare>criteria))"
    r"(?=$|[\s:(\-–—])\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CRITERIA_FOR = re.compile(r"^criteria\s+(?:for|of)\s+(inclusion|exclusion)\b", re.IGNORECASE)
# Words before "inclusion criteria" that name no group.
_PLAIN_PRE = frozenset(
    "key main major general principal other additional specific study detailed basic"
    " important select selected summary".split()
)
# Words that make the text before or after "inclusion criteria" a sentence, not a name.
_SENTENCE = frozenset(
    "is are was were be been do does did will may must should can could would not no"
    " might shall apply applies have has meet meets meeting met who which that if listed".split()
)
_PRE_STOP = _SENTENCE | frozenset(
    "the of following any all these those with for in to by and or below above".split()
)
# Qualifiers that name no group: "Inclusion criteria include:", "... are as follows:".
_NO_GROUP = re.compile(
    r"^(?:include[sd]?|including|are|is|are as follows|is as follows|as follows|"
    r"the following|listed below|below)$",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text.lower())


def _qualifier(text: str, colon: bool) -> str | None | Literal[False]:
    """A heading's qualifier text -> the group name, None (names no group), or False (the
    text is a sentence, so the line is no heading)."""
    q = re.sub(r"^[-–—]\s*", "", text.strip().rstrip(":").strip())
    if q.startswith("(") and q.endswith(")"):
        q = q[1:-1].strip()
    q = re.sub(r"^(?:for|in)\s+", "", q, flags=re.IGNORECASE).strip()
    if not q or _NO_GROUP.match(q):
        return None
    words = _words(q)
    if any(w in _SENTENCE for w in words) or q.endswith((".", ";")):
        return False
    if colon:
        return q if len(q) <= 100 and len(words) <= 15 else False
    # Without a colon only a short name: "Stage 1", "(MCI patients)", "for Part A".
    named = group_word(q) or text.lstrip()[:1] in "(-–—" or q[:1].isupper()
    named = named or q[:1].isdigit() or bool(re.match(r"(?i)for\s", text.lstrip()))
    return q if named and len(words) <= 5 else False


_TAIL = re.compile(
    r"^(?P<head>.+?)\s+(?P<tail>(?:non[-\s]?)?(?:inclusion|exclusion)s?\s+criteri(?:a|on))\s*:?$",
    re.IGNORECASE | re.DOTALL,
)
_FOR_GROUP = re.compile(
    r"^(?:eligibility|inclusion\s*(?:and|&|/)\s*exclusion)\s+criteria\s+for\s+(?P<q>.+)$",
    re.IGNORECASE | re.DOTALL,
)


# The same lines come back in every text ("Inclusion Criteria:", "Age 18 or older") and
# every node is tested more than once: the tests below are pure, so their answers for
# lines up to this length are remembered.
_CACHED_LENGTH = 200


# Every heading (and "Eligibility criteria for X") holds one of these words; most lines
# hold none. Only for ASCII: with IGNORECASE, _HEAD's "i" also matches a dotless "ı".
_HEADING_WORDS = ("clusion", "criteria", "eligibility", "selection")


def _no_heading_words(text: str) -> bool:
    if not text.isascii():
        return False
    low = text.lower()
    return not any(word in low for word in _HEADING_WORDS)


def heading(text: str) -> Heading | None:
    """The heading a (cleaned) line is, or None for any other line."""
    if _no_heading_words(text):
        return None
    return _heading_cached(text) if len(text) <= _CACHED_LENGTH else _heading(text)


def _heading(text: str) -> Heading | None:
    text = _CRITERIA_FOR.sub(r"\1 criteria", text.strip())
    # "Eligibility criteria for the secondary randomisation ... Inclusion criteria"
    if (tail := _TAIL.match(text)) and (scoped := _FOR_GROUP.match(tail["head"])):
        name = _qualifier(scoped["q"], True)
        inner = heading(tail["tail"])
        if name and inner is not None:
            return Heading(inner.kind, (name,), None, scope=True)
    m = _HEAD.match(text)
    if m is None:
        return None
    pre = m["pre"].strip().rstrip("-–—:").strip()
    pre_words = _words(pre)
    if any(w in _PRE_STOP for w in pre_words) or (m["bare"] and pre_words):
        return None
    group = pre if pre and not all(w in _PLAIN_PRE for w in pre_words) else None
    kind: Literal["inclusion", "exclusion", "neutral"] = "neutral"
    if m["kind"]:
        # French-style "non-inclusion criteria" are exclusion criteria.
        kind = "inclusion" if m["kind"].lower() == "inclusion" and not m["neg"] else "exclusion"
    has_crit = bool(m["crit"] or m["bcrit"] or m["bare"])
    rest = m["rest"].strip()
    if not has_crit and rest[:1] not in ("", ":"):
        return None  # "Inclusion of minors ...", "Laboratory Inclusion Values:"
    if not rest and not has_crit and not m["both"]:
        return None
    after: str | None = None
    named: str | None | Literal[False] = None
    if rest.startswith(":"):
        after = rest[1:].strip() or None
    elif rest[:1] in ("-", "–", "—") and ":" not in rest and not group_word(rest[1:].strip()):
        after = rest[1:].strip() or None  # "Inclusion criteria - adults with asthma"
    elif ":" in rest:
        before, _, behind = rest.partition(":")
        named, after = _qualifier(before, True), behind.strip() or None
    elif rest:
        named = _qualifier(rest, False)
    if named is False:
        return None
    groups = tuple(g for g in (group, named) if g)
    # Only a section heading with no name before it breaks a paragraph (see criteria_read):
    # a wrapped "... based on 1 of the following\n criteria:" stays one item.
    strong = kind != "neutral" and group is None
    strong = strong and (not named or rest.endswith(":") or after is not None)
    return Heading(kind, groups, after, scope=kind == "neutral" and bool(groups), strong=strong)


_heading_cached = lru_cache(maxsize=1 << 14)(_heading)


def heading_test(line: str) -> int:
    """For the line reader: HEADING | STRONG (breaks a paragraph) | CLOSES (nothing after)
    | OPENS ("Eligibility criteria for X" that a section heading on the next line ends)."""
    if _no_heading_words(line):
        return 0
    return _test_cached(line) if len(line) <= _CACHED_LENGTH else _heading_test(line)


def _heading_test(line: str) -> int:
    line = line.strip()
    scoped = _FOR_GROUP.match(line)
    opens = bool(scoped and not line.endswith(":") and _qualifier(scoped["q"], True))
    h = heading(line)
    if h is None:
        return OPENS if opens else 0
    # A named heading without a colon may go on on the next line, a wrap: "Eligibility
    # criteria for the secondary randomisation\n to once vs twice daily ... Inclusion criteria".
    closes = h.rest is None and (h.strong or not h.groups or line.endswith(":"))
    flags = HEADING | (STRONG if h.strong else 0) | (CLOSES if closes else 0)
    return flags | (OPENS if opens and not closes else 0)


_test_cached = lru_cache(maxsize=1 << 14)(_heading_test)


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
            self.out.append(
                Criterion.model_construct(
                    section=self.section, path=[*self.scope, *self.base, *path], text=text
                )
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
            following = nodes[i + 1] if i + 1 < len(nodes) else None
            if not node.item:
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
