"""The registration date (first_submitted) and the day results were first posted, read from
real saved responses; a malformed date is one line naming its field, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from trialwatch.cli.show_text import render_record
from trialwatch.parsers import ParseError, ctgov, ctgov_classic, ctgov_history, parse_payload
from trialwatch.record import TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _file(slug: str, case: str) -> bytes:
    [path] = [p for p in (FIXTURES / slug / case).iterdir() if p.name != "expected.json"]
    return path.read_bytes()


WITH_RESULTS = _file("ctgov", "NCT00763412")  # hasResults: true
WITHOUT_RESULTS = _file("ctgov", "NCT03418623")  # hasResults: false


@pytest.mark.parametrize(
    ("slug", "case", "first_submitted", "results_first_posted"),
    [
        # statusModule.studyFirstSubmitDate / resultsFirstPostDateStruct.date
        ("ctgov", "NCT00763412", "2008-09-29", "2017-06-05"),
        ("ctgov", "NCT03418623", "2018-01-08", None),
        ("ctgov_history", "NCT04280705_v0", "2020-02-20", None),
        # <study_first_submitted>November 3, 1999</study_first_submitted>, no results
        ("ctgov_classic", "NCT00001177", "1999-11-03", None),
        # <results_first_posted type="Estimate">June 6, 2014</results_first_posted>
        ("ctgov_classic", "NCT02028676", "2013-12-31", "2014-06-06"),
        # A record of before 2017: <firstreceived_date>August 6, 2007</firstreceived_date>
        ("ctgov_classic", "NCT00513591_redownloaded", "2007-08-06", None),
    ],
)
def test_dates_read_from_saved_responses(
    slug: str, case: str, first_submitted: str, results_first_posted: str | None
) -> None:
    [record] = parse_payload(_file(slug, case))
    assert record.source == slug
    assert record.first_submitted == first_submitted
    assert record.results_first_posted == results_first_posted


def test_slug_parsers_agree() -> None:
    assert ctgov.parse(WITH_RESULTS).results_first_posted == "2017-06-05"
    assert ctgov_history.parse(_file("ctgov_history", "NCT04280705_v0")).first_submitted == (
        "2020-02-20"
    )
    assert ctgov_classic.parse(_file("ctgov_classic", "NCT02028676")).results_first_posted == (
        "2014-06-06"
    )


def _edited(body: bytes, key: str, value: object) -> bytes:
    study = json.loads(body)
    study["protocolSection"]["statusModule"][key] = value
    return json.dumps(study).encode()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "studyFirstSubmitDate",
            "29/09/2008",
            "statusModule.studyFirstSubmitDate: date '29/09/2008' is not a date",
        ),
        (
            "studyFirstSubmitDate",
            "2008-02-30",
            "statusModule.studyFirstSubmitDate: date '2008-02-30' is not a date",
        ),
        (
            "studyFirstSubmitDate",
            "2008-09",
            "statusModule.studyFirstSubmitDate: date '2008-09' is not a full date",
        ),
        (
            "studyFirstSubmitDate",
            20080929,
            "statusModule.studyFirstSubmitDate is a number, not text",
        ),
        (
            "resultsFirstPostDateStruct",
            {"date": "June 2017", "type": "ACTUAL"},
            "statusModule.resultsFirstPostDateStruct.date: date 'June 2017' is not a full date",
        ),
        (
            "resultsFirstPostDateStruct",
            "2017-06-05",
            "statusModule.resultsFirstPostDateStruct is a string, not an object",
        ),
    ],
)
def test_a_malformed_date_is_one_line_naming_its_field(
    key: str, value: object, message: str
) -> None:
    body = _edited(WITH_RESULTS, key, value)
    with pytest.raises(ParseError) as info:
        parse_payload(body)
    assert str(info.value) == message
    # In a studies page the bad study is noted, the good one still read.
    page = json.dumps({"studies": [json.loads(WITHOUT_RESULTS), json.loads(body)]}).encode()
    problems: list[str] = []
    [kept] = parse_payload(page, problems=problems)
    assert kept.nct_id == "NCT03418623" and problems == [f"studies[1]: {message}"]


def test_absent_dates_are_none() -> None:
    study = json.loads(WITH_RESULTS)
    del study["protocolSection"]["statusModule"]["studyFirstSubmitDate"]
    del study["protocolSection"]["statusModule"]["resultsFirstPostDateStruct"]
    [record] = parse_payload(json.dumps(study).encode())
    assert record.first_submitted is None and record.results_first_posted is None


@pytest.mark.parametrize("field", ["first_submitted", "results_first_posted"])
def test_the_record_takes_only_a_real_iso_day(field: str) -> None:
    with pytest.raises(ValidationError, match="'2008-9-29' is not a date"):
        TrialRecord(nct_id="NCT00763412", source="ctgov", **{field: "2008-9-29"})


def test_show_prints_both_dates() -> None:
    [record] = parse_payload(WITH_RESULTS)
    shown = render_record(record.model_dump(mode="json")).splitlines()
    assert "First submitted:      2008-09-29" in shown
    assert "Results first posted: 2017-06-05" in shown
