"""Criteria compared within their groups: moves between groups and sections are reported as
moves, renamed group headings as renames, and every edit is graded."""

from __future__ import annotations

from trialwatch.diffing import compare
from trialwatch.diffing.render import details
from trialwatch.record import Criterion, Eligibility, TrialRecord


def _record(*items: tuple[str, list[str], str]) -> TrialRecord:
    criteria = [Criterion(section=s, path=p, text=t) for s, p, t in items]  # type: ignore[arg-type]
    return TrialRecord(
        nct_id="NCT04267848",
        source="ctgov",
        eligibility=Eligibility(text="(parsed)", criteria=criteria),
    )


def _edits(old: TrialRecord, new: TrialRecord) -> list[tuple[str, str, str]]:
    [change] = compare(old, new)
    assert change.kind == "eligibility_criteria"
    return [(e["op"], e["grade"], e["reason"]) for e in change.detail["items"]]


A, B = ["Cohort A"], ["Cohort B"]


def test_swapping_items_between_cohorts_is_two_moves() -> None:
    old = _record(("inclusion", A, "ECOG 0-1"), ("inclusion", B, "ECOG 0-2"))
    new = _record(("inclusion", A, "ECOG 0-2"), ("inclusion", B, "ECOG 0-1"))
    assert _edits(old, new) == [
        ("moved", "major", "moved from 'inclusion / Cohort A' to 'inclusion / Cohort B'"),
        ("moved", "major", "moved from 'inclusion / Cohort B' to 'inclusion / Cohort A'"),
    ]


def test_item_moved_from_inclusion_to_exclusion() -> None:
    old = _record(("inclusion", [], "Prior radiotherapy"), ("inclusion", [], "Age >= 18"))
    new = _record(("inclusion", [], "Age >= 18"), ("exclusion", [], "Prior radiotherapy"))
    assert _edits(old, new) == [("moved", "major", "moved from inclusion to exclusion")]
    [change] = compare(old, new)
    # The per-section summary shows it leaving one section and entering the other.
    assert change.detail["inclusion"]["removed"] == ["Prior radiotherapy"]
    assert change.detail["exclusion"]["added"] == ["Prior radiotherapy"]
    assert details(change) == ["> moved inclusion \u2192 exclusion: Prior radiotherapy [major]"]


def test_renamed_group_keeps_its_items() -> None:
    old = _record(("inclusion", A, "ECOG 0-1"), ("inclusion", A, "Measurable disease"))
    new = _record(
        ("inclusion", ["Cohort A (dose escalation)"], "ECOG 0-1"),
        ("inclusion", ["Cohort A (dose escalation)"], "Measurable disease"),
    )
    assert _edits(old, new) == [
        ("renamed", "minor", "group heading: detail added (dose escalation)")
    ]


def test_reworded_within_a_group_is_graded_by_its_words() -> None:
    old = _record(("inclusion", A, "ECOG 0-1"), ("inclusion", B, "ECOG 0-1"))
    new = _record(("inclusion", A, "ECOG 0-1"), ("inclusion", B, "ECOG 0-2"))
    assert _edits(old, new) == [("changed", "major", "inclusion item: number changed (1 \u2192 2)")]
    [change] = compare(old, new)
    [edit] = change.detail["items"]
    assert (edit["op"], edit["path"]) == ("changed", ["Cohort B"])


def test_the_same_text_in_two_groups_removed_from_one() -> None:
    old = _record(("inclusion", A, "Pregnancy"), ("inclusion", B, "Pregnancy"))
    new = _record(("inclusion", A, "Pregnancy"))
    [change] = compare(old, new)
    [edit] = change.detail["items"]
    assert (edit["op"], edit["path"], edit["grade"]) == ("removed", ["Cohort B"], "major")


def test_case_only_rewording_is_editorial() -> None:
    old = _record(("exclusion", [], "Known HIV infection"))
    new = _record(("exclusion", [], "known HIV infection"))
    assert _edits(old, new) == [("changed", "editorial", "exclusion item: case only")]
