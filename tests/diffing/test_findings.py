"""Integrity findings from version sequences: one sequence per finding and a near miss each.

Every sequence starts from a real API v2 record (tests/fixtures/SOURCES.md) and builds later
versions from it by the edits stated in each test, dated as the registry would date them;
they are not recorded responses. The expected findings are exact: kind, key, date and line.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.conftest import fixture_file
from trialwatch.diffing.findings import Step, Thresholds, find, holding
from trialwatch.parsers import ctgov
from trialwatch.record import Enrollment, Outcome, TrialDate, TrialRecord


def real(nct: str) -> TrialRecord:
    return ctgov.parse(fixture_file(f"ctgov_v2_{nct}.json").read_bytes())


def history(base: TrialRecord, *versions: tuple[str, dict[str, Any]]) -> list[Step]:
    """Versions 1, 2 ...: each the one before with its stated edits, on its registry date."""
    steps, record = [], base
    for number, (day, edits) in enumerate(versions, 1):
        record = record.model_copy(update={**edits, "last_update_posted": day})
        steps.append(Step(number, day, None, record))
    return steps


def lines(steps: list[Step], on: str = "2026-12-01", **limits: Any) -> list[tuple[str, ...]]:
    found = holding(find(steps, Thresholds(**limits)), date.fromisoformat(on))
    return [(f.kind, f.since, f.text, ",".join(str(v) for v, _ in f.versions)) for f in found]


def kinds(steps: list[Step], on: str = "2026-12-01") -> list[str]:
    return [f.kind for f in holding(find(steps), date.fromisoformat(on))]


def day(text: str, type_: str | None = "ACTUAL") -> TrialDate:
    precision = {10: "day", 7: "month", 4: "year"}[len(text)]
    return TrialDate(date=text, precision=precision, type=type_)  # type: ignore[arg-type]


# NCT04267848: registered 2020-02-12, started 2020-06-16 (actual), recruiting, primary
# completion 2025-12-15 (estimated), 1,210 participants planned, one primary outcome.
RECRUITING = "NCT04267848"


def test_a_primary_outcome_replaced_during_recruitment_is_an_outcome_switch():
    base = real(RECRUITING)
    old = base.primary_outcomes
    assert old is not None and len(old) == 1
    new = [Outcome(measure="Overall survival", time_frame="5 years")]
    steps = history(
        base,
        ("2020-03-01", {}),
        ("2021-05-04", {"primary_outcomes": new}),
        # case only: editorial, not a switch
        (
            "2021-06-01",
            {"primary_outcomes": [Outcome(measure="overall survival", time_frame="5 years")]},
        ),
    )
    assert lines(steps, stale_days=10_000) == [
        (
            "outcome_switch",
            "2021-05-04",
            "primary outcome changed on 2021-05-04 during recruitment (started 2020-06-16 "
            '(actual)): added "Overall survival"; removed "Disease free survival (DFS)" [major]',
            "1,2",
        )
    ]


def test_near_miss_the_same_outcome_replaced_before_the_start_is_no_switch():
    new = [Outcome(measure="Overall survival", time_frame="5 years")]
    steps = history(real(RECRUITING), ("2020-03-01", {}), ("2020-05-01", {"primary_outcomes": new}))
    assert "outcome_switch" not in kinds(steps)


# NCT02552212: started 2015-09, primary completion 2018-05 (actual), results posted 2020-08-17.
WITH_RESULTS = "NCT02552212"


def test_outcome_switches_are_placed_after_completion_or_after_results():
    base = real(WITH_RESULTS)
    outcomes = base.primary_outcomes or []
    steps = history(
        base,
        ("2018-01-10", {}),
        ("2019-01-07", {"primary_outcomes": outcomes[1:]}),  # the first removed
        ("2021-01-05", {"primary_outcomes": outcomes[2:]}),  # and the second
    )
    found = [(f.kind, f.since, f.detail["phase"]) for f in find(steps)]
    assert found == [
        ("outcome_switch", "2019-01-07", "after_completion"),
        ("outcome_switch", "2021-01-05", "after_results"),
    ]


# NCT04207047: started 2018-10-02 (actual), registered 2019-12-17: registered after its start.
LATE_REGISTERED = "NCT04207047"


def test_a_start_moved_past_the_registration_date_is_retroactively_prospective():
    steps = history(
        real(LATE_REGISTERED),
        ("2019-12-20", {}),
        ("2020-03-02", {"start_date": day("2020-01-06")}),
    )
    assert [line for line in lines(steps) if line[0] == "retro_prospective"] == [
        (
            "retro_prospective",
            "2020-03-02",
            "start date moved from 2018-10-02 to 2020-01-06 on 2020-03-02, after registration "
            "on 2019-12-17",
            "1,2",
        )
    ]


def test_near_misses_a_start_still_before_registration_and_a_prospective_trial_moved_later():
    still_before = history(
        real(LATE_REGISTERED),
        ("2019-12-20", {}),
        ("2020-03-02", {"start_date": day("2019-06-01")}),
    )
    assert "retro_prospective" not in kinds(still_before)
    # registered 2020-02-12, before its start 2020-06-16: prospective all along
    prospective = history(
        real(RECRUITING), ("2020-03-01", {}), ("2020-07-01", {"start_date": day("2020-09-01")})
    )
    assert "retro_prospective" not in kinds(prospective)
    # a month that holds the registration day is not wholly before it
    same_month = history(
        real(LATE_REGISTERED).model_copy(update={"start_date": day("2019-12")}),
        ("2019-12-20", {}),
        ("2020-03-02", {"start_date": day("2020-01-06")}),
    )
    assert "retro_prospective" not in kinds(same_month)


# NCT03934567: active, not recruiting at its last update on 2025-04-10, primary completion
# 2025-01-29 (actual), no results: its status is stale from 2026-01-30 (365 days on).
ACTIVE = "NCT03934567"


def test_a_status_still_open_a_year_after_completion_is_stale_from_that_day():
    steps = history(real(ACTIVE), ("2025-04-10", {}))
    stale = [line for line in lines(steps) if line[0] == "stale_status"]
    assert stale == [
        (
            "stale_status",
            "2026-01-30",
            "status still ACTIVE_NOT_RECRUITING at its last update on 2025-04-10, more than 365 "
            "days after primary completion 2025-01-29 (actual) (from 2026-01-30)",
            "1",
        )
    ]
    # near miss: the day before, it does not hold yet
    assert "stale_status" not in kinds(steps, on="2026-01-29")


# NCT03418623: completed, primary completion 2020-03-13 (actual), phase 2, no results posted.
NO_RESULTS = "NCT03418623"


def test_completed_long_after_primary_completion_is_a_late_status():
    base = real(NO_RESULTS)
    steps = history(
        base,
        ("2020-02-01", {"overall_status": "RECRUITING"}),
        ("2021-06-01", {"overall_status": "COMPLETED"}),
    )
    stale = [line for line in lines(steps) if line[0] == "stale_status"]
    assert stale == [
        (
            "stale_status",
            "2021-06-01",
            "status set to COMPLETED on 2021-06-01, 445 days after primary completion "
            "2020-03-13 (actual)",
            "1,2",
        )
    ]
    # near miss: completed on the real last update, 209 days after
    timely = history(
        base,
        ("2020-02-01", {"overall_status": "RECRUITING"}),
        ("2020-10-08", {"overall_status": "COMPLETED"}),
    )
    assert "stale_status" not in kinds(timely)


def test_no_results_a_year_after_actual_primary_completion_are_due():
    steps = history(real(NO_RESULTS), ("2020-10-08", {}))
    assert [line for line in lines(steps) if line[0] == "results_due"] == [
        (
            "results_due",
            "2021-03-14",
            "no results posted at its last update on 2020-10-08; primary completion 2020-03-13 "
            "(actual), results due within 365 days (from 2021-03-14)",
            "1",
        )
    ]


def test_near_misses_for_results_due():
    # results posted (NCT02210780); completed before FDAAA's results rule (NCT00184067);
    # observational with an estimated completion, in status UNKNOWN (NCT03475563)
    for nct, updated in (("NCT02210780", "2020-05-07"), ("NCT00184067", "2014-05-21")):
        assert "results_due" not in kinds(history(real(nct), (updated, {})))
    assert kinds(history(real("NCT03475563"), ("2019-11-27", {}))) == []
    # and a year to the day after completion is not yet "more than a year"
    assert "results_due" not in kinds(history(real(NO_RESULTS), ("2020-10-08", {})), "2021-03-13")


def test_three_slips_of_primary_completion_are_repeated_slips():
    steps = history(
        real(RECRUITING),
        ("2021-01-04", {"primary_completion_date": day("2024-12-15", "ESTIMATED")}),
        ("2022-01-03", {"primary_completion_date": day("2025-03-15", "ESTIMATED")}),
        ("2023-01-02", {"primary_completion_date": day("2025-06-15", "ESTIMATED")}),
        ("2024-01-08", {"primary_completion_date": day("2025-09-15", "ESTIMATED")}),
    )
    assert lines(steps, "2025-01-01") == [
        (
            "repeated_slips",
            "2024-01-08",
            "primary completion date moved later 3 times, from 2024-12-15 to 2025-09-15 "
            "(+274 days): on 2022-01-03, 2023-01-02, 2024-01-08",
            "1,2,3,4",
        )
    ]
    # near miss: two slips, nine months in all
    assert "repeated_slips" not in kinds(steps[:3], "2025-01-01")


def test_one_slip_of_more_than_a_year_is_repeated_slips_and_precision_is_no_slip():
    steps = history(
        real(RECRUITING),
        ("2021-01-04", {"primary_completion_date": day("2024-12", "ESTIMATED")}),
        ("2022-01-03", {"primary_completion_date": day("2024-12-15", "ESTIMATED")}),  # precision
        ("2023-01-02", {"primary_completion_date": day("2026-01-15", "ESTIMATED")}),
    )
    found = [(f.kind, f.since, f.detail) for f in find(steps) if f.kind == "repeated_slips"]
    assert found == [("repeated_slips", "2023-01-02", {"slips": 1, "net_days": 410})]
    assert "repeated_slips" not in kinds(steps[:2])


def test_an_enrollment_target_raised_by_a_quarter_after_the_start_is_a_change():
    base = real(RECRUITING)
    steps = history(
        base,
        ("2020-06-01", {}),
        ("2021-01-04", {"enrollment": Enrollment(count=1500, type="ESTIMATED")}),
    )
    assert [line for line in lines(steps) if line[0] == "enrollment_change"] == [
        (
            "enrollment_change",
            "2021-01-04",
            "enrollment target changed from 1210 (at the start) to 1500 (+24%) on 2021-01-04, "
            "after the start in 2020-06-16",
            "1,2",
        )
    ]
    # near misses: +16 %, and the actual count reported at the end
    assert "enrollment_change" not in kinds(
        history(
            base,
            ("2020-06-01", {}),
            ("2021-01-04", {"enrollment": Enrollment(count=1400, type="ESTIMATED")}),
        )
    )
    assert "enrollment_change" not in kinds(
        history(
            base,
            ("2020-06-01", {}),
            ("2021-01-04", {"enrollment": Enrollment(count=800, type="ACTUAL")}),
        )
    )


def test_thresholds_are_options():
    steps = history(
        real(RECRUITING),
        ("2020-06-01", {}),
        ("2021-01-04", {"enrollment": Enrollment(count=1400, type="ESTIMATED")}),
    )
    assert "enrollment_change" in [line[0] for line in lines(steps, enrollment_pct=10.0)]


def test_a_trial_without_a_start_date_has_no_start_bound_findings():
    new = [Outcome(measure="Overall survival", time_frame="5 years")]
    steps = history(
        real(RECRUITING).model_copy(update={"start_date": None}),
        ("2020-03-01", {}),
        (
            "2021-05-04",
            {"primary_outcomes": new, "enrollment": Enrollment(count=2000, type="ESTIMATED")},
        ),
    )
    assert not {"outcome_switch", "enrollment_change"} & set(kinds(steps))
