"""Shared cleaners: the same fact in two spellings gives one value."""

from __future__ import annotations

import pytest

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import (
    age_text,
    check_nct_id,
    clean_list,
    clean_text,
    enum_word,
    intervention_type_word,
    iso_day,
    parse_date,
    phases,
    sex_word,
    status_word,
    study_type_word,
    yes_no,
)
from trialwatch.record import TrialDate

EST, ACT = "ESTIMATED", "ACTUAL"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Age &gt;= 18\n\t years  ", "Age >= 18 years"),
        ("caf\u00e9 \uff11\uff18\u00a0ans", "café 18 ans"),
        ("&#8805; 2 &amp; &lt; 5", "≥ 2 & < 5"),
        ("", None),
        ("   \n ", None),
        (None, None),
    ],
)
def test_clean_text(raw: str | None, clean: str | None) -> None:
    assert clean_text(raw) == clean


def test_clean_list_drops_empties_and_repeats() -> None:
    assert clean_list([" a ", "", None, "a", "b"]) == ["a", "b"]
    assert clean_list([]) is None
    assert clean_list(None) is None


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        (
            "2020-03-12",
            "ESTIMATED",
            TrialDate(date="2020-03-12", precision="day", type=EST),
        ),
        ("2018-06", "ACTUAL", TrialDate(date="2018-06", precision="month", type=ACT)),
        ("2019", None, TrialDate(date="2019", precision="year")),
        ("August 2007", None, TrialDate(date="2007-08", precision="month")),
        ("June 14, 2016", "Actual", TrialDate(date="2016-06-14", precision="day", type=ACT)),
        (
            "2016-05-11",
            "Anticipated",
            TrialDate(date="2016-05-11", precision="day", type=EST),
        ),
        ("May 2018", "Estimate", TrialDate(date="2018-05", precision="month", type=EST)),
        (
            "Sept 3, 2001",
            "Expected",
            TrialDate(date="2001-09-03", precision="day", type=EST),
        ),
    ],
)
def test_parse_date(raw: str, kind: str | None, expected: TrialDate) -> None:
    assert parse_date(raw, kind) == expected


def test_absent_date_is_none() -> None:
    assert parse_date(None) is None
    assert parse_date("  ") is None


@pytest.mark.parametrize("raw", ["soon", "2019-02-30", "Smarch 2010", "13/2019"])
def test_text_that_is_not_a_date_is_an_error(raw: str) -> None:
    with pytest.raises(ParseError, match="is not a date"):
        parse_date(raw)


def test_iso_day() -> None:
    assert iso_day("June 16, 2017") == "2017-06-16"
    assert iso_day("2014-05-21") == "2014-05-21"
    assert iso_day(None) is None


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Recruiting", "RECRUITING"),
        ("RECRUITING", "RECRUITING"),
        ("Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
        ("Not yet recruiting", "NOT_YET_RECRUITING"),
        ("Enrolling by invitation", "ENROLLING_BY_INVITATION"),
        ("Unknown status", "UNKNOWN"),
        ("No longer available", "NO_LONGER_AVAILABLE"),
        ("Temporarily not available", "TEMPORARILY_NOT_AVAILABLE"),
        ("Approved for marketing", "APPROVED_FOR_MARKETING"),
        ("Withheld", "WITHHELD"),
        ("Available", "AVAILABLE"),
        ("Suspended", "SUSPENDED"),
        ("Terminated", "TERMINATED"),
        ("Completed", "COMPLETED"),
        ("Withdrawn", "WITHDRAWN"),
        ("Non Recruiting", None),
        ("Open", None),
        ("", None),
        (None, None),
    ],
)
def test_status_word(word: str | None, status: str | None) -> None:
    assert status_word(word) == status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Phase 1/Phase 2", ["PHASE1", "PHASE2"]),
        ("Phase 2/Phase 3", ["PHASE2", "PHASE3"]),
        ("Early Phase 1", ["EARLY_PHASE1"]),
        ("N/A", ["NA"]),
        (["PHASE2"], ["PHASE2"]),
        (["PHASE1", "PHASE2"], ["PHASE1", "PHASE2"]),
        (["EARLY_PHASE1"], ["EARLY_PHASE1"]),
        (["NA"], ["NA"]),
        ("Phase 4", ["PHASE4"]),
        ([], None),
        (None, None),
    ],
)
def test_phases(raw: object, expected: list[str] | None) -> None:
    assert phases(raw) == expected


def test_enum_words() -> None:
    assert enum_word("Drug") == "DRUG"
    assert enum_word("Dietary Supplement") == "DIETARY_SUPPLEMENT"
    assert enum_word("DIAGNOSTIC_TEST") == "DIAGNOSTIC_TEST"
    assert intervention_type_word("Procedure/Surgery") == "PROCEDURE"
    assert sex_word("Both") == sex_word("All") == sex_word("ALL") == "ALL"
    assert sex_word("Female") == "FEMALE"
    assert study_type_word("Observational [Patient Registry]") == "OBSERVATIONAL"
    assert study_type_word("Expanded Access") == "EXPANDED_ACCESS"
    assert study_type_word("N/A") is None


def test_ages_and_yes_no() -> None:
    assert age_text("18 Years") == "18 Years"
    assert age_text("N/A") is None
    assert yes_no("Accepts Healthy Volunteers") is True
    assert yes_no("No") is False
    assert yes_no(False) is False
    assert yes_no(None) is None


def test_check_nct_id() -> None:
    assert check_nct_id(" nct00513591 ") == "NCT00513591"
    with pytest.raises(ParseError, match="^NCT id 'NCT123' is not of the form NCT \\+ 8 digits$"):
        check_nct_id("NCT123")
    with pytest.raises(ParseError, match="no NCT id"):
        check_nct_id(None)
