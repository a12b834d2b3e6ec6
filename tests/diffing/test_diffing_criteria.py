"""compare() on eligibility criteria: item-level, a reworded item is one changed pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffing_support import V2_COMPLEX, V2_SMALL, kinds, load_study, parse_v2, ungraded

from trialwatch.diffing import Change, compare

Study = dict[str, Any]


def _edited(edit: Callable[[Study], None], fixture: str = V2_SMALL) -> list[Change]:
    """Changes from the real record to the same record with one edit of its raw JSON."""
    study = load_study(fixture)
    old = parse_v2(study)
    edit(study["protocolSection"])
    return compare(old, parse_v2(study))


def _reword(old: str, new: str) -> Callable[[Study], None]:
    def edit(ps: Study) -> None:
        module = ps["eligibilityModule"]
        assert old in module["eligibilityCriteria"]
        module["eligibilityCriteria"] = module["eligibilityCriteria"].replace(old, new)

    return edit


def test_rewording_one_criterion_is_one_changed_pair() -> None:
    graded = _edited(_reword("Age over 18 years.", "Age over 21 years."))
    assert graded[0].grade == "major"
    assert graded[0].detail["reason"] == "inclusion item: number changed (18 \u2192 21)"
    changes = ungraded(graded)
    assert changes == [
        Change(
            "eligibility_criteria",
            changes[0].before,
            changes[0].after,
            {
                "inclusion": {
                    "added": [],
                    "removed": [],
                    "changed": [["Age over 18 years.", "Age over 21 years."]],
                },
                "exclusion": {"added": [], "removed": [], "changed": []},
            },
        )
    ]
    assert changes[0].before["inclusion"][0] == "Age over 18 years."
    assert changes[0].after["inclusion"][0] == "Age over 21 years."
    assert len(changes[0].after["exclusion"]) == 7


def test_rewording_one_nested_criterion_of_a_long_list() -> None:
    changes = _edited(_reword("Hemoglobin \\>= 8 gm/dl", "Hemoglobin \\>= 9 gm/dl"), V2_COMPLEX)
    assert kinds(changes) == ["eligibility_criteria"]
    assert changes[0].detail["inclusion"] == {
        "added": [],
        "removed": [],
        "changed": [["Hemoglobin >= 8 gm/dl", "Hemoglobin >= 9 gm/dl"]],
    }


def test_criteria_added_and_removed() -> None:
    def edit(ps: Study) -> None:
        _reword("* Cardiogenic shock.", "* Active bleeding.")(ps)
        _reword("* Lesions due to restenosis.\n", "")(ps)

    changes = _edited(edit)
    assert kinds(changes) == ["eligibility_criteria"]
    assert changes[0].detail["exclusion"] == {
        "added": ["Active bleeding."],
        "removed": ["Cardiogenic shock.", "Lesions due to restenosis."],
        "changed": [],
    }
