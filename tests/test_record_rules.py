"""TrialRecord's own rules: whatever parser builds a record (the site parsers too), a value of
the wrong type, out of range, or that no database can store is refused naming the field; a
version stored before a rule existed still loads."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from trialwatch.record import MAX_ENROLLMENT, Enrollment, Outcome, TrialDate, TrialRecord

BASE: dict[str, Any] = {"nct_id": "NCT00184067", "source": "ctgov"}


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("brief_title", {"x": 1}, "Input should be a valid string"),
        ("brief_title", 12, "Input should be a valid string"),
        ("brief_title", "a\x00b", "holds a NUL character"),
        ("conditions", ["ok", "x\ud800"], "holds a lone surrogate (\\ud800)"),
        ("healthy_volunteers", "Yes", "Input should be a valid boolean"),
        ("nct_id", "NCT\u0660\u0660\u0661\u0668\u0664\u0660\u0666\u0667", "form NCT + 8 digits"),
        ("nct_id", "NCT00184067\n", "form NCT + 8 digits"),
        ("last_update_posted", "2019-02-30", "is not a date"),
        ("last_update_posted", "2019-02", "is not a date"),
        ("registry_version", "\u0663", "is not a version number"),
        ("enrollment", {"count": 1.5}, "Input should be a valid integer"),
        ("enrollment", {"count": -5}, f"-5 is not a count from 0 to {MAX_ENROLLMENT:,}"),
        ("enrollment", {"count": 10**30}, "is not a count from 0 to"),
        ("enrollment", {"count": True}, "Input should be a valid integer"),
        ("start_date", {"date": "2019-13", "precision": "month"}, "not a date at month"),
        ("start_date", {"date": "2019-02", "precision": "day"}, "not a date at day"),
        ("primary_outcomes", [{"measure": "a\x00"}], "holds a NUL character"),
    ],
)
def test_a_value_that_breaks_a_rule_is_refused_naming_its_field(
    field: str, value: object, said: str
) -> None:
    with pytest.raises(ValidationError) as info:
        TrialRecord(**{**BASE, field: value})
    [error] = info.value.errors()
    assert error["loc"][0] == field and said in error["msg"]


def test_values_that_keep_the_rules_are_taken_as_they_are() -> None:
    record = TrialRecord(
        **BASE,
        brief_title="\U0001f600 Trial",
        enrollment=Enrollment(count=MAX_ENROLLMENT),
        start_date=TrialDate(date="2020-02-29", precision="day"),
        completion_date=TrialDate(date="2021", precision="year"),
        primary_outcomes=[Outcome(measure="m")],
        healthy_volunteers=False,
        last_update_posted="2024-06-01",
        registry_version="12",
    )
    assert record.enrollment == Enrollment(count=1_000_000_000)


def test_a_version_stored_before_the_rules_still_loads() -> None:
    stored = {**BASE, "enrollment": {"count": -5}, "brief_title": "a\x00b"}
    record = TrialRecord.model_validate(stored)
    assert record.enrollment is not None and record.enrollment.count == -5
    with pytest.raises(ValidationError):
        TrialRecord.model_validate(stored, context={})
    with pytest.raises(ValidationError):  # the types are still checked
        TrialRecord.model_validate({**BASE, "brief_title": {"x": 1}})
