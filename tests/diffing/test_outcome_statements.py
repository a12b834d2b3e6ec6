"""An outcome graded as one statement (measure, time frame and description together), splits
and merges, and criteria whose nesting alone changed.

The texts are the issue's examples of real registry edits that field-by-field grading called
major; each rule also keeps a real change major, so no test passes by grading all editorial.
"""

from __future__ import annotations

from typing import Any

import pytest

from trialwatch.diffing import compare
from trialwatch.diffing.outcomes import compare_outcomes, grade_outcome
from trialwatch.diffing.statements import statement, time_points, without_boilerplate
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.record import TrialRecord


def o(measure: str, time_frame: str | None = None, description: str | None = None) -> dict:
    return {"measure": measure, "time_frame": time_frame, "description": description}


@pytest.mark.parametrize(
    ("before", "after", "grade", "reason"),
    [
        (
            o("Disease-free survival by routine imaging at 6 month intervals"),
            o("Disease-free survival by routine imaging", "6 month intervals"),
            "editorial",
            "outcome: the same text moved between its fields",
        ),
        (
            o("Overall survival", "10 years"),
            o("Overall survival", "up to 10 years"),
            "editorial",
            "outcome: time frame restated (the same time points: year 10)",
        ),
        (
            o("Pain", "Operation day"),
            o("Pain", "Assessed on the day of surgery (day 0)"),
            "editorial",
            "outcome: time frame restated (the same time points: day 0)",
        ),
        (
            o("Pain", "at 1 month"),
            o("Pain", "Baseline and 1 Month"),
            "editorial",
            "outcome: time frame restated (the same time points: month 1)",
        ),
        (
            o("The primary endpoint of the study is the improvement in functional status"),
            o("The improvement in functional status"),
            "editorial",
            "outcome: boilerplate dropped or added in the measure",
        ),
        (
            o("CHANGE IN HBA1C FROM BASELINE", "Week 12"),
            o("Change in HbA1c From Baseline", "12 weeks"),
            "editorial",
            "outcome: time frame restated (the same time points: week 12)",
        ),
        (
            o("Safety", "Extubation until 48 h after extubation"),
            o("Safety", "up to 48 h after extubation"),
            "editorial",
            "time frame restated",
        ),
        (
            o("Stress", "6 months", "Measured with the PIP (Streisand et al. 2001)."),
            o("Stress", "6 months", "Measured with the PIP."),
            "minor",
            "description",
        ),
        (
            o("Time to the first occurrence of microalbuminuria"),
            o("Time to the first occurrence of microalbuminuria defined as greater than 35 mg"),
            "minor",
            "measure: detail added",
        ),
        (
            o("Proportion of subjects with HIV-1 RNA < 50 copies/mL", "Week 48"),
            o("Proportion of participants with HIV-1 RNA < 50 copies/mL", "Week 48"),
            "editorial",
            "",
        ),
        # Still major: a time point, a unit, a threshold, the thing measured.
        (o("Pain score", "1 day"), o("Pain score", "7 days"), "major", "time point changed"),
        (
            o("Disease-free survival at 6 month intervals"),
            o("Disease-free survival", "12 month intervals"),
            "major",
            "outcome: time point changed (month 6 \u2192 month 12)",
        ),
        (o("Mortality", "up to 28 days"), o("Mortality", "up to 28 weeks"), "major", "changed"),
        (o("Safety", "48 h after extubation"), o("Safety", "48 h after surgery"), "major", ""),
        (
            o("Time to microalbuminuria defined as greater than 35 mg"),
            o("Time to microalbuminuria defined as greater than 30 mg"),
            "major",
            "number changed",
        ),
        (
            o("Proportion with HbA1c < 7%", "Week 24"),
            o("Proportion with HbA1c at least 7%", "Week 24"),
            "major",
            "threshold changed",
        ),
        (
            o("Number of patients alive off oxygen"),
            o("Proportion of patients alive, off oxygen"),
            "major",
            "wording replaced",
        ),
        (
            o("Pain", "Week 4", "Visual analogue scale"),
            o("Pain", "Week 4", "Numeric rating scale"),
            "minor",
            "description reworded",
        ),
    ],
)
def test_outcome_read_as_one_statement(before: dict, after: dict, grade: str, reason: str) -> None:
    got = grade_outcome(before, after)
    assert got[0] == grade and reason in got[1], got


def test_time_points_are_read_wherever_they_stand() -> None:
    from trialwatch.diffing.grading import tokens

    points, _ = time_points(tokens("Baseline, 3, 6 and 12 months"))
    assert points == {("3", "month"), ("6", "month"), ("12", "month")}
    assert time_points(tokens("Week 12"))[0] == time_points(tokens("12 weeks"))[0]
    assert time_points(tokens("operation day"))[0] == {("0", "day")}
    assert statement(o("X", "up to 2 years")).points == statement(o("X at 2 years")).points


def test_boilerplate_is_only_a_leading_formula() -> None:
    assert without_boilerplate("The primary outcome of this study is to assess pain") == "pain"
    assert without_boilerplate("Primary endpoint: overall survival") == "overall survival"
    kept = "The outcome of surgery is measured by the surgeon"
    assert without_boilerplate(kept) == kept


def _regroup(old: list[dict], new: list[dict]) -> list[tuple[str, str, str]]:
    primary, _ = compare_outcomes(old, [], new, [])
    return [(e["op"], e["grade"], e["reason"]) for e in primary]


def test_an_outcome_split_with_the_same_content_is_editorial_and_merged_back_too() -> None:
    whole = [o("Response rate, death rate, progression-free survival", "2 years")]
    parts = [o("Response rate", "2 years"), o("Death rate", "2 years")]
    parts.append(o("Progression-free survival", "2 years"))
    assert _regroup(whole, parts) == [
        ("split", "editorial", "split into 3 outcomes, the same content")
    ]
    assert _regroup(parts, whole) == [
        ("merged", "editorial", "3 outcomes merged into one, the same content")
    ]
    by_time = [o("Quality of life", "3 months"), o("Quality of life", "6 months")]
    assert _regroup([o("Quality of life", "3 and 6 months")], by_time)[0][:2] == (
        "split",
        "editorial",
    )


def test_a_split_that_changes_what_is_measured_is_graded_by_what_changed() -> None:
    whole = [o("Response rate and death rate", "2 years")]
    assert _regroup(whole, [o("Response rate", "1 year"), o("Death rate", "1 year")]) == [
        ("split", "major", "split into 2 outcomes; time point changed (year 2 \u2192 year 1)")
    ]
    detailed = [o("Response rate by RECIST", "2 years"), o("Death rate", "2 years")]
    assert _regroup(whole, detailed)[0][:2] == ("split", "minor")


def test_an_outcome_reworded_beside_a_new_one_is_not_a_split() -> None:
    old = [o("Overall survival", "5 years")]
    new = [
        o("Overall survival (OS)", "5 years"),
        o("Overall survival in PD-L1 positive", "5 years"),
    ]
    assert [op for op, _, _ in _regroup(old, new)] == ["changed", "added"]


CRITERIA = """Inclusion Criteria:

* Adults
* At least one of the following:
  * diabetes
  * hypertension
* Signed consent

Exclusion Criteria:

* Pregnancy
"""


def _criteria_change(old_text: str, new_text: str) -> Any:
    def record(text: str) -> TrialRecord:
        return TrialRecord(
            nct_id="NCT00000001", source="ctgov", eligibility=eligibility_from_text(text)
        )

    found = [c for c in compare(record(old_text), record(new_text))]
    return found[0] if found else None


def test_nesting_lost_with_the_same_items_in_order_is_editorial() -> None:
    flat = CRITERIA.replace("  * ", "* ")
    change = _criteria_change(CRITERIA, flat)
    assert change.grade == "editorial"
    assert change.detail["reason"].startswith("structure only")
    assert _criteria_change(flat, CRITERIA).grade == "editorial"  # and gained
    numbered = CRITERIA.replace("  * diabetes", "  1. diabetes").replace("  * hyper", "  2. hyper")
    assert _criteria_change(CRITERIA, numbered) is None  # markers are formatting


def test_the_same_items_in_another_order_or_group_stay_major() -> None:
    reordered = CRITERIA.replace("* Adults\n", "").replace("* Signed consent\n", "* Adults\n")
    reordered = reordered.replace("* Pregnancy\n", "* Signed consent\n* Pregnancy\n")
    assert _criteria_change(CRITERIA, reordered).grade == "major"  # consent moved section
    out_of_list = CRITERIA.replace("  * hypertension\n* Signed consent\n", "* Signed consent\n")
    out_of_list = out_of_list.replace("* Pregnancy\n", "* Pregnancy\n* hypertension\n")
    assert _criteria_change(CRITERIA, out_of_list).grade == "major"


def test_a_split_is_shown_as_one_line_with_its_parts() -> None:
    from trialwatch.diffing.render import details, summary
    from trialwatch.record import Outcome

    def record(*measures: str) -> TrialRecord:
        outcomes = [Outcome(measure=m, time_frame="2 years") for m in measures]
        return TrialRecord(nct_id="NCT00000001", source="ctgov", primary_outcomes=outcomes)

    [change] = compare(
        record("Response rate and death rate"), record("Response rate", "Death rate")
    )
    assert (change.kind, change.grade) == ("primary_outcome", "editorial")
    assert "1 split" in summary(change)
    assert details(change) == [
        "~ split: Response rate and death rate \u2192 Response rate; Death rate [editorial]"
    ]


def test_an_item_moved_to_the_next_cohort_stays_major() -> None:
    cohorts = (
        "Inclusion Criteria:\n\nCohort A:\n\n* Adults\n* ECOG 0-1\n\nCohort B:\n\n* Children\n\n"
        "Exclusion Criteria:\n\n* Pregnancy\n"
    )
    moved = cohorts.replace("* ECOG 0-1\n\nCohort B:\n\n", "\nCohort B:\n\n* ECOG 0-1\n")
    change = _criteria_change(cohorts, moved)
    assert change.grade == "major"
    assert change.detail["reason"] == "moved from 'inclusion / Cohort A' to 'inclusion / Cohort B'"


def test_nesting_lost_beside_a_real_change_keeps_each_edit_its_own_grade() -> None:
    flat = CRITERIA.replace("  * ", "* ").replace("* Signed consent", "* Signed consent twice")
    change = _criteria_change(CRITERIA, flat)
    grades = sorted((e["op"], e["grade"]) for e in change.detail["items"])
    assert grades == [("changed", "minor"), ("moved", "editorial"), ("moved", "editorial")]
    assert change.grade == "minor"
