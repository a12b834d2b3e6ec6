"""The eligibility criteria on a site page: the lines under its "Inclusion/Exclusion
Criteria" headings (`criteria_lines`), read with the criteria tree parser on their printed
lines, wrapped lines rejoined first (`eligibility_from_lines`), so one element or `<br>` per
printed line gives the same criteria as one element per criterion. Each line keeps its
indentation (nested lists, indented blocks, printed text), and the tree parser's line reader
nests by it and by numbering, so every markup of a page gives one criteria tree."""

from __future__ import annotations

import re
from dataclasses import replace

from trialwatch.parsers.clean import clean_text
from trialwatch.parsers.criteria import heading_test
from trialwatch.parsers.criteria_read import CLOSES, STRONG, marker
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.parsers.sitelabels import CRITERIA_HEADING, Sections, label_key
from trialwatch.parsers.sitepage import Line
from trialwatch.record import Eligibility

_GLUED_HEADING = re.compile(r"^((?:inclusion|exclusion)\s+criteria\s*:)\s*(\S.*)$", re.IGNORECASE)
_MID_HEADING = re.compile(r"\s(?=(?:inclusion|exclusion)\s+criteria\s*:)", re.IGNORECASE)
_ENUMERATOR = re.compile(r"(?:(?<=\s)|^)(\d{1,2})\.\s")


def criteria_lines(sections: Sections, stop_at: list[str] | None = None) -> list[Line]:
    """Lines from the first "Inclusion/Exclusion Criteria" heading to the next other label."""
    lines: list[Line] = []
    started = False
    stops = {label_key(text) for text in stop_at or []}
    for index, section in enumerate(sections.items):
        if section.label is None and index and started:
            break  # page chrome ("Share", a sign-up) ended the criteria
        if section.label is not None:
            is_heading = bool(CRITERIA_HEADING.match(section.heading))
            if started and not is_heading and (not stops or section.label.key in stops):
                break
            started = started or is_heading
            if started:
                lines.append(Line(section.heading, "block"))
        for line in section.lines:
            if not started and CRITERIA_HEADING.match(line.text):
                started = True
            if started:
                lines.append(line)
    return lines


def eligibility_from_lines(lines: list[Line]) -> Eligibility | None:
    """Eligibility (text + items) from criteria lines; None when there are no items.

    Wrapped lines are rejoined first (see `_printed`), so `text` is one line per criterion,
    heading or paragraph, without list markers or numbers (an `<ol>` draws its numbers, a
    text prints them), whatever the markup or its wrapping.
    """
    shown: list[str] = []
    marked: list[str] = []
    for start, indent, text in _logical_lines(_printed(lines)):
        lead = " " * min(indent, _DEEPEST)
        for i, piece in enumerate(_unglue(text)):
            shown.append(_unnumbered(piece))
            if start == "item" and i == 0:
                marked.append(f"{lead}* {piece}")
            elif start == "block" and i == 0:
                marked.extend(["", lead + piece])
            else:
                marked.append(lead + piece)
    if not shown:
        return None
    # The re-marked lines are plain text: a page's "> 18 years" is no markdown quote.
    eligibility = eligibility_from_text("\n".join(marked), "plain", shown="\n".join(shown))
    return eligibility if eligibility is not None and eligibility.criteria else None


def _printed(lines: list[Line]) -> list[Line]:
    """The lines as printed lines: "block" only where the page shows a blank line.

    A page printing one element per line makes every line a paragraph; it shows itself by
    paragraphs that go on with a line a hard wrap cut (`_continues`). Where it prints blank
    lines as empty paragraphs (`gap`), those are the paragraph breaks; where it prints none
    (and two or more lines run on), every line that starts no item runs on from the one
    before. A page with one paragraph per criterion keeps its paragraphs, a stray empty one
    or not.
    """
    pairs = zip(lines, lines[1:], strict=False)
    wraps = sum(
        1 for a, b in pairs if b.start == "block" and not b.gap and _continues(a.text, b.text)
    )
    if wraps and any(line.gap for line in lines):
        return [
            line if line.start == "item" else replace(line, start="block" if line.gap else "line")
            for line in lines
        ]
    if wraps >= 2:
        return [replace(line, start="line") if line.start == "block" else line for line in lines]
    return lines


_SENTENCE_END = (".", ";", ":", "!", "?")
# Columns of indentation kept: 40 levels, as deep as the criteria tree nests (deeper reads
# flat there); more would make a deeply nested page's text grow with the square of its size.
_DEEPEST = 160
# Characters past which lines joined are no bare heading: a heading's qualifier is at most
# 100 (criteria._qualifier), its words before and after it a few.
_HEADING_MAX = 400


def _continues(before: str, text: str) -> bool:
    """`text` goes on with the line before it, which a hard wrap cut: that line is long and
    ends no sentence, and this one starts with a small letter ("mofetil or rituximab) ...")."""
    return len(before) >= 50 and not before.endswith(_SENTENCE_END) and text[:1].islower()


def _logical_lines(lines: list[Line]) -> list[tuple[str, int, str]]:
    """(start, indent, text) with each wrapped line joined to the line it continues: a "line", or a
    paragraph that continues a cut line (a blank line inside a criterion). A line that
    opens with a list marker or a heading, or follows a bare heading, is left to the
    criteria reader."""
    out: list[tuple[str, int, list[str]]] = []  # each line's start, indent and its pieces
    size = 0  # characters of the last line so far
    bare = False  # the last line so far is a heading with nothing after it
    before = ""
    for line in lines:
        kind = heading_test(line.text)
        own = marker(line.text) is not None or kind & STRONG
        runs_on = line.start == "line" or (line.start == "block" and _continues(before, line.text))
        if out and runs_on and not own and not bare:
            out[-1][2].append(line.text)
            size += 1 + len(line.text)
            # A joined line long past any heading is none: not tested again as it grows.
            bare = size <= _HEADING_MAX and bool(heading_test(" ".join(out[-1][2])) & CLOSES)
        else:
            out.append((line.start, line.indent, [line.text]))
            size, bare = len(line.text), bool(kind & CLOSES)
        before = line.text
    return [(start, indent, " ".join(pieces)) for start, indent, pieces in out]


def _unnumbered(piece: str) -> str:
    """A shown line without its list marker ("1.", "- 1.", "a)"): an `<ol>` shows the same
    criterion with its number drawn by the browser, not in the text."""
    for _ in range(2):  # "- 1. Age": a bullet, then a number
        m = marker(piece)
        if m is None or m.weak or len(piece) <= m.width:
            break
        piece = piece[m.width :]
    return piece


def _unglue(text: str) -> list[str]:
    """Split what a layout ran together: a heading glued to its first item, a heading in
    mid-line, and a run of numbered items on one line ("1. ... 2. ... 3. ...")."""
    pieces: list[str] = []
    for part in _MID_HEADING.split(text):
        m = _GLUED_HEADING.match(part)
        if m:
            pieces.append(m[1])
            part = m[2]
        pieces.extend(_split_numbered_run(part))
    return [p for p in (clean_text(p) for p in pieces) if p]


def _split_numbered_run(text: str) -> list[str]:
    """Cut before each enumerator of a 1, 2, 3, ... run (at least three long)."""
    cuts: list[int] = []
    expected = 1
    for m in _ENUMERATOR.finditer(text):
        if int(m[1]) == expected:
            cuts.append(m.start())
            expected += 1
    if len(cuts) < 3:
        return [text]
    bounds = [0, *cuts, len(text)] if cuts[0] else [*cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
