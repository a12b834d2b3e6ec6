"""Compare primary and secondary outcomes as items, matched on measure and time frame.

Matching, in order:

1. identical outcomes in the same list: no change;
2. an outcome that left one list and appears in the other (the same text, or the same
   measure and time frame): promoted (secondary -> primary) or demoted (primary ->
   secondary), reported on the ``primary_outcome`` change only;
3. within a list: the same measure and time frame, then the same measure with the nearest
   time frame, then the most similar whole outcome: reworded;
4. across lists, near-identical outcomes: promoted or demoted and reworded;
5. the rest: added or removed.

Grades: added, removed, promoted, demoted are major. A reworded outcome takes the highest
grade of its fields (``grade_text``), except that a description reworded without any number,
unit or threshold changing is minor: descriptions restate the measure. The same words moved
between measure, time frame and description are editorial.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from trialwatch.diffing.criteria import folded
from trialwatch.diffing.grading import (
    EDITORIAL,
    FILLER,
    MAJOR,
    MINOR,
    grade_text,
    same_meaning,
    tokens,
    word_edits,
)
from trialwatch.diffing.items import DEFAULT_THRESHOLD, similarity
from trialwatch.diffing.regroup import regrouped
from trialwatch.diffing.statements import (
    FIELDS,
    TIME_UNITS,
    Point,
    Statement,
    describe,
    exact_terms,
    statement,
    without_boilerplate,
)

Outcome = dict[str, Any]
MOVE_THRESHOLD = 0.85


def _id(o: Outcome) -> str:
    return json.dumps(o, sort_keys=True, ensure_ascii=False)


def _whole(o: Outcome) -> str:
    return " ".join(o.get(k) or "" for k in FIELDS)


def _key(o: Outcome) -> tuple[str, str]:
    return folded(without_boilerplate(o.get("measure"))), folded(o.get("time_frame") or "")


def _drop_same(old: list[Outcome], new: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    """Both lists without the outcomes they share (as a multiset: order never matters)."""
    common = Counter(map(_id, old)) & Counter(map(_id, new))

    def rest(items: list[Outcome]) -> list[Outcome]:
        left = Counter(common)
        kept = []
        for o in items:
            if left[_id(o)] > 0:
                left[_id(o)] -= 1
            else:
                kept.append(o)
        return kept

    return rest(old), rest(new)


def _pair(
    old: list[Outcome], new: list[Outcome], score: Any, threshold: float
) -> list[tuple[Outcome, Outcome]]:
    """Pairs best-first by ``score(a, b)`` (None: never), removing them from both lists."""
    scored = []
    for i, a in enumerate(old):
        for j, b in enumerate(new):
            s = score(a, b)
            if s is not None and s >= threshold:
                scored.append((-s, i, j))
    used_i: set[int] = set()
    used_j: set[int] = set()
    pairs = []
    for _, i, j in sorted(scored):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((old[i], new[j]))
    old[:] = [a for i, a in enumerate(old) if i not in used_i]
    new[:] = [b for j, b in enumerate(new) if j not in used_j]
    return pairs


def _same_outcome(a: Outcome, b: Outcome) -> float | None:
    if same_meaning(_whole(a), _whole(b)) or _key(a) == _key(b):
        return 1.0
    return None


def _same_measure(a: Outcome, b: Outcome) -> float | None:
    if _key(a) == _key(b):
        return 2.0
    if _key(a)[0] == _key(b)[0]:
        return 1.0 + similarity(_key(a)[1], _key(b)[1])
    return None


def _alike(a: Outcome, b: Outcome) -> float:
    """How alike two outcomes read; a measure whose words all stay in the other's measure
    ("Mortality" -> "Mortality (number of participants)") is the same outcome, detailed."""
    words_a = set(tokens(without_boilerplate(a.get("measure"))))
    words_b = set(tokens(without_boilerplate(b.get("measure"))))
    if words_a and words_b and (words_a <= words_b or words_b <= words_a):
        return max(0.9, similarity(folded(_whole(a)), folded(_whole(b))))
    # Scores under the lowest pairing threshold are never used: a cheap bound will do there.
    whole = similarity(folded(_whole(a)), folded(_whole(b)), DEFAULT_THRESHOLD)
    # A measure that reads nearly the same is the same outcome, whatever its other fields say.
    measure = similarity(" ".join(sorted(words_a)), " ".join(sorted(words_b)), DEFAULT_THRESHOLD)
    return max(whole, measure - 0.1)


def grade_outcome(before: Outcome, after: Outcome) -> tuple[str, str]:
    """(grade, reason) for one outcome reworded, read as one statement (``statements``)."""
    if all(same_meaning(before.get(k), after.get(k)) for k in FIELDS):
        return grade_text(_whole(before), _whole(after), "outcome")
    old, new = statement(before), statement(after)
    what = _field_named(before, after)
    words_old, words_new = old.words, new.words
    stated = None
    if old.points != new.points:
        if _timed(old.points) or not old.points <= new.points:
            return MAJOR, f"{what}: {_points_reason(old.points, new.points)}"
        gained = Counter(words_new) - Counter(words_old)
        if gained and not _timed(new.points) and not (Counter(words_old) - Counter(words_new)):
            # A definition added ("defined as > 35 mg albumin/g creatinine"): nothing lost.
            return MINOR, f"{what}: detail added ({' '.join(sorted(gained.elements())[:8])})"
        # No time was said before: one is stated now, as a date stated where there was none.
        stated = f"{what}: time point stated ({describe(_timed(new.points))})"
    exact = exact_terms(words_old, words_new)
    if exact:
        return MAJOR, f"{what}: {exact}"
    if Counter(words_old) == Counter(words_new):
        return (MINOR, stated) if stated else (EDITORIAL, _restated(before, after, old))
    grade, reason = word_edits(words_old, words_new, what)
    if grade == MAJOR and _only_description(old, new):
        grade, reason = MINOR, "description reworded"
    if stated and grade != MAJOR:
        return MINOR, stated if grade == EDITORIAL else f"{stated}; {reason}"
    return grade, reason


def _timed(points: frozenset[Point]) -> frozenset[Point]:
    return frozenset(p for p in points if p[1] in TIME_UNITS)


def _restated(before: Outcome, after: Outcome, old: Statement) -> str:
    """Why two outcomes with the same points and words read the same."""

    def kept(o: Outcome) -> Counter[str]:
        return Counter(w for w in tokens(_whole(o)) if w not in FILLER)

    if len(_changed(before, after)) > 1 and kept(before) == kept(after):
        return "outcome: the same text moved between its fields"
    said = []
    for name in ("measure", "description"):
        a, b = before.get(name), after.get(name)
        if not same_meaning(a, b):
            cut = same_meaning(without_boilerplate(a), without_boilerplate(b))
            how = "boilerplate dropped or added" if cut else "time restated"
            said.append(f"{how} in the {name}")
    if not same_meaning(before.get("time_frame"), after.get("time_frame")):
        said.append(f"time frame restated (the same time points: {describe(_timed(old.points))})")
    return "outcome: " + ", ".join(said or ["the same words"])


def _changed(before: Outcome, after: Outcome) -> list[str]:
    return [k for k in FIELDS if not same_meaning(before.get(k), after.get(k))]


def _field_named(before: Outcome, after: Outcome) -> str:
    """The one field that changed ("time frame"), or "outcome" when several did."""
    changed = _changed(before, after)
    return changed[0].replace("_", " ") if len(changed) == 1 else "outcome"


def _points_reason(old: frozenset[Point], new: frozenset[Point]) -> str:
    timed = any(unit in TIME_UNITS for _, unit in old | new)
    what = "time point" if timed else "number"
    return f"{what} changed ({describe(old - new)} \u2192 {describe(new - old)})"


def _only_description(old: Statement, new: Statement) -> bool:
    """The measure and time frame lost no word (they may have gained some): only the
    description was reworded, and descriptions restate the measure."""
    core_old = Counter(old.fields[0] + old.fields[1])
    core_new = Counter(new.fields[0] + new.fields[1])
    return not (core_old - core_new)


def _edit(
    op: str, before: Outcome | None, after: Outcome | None, grade: str, reason: str
) -> dict[str, Any]:
    return {"op": op, "before": before, "after": after, "grade": grade, "reason": reason}


def compare_outcomes(
    old_primary: list[Outcome],
    old_secondary: list[Outcome],
    new_primary: list[Outcome],
    new_secondary: list[Outcome],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(edits for primary_outcome, edits for secondary_outcome)."""
    op, np_ = _drop_same(old_primary, new_primary)
    os_, ns = _drop_same(old_secondary, new_secondary)
    primary: list[dict[str, Any]] = []
    secondary: list[dict[str, Any]] = []

    def moved(pairs: list[tuple[Outcome, Outcome]], way: str) -> None:
        for a, b in pairs:
            reason = (
                "moved from secondary to primary"
                if way == "promoted"
                else "moved from primary to secondary"
            )
            if a != b:
                reason += ", reworded"
            primary.append(_edit(way, a, b, MAJOR, reason))

    moved(_pair(os_, np_, _same_outcome, 1.0), "promoted")
    moved(_pair(op, ns, _same_outcome, 1.0), "demoted")
    for old, new, out in ((op, np_, primary), (os_, ns, secondary)):
        regroups = regrouped(old, new)
        pairs = _pair(old, new, _same_measure, 1.0)
        pairs += _pair(old, new, _alike, DEFAULT_THRESHOLD)
        for a, b in pairs:
            out.append(_edit("changed", a, b, *grade_outcome(a, b)))
        out += regroups
    moved(_pair(os_, np_, _alike, MOVE_THRESHOLD), "promoted")
    moved(_pair(op, ns, _alike, MOVE_THRESHOLD), "demoted")
    for old, new, out, label in ((op, np_, primary, "primary"), (os_, ns, secondary, "secondary")):
        out += [_edit("added", None, b, MAJOR, f"{label} outcome added") for b in new]
        out += [_edit("removed", a, None, MAJOR, f"{label} outcome removed") for a in old]
    return primary, secondary
