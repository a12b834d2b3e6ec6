"""Bad input raises ParseError with a one-line message naming the problem."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from trialwatch.parsers import (
    ParseError,
    ctgov,
    ctgov_classic,
    ctgov_history,
    parse_payload,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _file(slug: str, case: str) -> bytes:
    [path] = [p for p in (FIXTURES / slug / case).iterdir() if p.name != "expected.json"]
    return path.read_bytes()


STUDY = _file("ctgov", "NCT00184067")
CLASSIC = _file("ctgov_classic", "NCT00513591")
HISTORY = _file("ctgov_history", "NCT04280705_v0")


def _raises(body: bytes, match: str) -> str:
    with pytest.raises(ParseError, match=match) as info:
        parse_payload(body)
    message = str(info.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("body", [b"", b"   \n\t  ", b"\xef\xbb\xbf"])
def test_empty(body: bytes) -> None:
    _raises(body, "^empty file$")


def test_truncated_json_real_file_cut_in_half() -> None:
    _raises(STUDY[: len(STUDY) // 2], "^not JSON: ")


def test_truncated_classic_xml() -> None:
    _raises(CLASSIC[: len(CLASSIC) // 2], "^not well-formed XML: ")


def test_not_json() -> None:
    assert _raises(b"Service Unavailable", "^not JSON: ") == "not JSON: Expecting value at line 1"


def test_invalid_utf8() -> None:
    _raises(b'{"studies": ["\xff\xfe"]}', "^not UTF-8")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b'{"error": "not found"}', r"not a ClinicalTrials.gov study \(no protocolSection\)"),
        (b"[1, 2, 3]", "JSON is an array, not a study"),
        (b'"NCT00184067"', "JSON is a string, not a study"),
        (b"null", "JSON is null, not a study"),
        (b"42", "JSON is a number, not a study"),
        (b'{"studies": {"a": 1}}', "studies page"),
        (b'{"studies": [42]}', r"studies\[0\]: not a study"),
        (b'{"studyVersion": 0}', "no study"),
        (b'{"studyVersion": "x", "study": {"protocolSection": {}}}', "not a version number"),
        (b'{"protocolSection": {"identificationModule": {}}}', "no NCT id"),
        (b'{"protocolSection": []}', "no protocolSection"),
    ],
)
def test_json_that_is_not_a_study(body: bytes, match: str) -> None:
    _raises(body, match)


def test_classic_v1_json_is_named() -> None:
    _raises(_file("ctgov_classic", "not_supported_v1_json"), "FullStudiesResponse")


def test_rss_feed() -> None:
    body = _file("ctgov_classic", "not_a_study_rss")
    assert _raises(body, "XML root") == "XML root is <rss>, not <clinical_study>"
    with pytest.raises(ParseError, match="XML root is <rss>"):
        ctgov_classic.parse(body)


def test_html_error_page() -> None:
    body = _file("ctgov_classic", "not_a_study_html")
    _raises(body, "^HTML page")
    with pytest.raises(ParseError):
        ctgov_classic.parse(body)  # not well-formed XML either


@pytest.mark.parametrize("bad_id", ["NCT123", "NCT0018406X", "12345678", "NCT001840671"])
def test_wrong_nct_id_form(bad_id: str) -> None:
    study = json.loads(STUDY)
    study["protocolSection"]["identificationModule"]["nctId"] = bad_id
    message = _raises(json.dumps(study).encode(), "NCT id")
    assert message == f"NCT id '{bad_id}' is not of the form NCT + 8 digits"


def test_wrong_nct_id_form_in_classic_xml() -> None:
    body = CLASSIC.replace(b"<nct_id>NCT00513591</nct_id>", b"<nct_id>NCT123</nct_id>")
    _raises(body, "^NCT id 'NCT123' is not of the form NCT \\+ 8 digits$")


def test_wrong_nct_id_in_a_page_fails_the_page() -> None:
    page = {"studies": [json.loads(STUDY), json.loads(STUDY)]}
    page["studies"][1]["protocolSection"]["identificationModule"]["nctId"] = "NCT1"
    _raises(json.dumps(page).encode(), "NCT id 'NCT1'")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda ps: ps["conditionsModule"].update(conditions=5),
        lambda ps: ps["designModule"].update(enrollmentInfo={"count": "many"}),
        lambda ps: ps["contactsLocationsModule"].update(locations=["Los Angeles"]),
        lambda ps: ps["statusModule"].update(startDateStruct={"date": {"y": 2004}}),
    ],
)
def test_wrong_shapes_inside_a_study_raise_parse_error(mutate: Callable[[dict], object]) -> None:
    study = json.loads(STUDY)
    mutate(study["protocolSection"])
    with pytest.raises(ParseError):
        parse_payload(json.dumps(study).encode())


def test_classic_entities_are_not_resolved() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE clinical_study [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<clinical_study><id_info><nct_id>NCT00000001</nct_id></id_info>"
        b"<brief_title>&x;</brief_title></clinical_study>"
    )
    record = ctgov_classic.parse(body)
    assert record.brief_title is None or "root:" not in record.brief_title


def test_slug_parsers_reject_other_kinds() -> None:
    with pytest.raises(ParseError, match="no protocolSection"):
        ctgov.parse(b'{"studies": []}')
    with pytest.raises(ParseError, match="no studies list"):
        ctgov.parse_page(STUDY)
    with pytest.raises(ParseError, match="no studyVersion"):
        ctgov_history.parse(STUDY)
    with pytest.raises(ParseError, match="XML root is <clinical_study>|not well-formed XML"):
        ctgov_classic.parse(HISTORY)


ALL_SAVED = sorted(
    p
    for slug in ("ctgov", "ctgov_history", "ctgov_classic")
    for p in (FIXTURES / slug).glob("*/*")
    if p.name != "expected.json"
)


@pytest.mark.parametrize("path", ALL_SAVED, ids=lambda p: p.parent.name)
def test_every_saved_file_cut_short_raises_parse_error(path: Path) -> None:
    body = path.read_bytes().rstrip()
    for cut in (len(body) // 4, len(body) // 2, len(body) - 3):
        with pytest.raises(ParseError) as info:
            parse_payload(body[:cut])
        assert "\n" not in str(info.value)


# --- wrong types are named, never coerced ------------------------------------------------


COUNT = "designModule.enrollmentInfo.count"
RANGE = "is not a count from 0 to 1,000,000,000"


# Each message is the field's path and what is wrong with its value.
@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        ("identificationModule.briefTitle", {"x": 1}, " is an object, not text"),
        ("identificationModule.officialTitle", 42, " is a number, not text"),
        ("identificationModule.acronym", ["A"], " is an array, not text"),
        ("identificationModule.nctId", 184067, " is a number, not text"),
        ("statusModule.overallStatus", True, " is a boolean, not text"),
        (COUNT, 1.5, " is a number (1.5), not a whole number"),
        (COUNT, -5, f" -5 {RANGE}"),
        (COUNT, 10**12, f" 1000000000000 {RANGE}"),
        (COUNT, True, " is a boolean (True), not a whole number"),
        (COUNT, "12", None),  # digits as text: the same count
        ("designModule.phases", ["PHASE2", 3], "[1] is a number, not text"),
        ("conditionsModule.conditions", [{"name": "x"}], "[0] is an object, not text"),
        ("statusModule.startDateStruct.date", "2019-02-30", ": date '2019-02-30' is not a date"),
        ("statusModule.startDateStruct.date", 2019, " is a number, not text"),
        ("statusModule.startDateStruct", "2019-01", " is a string, not an object"),
        (
            "statusModule.lastUpdatePostDateStruct.date",
            "2019-01",
            ": date '2019-01' is not a full date",
        ),
        ("eligibilityModule.healthyVolunteers", "Yes", " is a string, not true or false"),
        ("eligibilityModule.eligibilityCriteria", {"text": "x"}, " is an object, not text"),
        ("sponsorCollaboratorsModule.leadSponsor", "Duke", " is a string, not an object"),
        ("outcomesModule.primaryOutcomes", [["x"]], "[0] is an array, not an object"),
        ("contactsLocationsModule.locations", ["Los Angeles"], "[0] is a string, not an object"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_field(
    path: str, value: object, said: str | None
) -> None:
    study = json.loads(STUDY)
    *parents, last = ["protocolSection", *path.split(".")]
    node = study
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    body = json.dumps(study).encode()
    if said is None:
        [record] = parse_payload(body)
        assert record.enrollment is not None and record.enrollment.count == 12
        return
    message = path + said
    assert _raises(body, ".") == message
    page = json.dumps({"studies": [json.loads(STUDY), study]}).encode()
    problems: list[str] = []
    [kept] = parse_payload(page, problems=problems)
    assert kept.nct_id == "NCT00184067" and problems == [f"studies[1]: {message}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5", "enrollment '1.5' is not a whole number"),
        ("-5", "enrollment '-5' is not a whole number"),
        ("1e30", "enrollment '1e30' is not a whole number"),
        ("\u0663", "enrollment '\u0663' is not a whole number"),  # an Arabic-Indic 3
        ("9" * 30, "enrollment '99999999999999999999...' is not a whole number"),
        ("2000000000", "enrollment 2000000000 is not a count from 0 to 1,000,000,000"),
    ],
)
def test_classic_enrollment_must_be_a_count(text: str, message: str) -> None:
    body = re.sub(
        rb"<enrollment([^>]*)>[^<]*<", f"<enrollment\\1>{text}<".encode(), CLASSIC, count=1
    )
    assert _raises(body, ".") == message
    with pytest.raises(ParseError):
        ctgov_classic.parse(body)


@pytest.mark.parametrize(
    "bad_id", ["NCT\u0660\u0660\u0661\u0668\u0664\u0660\u0666\u0667", "NCT0018406\uff17"]
)
def test_an_nct_id_is_ascii_digits_only(bad_id: str) -> None:
    study = json.loads(STUDY)
    study["protocolSection"]["identificationModule"]["nctId"] = bad_id
    with pytest.raises(ParseError, match="is not of the form NCT"):
        parse_payload(json.dumps(study).encode())


@pytest.mark.parametrize("version", ["\u0663", "1" * 7, -1, 1.0, True, 10**19])
def test_a_history_version_number_is_a_small_whole_number(version: object) -> None:
    data = json.loads(HISTORY)
    data["studyVersion"] = version
    with pytest.raises(ParseError, match="^studyVersion .* is not a version number$"):
        parse_payload(json.dumps(data).encode())


# --- a registry record that lost its content is not a whole record ---------------------


def _only(*modules: str) -> dict[str, object]:
    study = json.loads(STUDY)
    ps = study["protocolSection"]
    study["protocolSection"] = {k: v for k, v in ps.items() if k in modules}
    return study


def test_a_record_with_only_its_identification_is_refused_when_complete() -> None:
    body = json.dumps(_only("identificationModule")).encode()
    assert parse_payload(body)  # read as it is: the parser alone does not judge
    with pytest.raises(ParseError) as info:
        parse_payload(body, complete=True)
    assert str(info.value) == (
        "not a whole registry record: statusModule.overallStatus missing "
        "(it holds only identificationModule)"
    )


def test_a_withheld_record_showing_little_else_is_whole() -> None:
    """The real WITHHELD record: identification, sponsor, status and study type only."""
    body = _file("ctgov_classic", "NCT03182660")
    [record] = parse_payload(body, complete=True)
    assert record.overall_status == "WITHHELD"
    study = _only("identificationModule", "statusModule")
    assert parse_payload(json.dumps(study).encode(), complete=True)


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        ("brief_title", "<brief_title>"),
        ("overall_status", "<overall_status>"),
    ],
)
def test_a_classic_record_without_title_or_status_is_refused_when_complete(
    drop: str, missing: str
) -> None:
    body = re.sub(rf"<{drop}>[^<]*</{drop}>".encode(), b"", CLASSIC, count=1)
    assert parse_payload(body)
    with pytest.raises(ParseError, match=f"^not a whole registry record: {missing} missing$"):
        parse_payload(body, complete=True)


def test_a_history_version_that_lost_its_status_is_refused_when_complete() -> None:
    data = json.loads(HISTORY)
    del data["study"]["protocolSection"]["statusModule"]
    with pytest.raises(ParseError, match="statusModule.overallStatus missing"):
        ctgov_history.parse(json.dumps(data).encode(), complete=True)


ALL_WHOLE = [p for p in ALL_SAVED if "not_" not in p.parent.name]
TRIMMED = {"NCT00465816", "NCT03453554"}  # hand-trimmed test stubs (tests/fixtures/SOURCES.md)


@pytest.mark.parametrize("path", ALL_WHOLE, ids=lambda p: p.parent.name)
def test_every_real_record_is_whole(path: Path) -> None:
    if path.parent.name in TRIMMED:
        with pytest.raises(ParseError, match="not a whole registry record"):
            parse_payload(path.read_bytes(), complete=True)
        return
    problems: list[str] = []
    assert parse_payload(path.read_bytes(), problems=problems, complete=True)
    assert problems == []
