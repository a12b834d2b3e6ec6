"""Grades of compare() against real edits labelled by a careful reader.

Every edit in tests/fixtures/grading/edits.json comes from two real versions of one trial
record (see SOURCES.md there). Each is replayed on a minimal pair of records; compare() may
see no change of the edit's kind (formatting only: "nothing") or one change, never more, and
its grade is checked against the label.

An edit "keeps the meaning" when a careful reader labels it editorial or minor. Three shares
are reported, over the whole set and over the outcome and criteria edits alone, and the test
fails when the whole set misses a target:

1. meaning-kept edits graded major: at most 15 %;
2. edits labelled major graded major: at least 95 %;
3. meaning-kept edits graded editorial or nothing: at least 25 %.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import pytest
from labelled import SOURCES, load_edits, record_pair

from trialwatch.diffing import compare
from trialwatch.kinds import GRADES, VERSION_KINDS

EDITS = load_edits()
NOTHING = "nothing"  # compare() saw formatting only: no change of the edit's kind
PREDICTED = (NOTHING, *GRADES)
KEPT = ("editorial", "minor")  # labels of edits that keep the meaning
ITEM_KINDS = ("primary_outcome", "secondary_outcome", "eligibility_criteria")

MAX_KEPT_AS_MAJOR = 0.15
MIN_MAJOR_AS_MAJOR = 0.95
MIN_KEPT_AS_EDITORIAL = 0.25
MIN_ITEM_EDITS = 300
MIN_EDITS = 400


def _change_kind(edit: dict) -> str:
    return "primary_outcome" if edit.get("field") in ("promoted", "demoted") else edit["kind"]


@cache
def _predicted_by_id(edit_id: str) -> str:
    edit = next(e for e in EDITS if e["id"] == edit_id)
    old, new = record_pair(edit)
    kind = _change_kind(edit)
    found = [c for c in compare(old, new) if c.kind == kind]
    assert len(found) <= 1, f"{edit['id']}: expected at most one {kind} change, got {len(found)}"
    return found[0].grade if found else NOTHING


def _predicted(edit: dict) -> str:
    return _predicted_by_id(edit["id"])


def _shares(edits: list[dict]) -> tuple[float | None, float | None, float | None]:
    """(meaning kept -> major, major -> major, meaning kept -> editorial or nothing)."""
    kept = [_predicted(e) for e in edits if e["grade"] in KEPT]
    major = [_predicted(e) for e in edits if e["grade"] == "major"]

    def share(hits: int, total: int) -> float | None:
        return hits / total if total else None

    return (
        share(sum(p == "major" for p in kept), len(kept)),
        share(sum(p == "major" for p in major), len(major)),
        share(sum(p in (NOTHING, "editorial") for p in kept), len(kept)),
    )


def _share_lines(title: str, edits: list[dict]) -> list[str]:
    kept_major, major_major, kept_editorial = _shares(edits)
    n_kept = sum(e["grade"] in KEPT for e in edits)
    n_major = sum(e["grade"] == "major" for e in edits)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    return [
        f"{title} ({len(edits)} edits: {n_kept} meaning kept, {n_major} major)",
        f"  1. meaning kept graded major:                {pct(kept_major):>7}"
        f"  (target <= {MAX_KEPT_AS_MAJOR:.0%})",
        f"  2. labelled major graded major:              {pct(major_major):>7}"
        f"  (target >= {MIN_MAJOR_AS_MAJOR:.0%})",
        f"  3. meaning kept graded editorial or nothing: {pct(kept_editorial):>7}"
        f"  (target >= {MIN_KEPT_AS_EDITORIAL:.0%})",
    ]


@pytest.mark.parametrize("edit", EDITS, ids=[e["id"] for e in EDITS])
def test_edit_gives_at_most_one_change_of_its_kind(edit: dict) -> None:
    assert _predicted(edit) in PREDICTED


def test_grades_meet_the_share_targets() -> None:
    table: Counter[tuple[str, str]] = Counter()
    for edit in EDITS:
        table[(edit["grade"], _predicted(edit))] += 1
    agreed = sum(n for (label, predicted), n in table.items() if label == predicted)
    lines = [f"{'label':<10}" + "".join(f"{g:>11}" for g in PREDICTED) + f"{'agree':>9}"]
    for label in GRADES:
        row = [table[(label, g)] for g in PREDICTED]
        total = sum(row)
        share = f"{table[(label, label)] / total:.0%}" if total else "-"
        lines.append(f"{label:<10}" + "".join(f"{n:>11}" for n in row) + f"{share:>9}")
    lines.append(f"overall agreement {agreed}/{len(EDITS)} = {agreed / len(EDITS):.1%}")
    items = [e for e in EDITS if e["kind"] in ITEM_KINDS]
    lines += _share_lines("whole set", EDITS)
    lines += _share_lines("outcome and criteria edits", items)
    registry = [e for e in EDITS if not e["pair"].endswith("re-rendered")]
    lines += _share_lines("registry version pairs only (re-renderings left out)", registry)
    print("\nlabel -> predicted grade\n" + "\n".join(lines))

    missed = _missed(EDITS, "the whole set") + _missed(registry, "the registry version pairs")
    assert not missed, "share targets missed: " + "; ".join(missed)


def _missed(edits: list[dict], title: str) -> list[str]:
    kept_major, major_major, kept_editorial = _shares(edits)
    missed = []
    if kept_major is not None and kept_major > MAX_KEPT_AS_MAJOR:
        missed.append(f"meaning kept graded major {kept_major:.1%} > {MAX_KEPT_AS_MAJOR:.0%}")
    if major_major is not None and major_major < MIN_MAJOR_AS_MAJOR:
        under = [
            f"{e['id']} -> {_predicted(e)}"
            for e in edits
            if e["grade"] == "major" and _predicted(e) != "major"
        ]
        missed.append(
            f"labelled major graded major {major_major:.1%} < {MIN_MAJOR_AS_MAJOR:.0%}"
            f" ({', '.join(under)})"
        )
    if kept_editorial is not None and kept_editorial < MIN_KEPT_AS_EDITORIAL:
        missed.append(
            f"meaning kept graded editorial or nothing {kept_editorial:.1%}"
            f" < {MIN_KEPT_AS_EDITORIAL:.0%}"
        )
    return [f"{title}: {m}" for m in missed]


def test_set_is_large_varied_and_real() -> None:
    items = [e for e in EDITS if e["kind"] in ITEM_KINDS]
    assert len(items) >= MIN_ITEM_EDITS, f"only {len(items)} outcome and criteria edits"
    assert len(EDITS) >= MIN_EDITS, f"only {len(EDITS)} labelled edits"
    assert {e["grade"] for e in EDITS} == set(GRADES)
    assert {e["grade"] for e in items} == set(GRADES)
    ids = [e["id"] for e in EDITS]
    assert len(ids) == len(set(ids)), "duplicate edit ids"
    sources = SOURCES.read_text(encoding="utf-8")
    named = set(re.findall(r"^\* pair: `([^`]+)`", sources, flags=re.MULTILINE))
    for edit in EDITS:
        assert edit["kind"] in VERSION_KINDS, edit["id"]
        assert edit["pair"] in named, f"{edit['id']}: pair {edit['pair']!r} not in SOURCES.md"
        assert edit["nct_id"] in edit["id"] and edit["why"].strip(), edit["id"]
        assert edit["grade"] in GRADES, edit["id"]
