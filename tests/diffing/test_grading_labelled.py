"""Grades of compare() against real edits labelled by a careful reader.

Every edit in tests/fixtures/grading/edits.json comes from two real versions of one trial
record (see SOURCES.md there). Each is replayed on a minimal pair of records; compare() must
see exactly one change of the edit's kind, and its grade is checked against the label.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from labelled import SOURCES, load_edits, record_pair

from trialwatch.diffing import compare
from trialwatch.kinds import GRADES, VERSION_KINDS, grade_rank

EDITS = load_edits()
MIN_AGREEMENT = 0.90


def _change_kind(edit: dict) -> str:
    return "primary_outcome" if edit.get("field") in ("promoted", "demoted") else edit["kind"]


def _predicted(edit: dict) -> str:
    old, new = record_pair(edit)
    kind = _change_kind(edit)
    found = [c for c in compare(old, new) if c.kind == kind]
    assert len(found) == 1, f"{edit['id']}: expected one {kind} change, got {len(found)}"
    return found[0].grade


@pytest.mark.parametrize("edit", EDITS, ids=[e["id"] for e in EDITS])
def test_edit_gives_one_change_of_its_kind(edit: dict) -> None:
    assert _predicted(edit) in GRADES


def test_grades_agree_with_labels() -> None:
    table: Counter[tuple[str, str]] = Counter()
    under_major = []
    for edit in EDITS:
        predicted = _predicted(edit)
        table[(edit["grade"], predicted)] += 1
        if edit["grade"] == "major" and grade_rank(predicted) < grade_rank("major"):
            under_major.append(f"{edit['id']} -> {predicted}")
    agreed = sum(n for (label, predicted), n in table.items() if label == predicted)
    agreement = agreed / len(EDITS)
    lines = [f"{'label':<10}" + "".join(f"{g:>11}" for g in GRADES) + f"{'agree':>9}"]
    for label in GRADES:
        row = [table[(label, g)] for g in GRADES]
        total = sum(row)
        share = f"{table[(label, label)] / total:.0%}" if total else "-"
        lines.append(f"{label:<10}" + "".join(f"{n:>11}" for n in row) + f"{share:>9}")
    lines.append(f"overall agreement {agreed}/{len(EDITS)} = {agreement:.1%}")
    print("\nlabel -> predicted grade\n" + "\n".join(lines))
    assert not under_major, "edits labelled major graded lower: " + ", ".join(under_major)
    assert agreement >= MIN_AGREEMENT, f"agreement {agreement:.1%} < {MIN_AGREEMENT:.0%}"


def test_set_is_large_varied_and_real() -> None:
    assert len(EDITS) >= 100, f"only {len(EDITS)} labelled edits"
    assert {e["grade"] for e in EDITS} == set(GRADES)
    ids = [e["id"] for e in EDITS]
    assert len(ids) == len(set(ids)), "duplicate edit ids"
    sources = SOURCES.read_text(encoding="utf-8")
    named = set(re.findall(r"^\* pair: `([^`]+)`", sources, flags=re.MULTILINE))
    for edit in EDITS:
        assert edit["kind"] in VERSION_KINDS, edit["id"]
        assert edit["pair"] in named, f"{edit['id']}: pair {edit['pair']!r} not in SOURCES.md"
        assert edit["nct_id"] in edit["id"] and edit["why"].strip(), edit["id"]
