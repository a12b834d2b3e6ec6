"""Criteria text in any of its renderings -> one outline of list items and paragraphs.

The same criteria reach us as API v2 markdown, as record-history HTML and as the classic
XML plain text. Each reader turns its rendering into the same `Node` outline, so what is
layout (bullets, numbering, wrapping, indentation, entities, escapes) never reaches the
tree built from it (criteria.py):

- plain text: the line reader (criteria_lines.py), with indentation and numbering giving
  nesting;
- markdown and HTML: criteria_markup.py, whose readers hand each paragraph's lines to the
  line reader.

This module holds what they share: the text cleaners, list markers and group names.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
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
