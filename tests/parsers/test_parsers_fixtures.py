"""Parsers over the saved registry responses in tests/fixtures/<slug>/<case>/.

Cases with an expected.json are checked field by field; the expected values were written
from the saved payloads (see tests/fixtures/SOURCES.md), not from parser output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trialwatch.parsers import ctgov, ctgov_classic, ctgov_history, parse_payload
from trialwatch.record import FIELDS, NCT_RE, TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PARSERS: dict[str, Callable[[bytes, str | None], TrialRecord]] = {
    "ctgov": ctgov.parse,
    "ctgov_history": ctgov_history.parse,
    "ctgov_classic": ctgov_classic.parse,
}


def _payload(case_dir: Path) -> Path:
    files = [p for p in case_dir.iterdir() if p.name != "expected.json"]
    assert len(files) == 1, f"{case_dir} should hold exactly one saved response"
    return files[0]


def _drop_none(value: Any) -> Any:
    """Nested parts without their None members, as expected.json writes them."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


V2_STUDIES = sorted(
    p for p in (FIXTURES / "ctgov").glob("NCT*/*.json") if p.name != "expected.json"
)
V2_PAGES = sorted((FIXTURES / "ctgov").glob("studies_*/*.json"))
EXPECTED = sorted(p.parent for slug in PARSERS for p in (FIXTURES / slug).glob("*/expected.json"))


def _case_id(case_dir: Path) -> str:
    return f"{case_dir.parent.name}/{case_dir.name}"


# --- (1) every saved v2 response parses --------------------------------------


def test_fixture_sets_are_present() -> None:
    assert len(V2_STUDIES) == 18
    assert len(V2_PAGES) == 6


@pytest.mark.parametrize("path", V2_STUDIES, ids=lambda p: p.stem)
def test_every_v2_study_parses(path: Path) -> None:
    record = ctgov.parse(path.read_bytes())
    assert NCT_RE.match(record.nct_id)
    assert record.nct_id in path.name
    assert record.source == "ctgov"
    assert record.source_url == f"https://clinicaltrials.gov/study/{record.nct_id}"
    assert parse_payload(path.read_bytes()) == [record]


@pytest.mark.parametrize("path", V2_PAGES, ids=lambda p: p.stem)
def test_every_study_in_every_v2_page_parses(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    records = ctgov.parse_page(path.read_bytes(), "https://clinicaltrials.gov/api/v2/studies")
    assert len(records) == len(raw["studies"]) > 0
    for record, study in zip(records, raw["studies"], strict=True):
        assert NCT_RE.match(record.nct_id)
        assert record.nct_id == study["protocolSection"]["identificationModule"]["nctId"]
        assert record.source_url == f"https://clinicaltrials.gov/study/{record.nct_id}"
    assert parse_payload(path.read_bytes()) == records


def test_ten_study_page_gives_ten_records_in_order() -> None:
    path = _payload(FIXTURES / "ctgov" / "studies_page_10studies_martinadep")
    ids = [r.nct_id for r in ctgov.parse_page(path.read_bytes())]
    assert ids == [
        "NCT00276835", "NCT05766735", "NCT03572335", "NCT04555135", "NCT00876135",
        "NCT07019935", "NCT02092935", "NCT06070935", "NCT02152735", "NCT05254535",
    ]  # fmt: skip


def test_empty_studies_page_gives_no_records() -> None:
    assert parse_payload(b'{"studies": [], "totalCount": 0}') == []
    assert ctgov.parse_page(b'{"studies": []}') == []


# --- (2) field-by-field expectations -----------------------------------------


def test_enough_expectation_files() -> None:
    names = [_case_id(c) for c in EXPECTED]
    assert sum(n.startswith("ctgov/") for n in names) >= 5
    assert sum(n.startswith("ctgov_classic/") for n in names) >= 2
    assert "ctgov_history/NCT04280705_v0" in names


_parsed: dict[Path, dict[str, Any]] = {}


def _actual(case_dir: Path) -> dict[str, Any]:
    if case_dir not in _parsed:
        record = PARSERS[case_dir.parent.name](_payload(case_dir).read_bytes(), None)
        _parsed[case_dir] = _drop_none(record.model_dump(mode="json"))
    return _parsed[case_dir]


def _expected(case_dir: Path) -> dict[str, Any]:
    return json.loads((case_dir / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("case_dir", "field"),
    [(c, f) for c in EXPECTED for f in FIELDS],
    ids=[f"{_case_id(c)}:{f}" for c in EXPECTED for f in FIELDS],
)
def test_field(case_dir: Path, field: str) -> None:
    assert _actual(case_dir).get(field) == _expected(case_dir).get(field)


@pytest.mark.parametrize("case_dir", EXPECTED, ids=_case_id)
def test_no_unexpected_fields(case_dir: Path) -> None:
    expected = _expected(case_dir)
    assert set(expected) <= set(FIELDS), "expected.json names a field TrialRecord lacks"
    assert set(_actual(case_dir)) - set(expected) == set()


@pytest.mark.parametrize("case_dir", EXPECTED, ids=_case_id)
def test_parse_payload_agrees_with_the_slug_parser(case_dir: Path) -> None:
    body = _payload(case_dir).read_bytes()
    [record] = parse_payload(body)
    assert _drop_none(record.model_dump(mode="json")) == _actual(case_dir)


# --- source, url and version handling ----------------------------------------


def test_given_url_and_source_override() -> None:
    body = _payload(FIXTURES / "ctgov" / "NCT00973089").read_bytes()
    url = "https://clinicaltrials.gov/api/v2/studies/NCT00973089"
    assert ctgov.parse(body, url).source_url == url
    [record] = parse_payload(body, url=url, source="veeva")
    assert (record.source, record.source_url) == ("veeva", url)


def test_history_version_number() -> None:
    body = _payload(FIXTURES / "ctgov_history" / "NCT04280705_v0").read_bytes()
    record = ctgov_history.parse(body)
    assert (record.source, record.registry_version) == ("ctgov_history", "0")
    bumped = json.loads(body)
    bumped["studyVersion"] = 7
    [later] = parse_payload(json.dumps(bumped).encode())
    assert later.registry_version == "7"
    assert later.source_url and later.source_url.endswith("/NCT04280705/history/7")


def test_current_v2_records_have_no_registry_version() -> None:
    for path in V2_STUDIES:
        assert ctgov.parse(path.read_bytes()).registry_version is None


# --- classic version pairs ---------------------------------------------------


def _classic(case: str) -> TrialRecord:
    return ctgov_classic.parse(_payload(FIXTURES / "ctgov_classic" / case).read_bytes())


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("NCT00513591_redownloaded", "NCT00513591"),
        ("NCT02028676_modified", "NCT02028676"),
        ("NCT00002475_2016-05-11", "NCT00002475_2017-01-18"),
    ],
)
def test_classic_version_pairs_parse_to_the_same_trial(older: str, newer: str) -> None:
    before, after = _classic(older), _classic(newer)
    assert before.nct_id == after.nct_id
    assert before.brief_title == after.brief_title
    assert before.eligibility is not None and after.eligibility is not None
    # The criteria were not reworded between these downloads; only layout may differ.
    assert before.eligibility.inclusion == after.eligibility.inclusion
    assert before.eligibility.exclusion == after.eligibility.exclusion


def test_classic_pair_real_changes_show() -> None:
    before, after = _classic("NCT02028676_modified"), _classic("NCT02028676")
    assert before.collaborators is None  # collaborators were added by 2018
    assert after.collaborators


def test_classic_file_named_for_another_trial_reports_its_content() -> None:
    # The file is named NCT00980226 but holds NCT00081588; the content wins.
    assert _classic("NCT00980226-id-mismatch").nct_id == "NCT00081588"


def test_classic_record_without_criteria() -> None:
    record = _classic("NCT03182660")
    assert record.eligibility is None
