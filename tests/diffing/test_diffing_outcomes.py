"""Outcomes as items: matched on measure and time frame, moves between primary and
secondary, formatting ignored, each edit graded. Edits of a real record (NCT03475563, whose
primary outcomes hold "MACE" twice: at 30 days and at 1 year)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from diffing_support import V2_SMALL, kinds, load_study, parse_v2

from trialwatch.diffing import Change, compare, details, record_hash

Study = dict[str, Any]


def _changes(edit: Callable[[dict[str, Any]], None]) -> list[Change]:
    study = load_study(V2_SMALL)
    old = parse_v2(study)
    edit(study["protocolSection"]["outcomesModule"])
    return compare(old, parse_v2(study))


def _ops(change: Change) -> list[tuple[str, str]]:
    return [(e["op"], e["grade"]) for e in change.detail["items"]]


def test_secondary_outcome_promoted_is_one_primary_change() -> None:
    def edit(m: dict[str, Any]) -> None:
        m["primaryOutcomes"].append(m["secondaryOutcomes"].pop(0))

    [change] = _changes(edit)
    assert change.kind == "primary_outcome" and change.grade == "major"
    assert [o["measure"] for o in change.detail["promoted"]] == ["Target vessel revascularization"]
    assert change.detail["added"] == [] and change.detail["demoted"] == []
    assert change.detail["reason"] == "moved from secondary to primary"
    assert details(change) == ["^ promoted to primary: Target vessel revascularization [major]"]


def test_primary_outcome_demoted_and_reworded() -> None:
    def edit(m: dict[str, Any]) -> None:
        moved = m["primaryOutcomes"].pop(0)
        moved["measure"] = "Successful angioplasty (TIMI 3 flow)"
        m["secondaryOutcomes"].append(moved)

    [change] = _changes(edit)
    assert kinds([change]) == ["primary_outcome"]
    assert _ops(change) == [("demoted", "major")]
    assert change.detail["reason"] == "moved from primary to secondary, reworded"


def test_same_measure_pairs_by_time_frame() -> None:
    """Only the 1-year MACE description changes: it pairs with the 1-year outcome, not the
    30-day one that comes first."""

    def edit(m: dict[str, Any]) -> None:
        late = m["primaryOutcomes"][2]
        assert (late["measure"], late["timeFrame"]) == ("MACE", "1 year")
        late["description"] += " death"

    [change] = _changes(edit)
    [(old, new)] = change.detail["changed"]
    assert (old["time_frame"], new["time_frame"]) == ("1 year", "1 year")
    assert change.detail["added"] == change.detail["removed"] == []
    assert (change.grade, change.detail["reason"]) == ("minor", "description: detail added (death)")


def test_time_frames_swapped_between_twins_is_no_change() -> None:
    def edit(m: dict[str, Any]) -> None:
        m["primaryOutcomes"][1], m["primaryOutcomes"][2] = (
            m["primaryOutcomes"][2],
            m["primaryOutcomes"][1],
        )

    assert _changes(edit) == []


@pytest.mark.parametrize(
    "measure",
    ["- Successful angioplasty", "1. Successful angioplasty", "* Successful angioplasty"],
)
def test_list_markers_are_formatting(measure: str) -> None:
    study = load_study(V2_SMALL)
    old = parse_v2(study)
    study["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]["measure"] = measure
    new = parse_v2(study)
    assert compare(old, new) == []
    assert record_hash(old) == record_hash(new)


@pytest.mark.parametrize(
    ("field", "value", "grade", "reason"),
    [
        ("timeFrame", "7 days", "major", "time frame: time point changed (day 1 \u2192 day 7)"),
        ("timeFrame", "1 d", "editorial", "spelling, punctuation or abbreviation only"),
        ("measure", "successful angioplasty", "editorial", "case only"),
        ("measure", "Successful coronary angioplasty", "minor", "detail added (coronary)"),
        ("measure", "Failed angioplasty", "major", "wording replaced"),
    ],
)
def test_reworded_outcome_grades(field: str, value: str, grade: str, reason: str) -> None:
    def edit(m: dict[str, Any]) -> None:
        m["primaryOutcomes"][0][field] = value

    [change] = _changes(edit)
    assert _ops(change) == [("changed", grade)]
    assert change.grade == grade and reason in change.detail["reason"]


def test_text_moved_between_fields_is_editorial() -> None:
    def edit(m: dict[str, Any]) -> None:
        first = m["primaryOutcomes"][0]
        first["measure"] = f"{first['measure']} {first.pop('description')}"

    [change] = _changes(edit)
    assert (change.grade, change.detail["reason"]) == (
        "editorial",
        "outcome: the same text moved between its fields",
    )


def test_outcome_added_and_removed_are_major() -> None:
    def edit(m: dict[str, Any]) -> None:
        m["secondaryOutcomes"].pop()
        m["secondaryOutcomes"].append({"measure": "Contrast nephropathy", "timeFrame": "3 days"})

    [change] = _changes(edit)
    assert sorted(_ops(change)) == [("added", "major"), ("removed", "major")]
