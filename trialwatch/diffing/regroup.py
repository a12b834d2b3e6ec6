"""Outcomes split or merged: one outcome listing several measures ("response rate, death rate
and progression-free survival") becomes one outcome per measure, or several become one.

Item by item that reads as outcomes removed and added (major), though nothing may have
changed but the grouping. So before outcomes are paired by similarity, each outcome left
without a partner is tried as the whole of several outcomes on the other side: a part is an
outcome whose measure's words all but stand in the whole, and the parts together cover most of
the whole's measure. The regrouping is then graded by what changed between the whole and its
parts read together (``statements``): its time points, its exact terms, its words.
"""

from __future__ import annotations

from typing import Any

from trialwatch.diffing.grading import EDITORIAL, MAJOR, MINOR
from trialwatch.diffing.statements import Statement, describe, exact_terms, statement

Outcome = dict[str, Any]
# A part's measure words found in the whole, and the whole's measure words the parts cover.
PART_SHARE = 0.6
COVER_SHARE = 0.6


def _words(words: tuple[str, ...] | list[str], s: Statement) -> set[str]:
    content = s.content()
    return {w for w in words if w in content}


def _parts(whole: Outcome, others: list[Outcome]) -> list[Outcome]:
    """The outcomes of ``others`` that together restate ``whole``, or [] when they don't."""
    s = statement(whole)
    everything, measure = s.content(), _words(s.fields[0], s)
    if not measure:
        return []
    parts, covered = [], set()
    for other in others:
        t = statement(other)
        own = _words(t.fields[0], t)
        if not own or len(own & everything) / len(own) < PART_SHARE:
            continue
        # A part says less than the whole: fewer measure words or fewer time points.
        if measure <= own and s.points <= t.points:
            continue
        parts.append(other)
        covered |= own & measure
    if len(parts) < 2 or len(covered) / len(measure) < COVER_SHARE:
        return []
    return parts


def regrouped(old: list[Outcome], new: list[Outcome]) -> list[dict[str, Any]]:
    """Split and merge edits between ``old`` and ``new``; what they use leaves both lists."""
    edits = []
    for wholes, others, op in ((old, new, "split"), (new, old, "merged")):
        for whole in list(wholes):
            if whole not in wholes:
                continue
            parts = _parts(whole, others)
            if not parts:
                continue
            wholes.remove(whole)
            for part in parts:
                others.remove(part)
            grade, reason = _grade(whole, parts, op)
            before, after = (whole, parts) if op == "split" else (parts, whole)
            edits.append(
                {"op": op, "before": before, "after": after, "grade": grade, "reason": reason}
            )
    return edits


def _grade(whole: Outcome, parts: list[Outcome], op: str) -> tuple[str, str]:
    """(grade, reason) of one outcome split into ``parts`` (or ``parts`` merged into it)."""
    n = len(parts)
    what = f"split into {n} outcomes" if op == "split" else f"{n} outcomes merged into one"
    s = statement(whole)
    read = [statement(p) for p in parts]
    points = frozenset().union(*(t.points for t in read))
    # Read as "before -> after" whichever way the regrouping went.
    (old_points, old_words), (new_points, new_words) = (
        ((s.points, s.content()), (points, set().union(*(t.content() for t in read))))
        if op == "split"
        else ((points, set().union(*(t.content() for t in read))), (s.points, s.content()))
    )
    if old_points != new_points:
        gone, came = describe(old_points - new_points), describe(new_points - old_points)
        return MAJOR, f"{what}; time point changed ({gone} \u2192 {came})"
    exact = exact_terms(sorted(old_words), sorted(new_words))
    if exact:
        return MAJOR, f"{what}; {exact}"
    lost, gained = old_words - new_words, new_words - old_words
    if lost:
        return MAJOR, f"{what}; wording removed ({', '.join(sorted(lost)[:6])})"
    if gained:
        return MINOR, f"{what}; detail added ({', '.join(sorted(gained)[:6])})"
    return EDITORIAL, f"{what}, the same content"
