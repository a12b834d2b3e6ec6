"""JSON read strictly: numbers JSON cannot mean and text no database can store refuse the
payload with one line saying what and where; so does a version list of absurd numbers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import fixture_file
from trialwatch.parsers import MAX_MESSAGE, ParseError, ctgov, parse_payload
from trialwatch.parsers.ctgov_history import parse_version_list

STUDY = fixture_file("ctgov_v2_NCT00184067.json").read_bytes()


def _raises(body: bytes, match: str) -> str:
    with pytest.raises(ParseError, match=match) as info:
        parse_payload(body)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def _with_count(raw: str) -> bytes:
    """The real study with its enrollment count replaced by raw JSON text."""
    marker = '"count": '
    start = STUDY.index(marker.encode()) + len(marker)
    end = start + len(
        str(json.loads(STUDY)["protocolSection"]["designModule"]["enrollmentInfo"]["count"])
    )
    return STUDY[:start] + raw.encode() + STUDY[end:]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("9" * 5000, "^refused: a number of 5000 digits"),
        ("-" + "9" * 21, "^refused: a number of 21 digits"),
        ("Infinity", "^refused: Infinity is not a number JSON allows$"),
        ("-Infinity", "^refused: -Infinity is not a number JSON allows$"),
        ("NaN", "^refused: NaN is not a number JSON allows$"),
        ("1e400", "^refused: the number 1e400 is too large to hold$"),
    ],
)
def test_numbers_json_cannot_mean_are_refused(raw: str, match: str) -> None:
    body = _with_count(raw)
    for parse in (parse_payload, ctgov.parse):
        with pytest.raises(ParseError, match=match):
            parse(body)


@pytest.mark.parametrize(
    ("escape", "match"),
    [
        ("\\ud800", r"a lone surrogate \(\\ud800\) in text at "),
        ("x\\uDFFFy", r"a lone surrogate \(\\udfff\) in text at "),
        ("a\\u0000b", r"a NUL character \(\\u0000\) in text at "),
    ],
)
def test_text_no_database_can_store_is_refused_naming_where(escape: str, match: str) -> None:
    body = STUDY.replace(b'"briefTitle": "', f'"briefTitle": "{escape}'.encode(), 1)
    message = _raises(body, match)
    assert message.endswith("protocolSection.identificationModule.briefTitle")
    assert message.isprintable()


def test_a_surrogate_pair_is_one_character_and_is_kept() -> None:
    body = STUDY.replace(b'"briefTitle": "', b'"briefTitle": "\\ud83d\\ude00 ', 1)
    [record] = parse_payload(body)
    assert record.brief_title is not None and record.brief_title.startswith("\U0001f600")


def test_a_nul_in_a_key_is_refused() -> None:
    body = STUDY.replace(b'"hasResults"', b'"has\\u0000Results"', 1)
    _raises(body, r"^refused: a NUL character \(\\u0000\) in a key at ")


@pytest.mark.parametrize(
    ("version", "said"),
    [
        ("1000000", "entry 0 has version 1000000, not from 0 to 999,999"),
        ("-1", "entry 0 has version -1, not from 0 to 999,999"),
        ("1" + "0" * 25, "refused: a number of 26 digits"),
        ("NaN", "refused: NaN is not a number JSON allows"),
    ],
)
def test_a_version_list_of_absurd_numbers_is_an_unexpected_shape(version: str, said: str) -> None:
    body = f'{{"changes": [{{"version": {version}, "date": "2020-02-20"}}]}}'.encode()
    with pytest.raises(ParseError, match="the endpoint may have changed") as info:
        parse_version_list(body, "NCT04280705")
    assert said in str(info.value)


def test_messages_stay_one_printable_line_of_bounded_length() -> None:
    message = str(ParseError("a\nb\x1b[31m\ud800" + "x" * 1000))
    assert message.isprintable() and "\n" not in message and len(message) == MAX_MESSAGE
    assert message.startswith("a b\\x1b[31m\\ud800x")
