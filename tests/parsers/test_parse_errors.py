"""Bad input raises ParseError with a one-line message naming the problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from trialwatch.parsers import ParseError, ctgov, ctgov_classic, ctgov_history, parse_payload

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
