"""The canonical JSON is written by orjson: its bytes must be those the standard library
writes, or every stored record hash would move (and every trial seem changed) on upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialwatch.diffing.canonical import (
    canonical,
    canonical_bytes,
    norm_intervention,
    norm_location,
    norm_outcome,
)
from trialwatch.parsers import ParseError, parse_payload
from trialwatch.record import TrialRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _reference(record: TrialRecord) -> bytes:
    """The canonical bytes as json wrote them, lists of objects sorted by json's own text."""
    form = canonical(record)
    lists = {
        "interventions": (record.interventions, norm_intervention),
        "primary_outcomes": (record.primary_outcomes, norm_outcome),
        "secondary_outcomes": (record.secondary_outcomes, norm_outcome),
        "locations": (record.locations, norm_location),
    }
    for name, (values, norm) in lists.items():
        if values:
            items = [norm(v) for v in values]
            form[name] = sorted(
                items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False)
            )
    text = json.dumps(form, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def _records() -> list[tuple[str, TrialRecord]]:
    found = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix not in (".json", ".xml", ".html") or not path.is_file():
            continue
        slug = path.relative_to(FIXTURES).parts[0]
        source = slug if slug in ("centerwatch", "clinicaltrialexchange", "veeva") else None
        try:
            records = parse_payload(path.read_bytes(), source=source)
        except (ParseError, ValueError):
            continue
        found += [(f"{path.relative_to(FIXTURES)}[{i}]", r) for i, r in enumerate(records)]
    return found


RECORDS = _records()


def test_fixtures_give_records() -> None:
    assert len(RECORDS) >= 40


@pytest.mark.parametrize("name,record", RECORDS, ids=[n for n, _ in RECORDS])
def test_orjson_writes_the_standard_bytes(name: str, record: TrialRecord) -> None:
    assert canonical_bytes(record) == _reference(record), name


@pytest.mark.parametrize(
    "title",
    [
        "control \x01\x1f and \x7f characters",
        'quotes " and back\\slash / solidus',
        "line\u2028separator\u2029 and tab\t",
        "non-ASCII: é ü ß — “quoted” 10⁹ µg 中文 𝔘𝔫𝔦 😀",
        "",
    ],
)
def test_awkward_text(title: str) -> None:
    sites = [
        {"facility": f"{title}{end}", "city": city, "country": None}
        for end in ("", " ", ",", "a", "\u00e9", '"')
        for city in (None, "", "A", "A, B", "A B")
    ]
    record = TrialRecord(
        source="ctgov",
        nct_id="NCT01234567",
        brief_title=title,
        conditions=[title, "Asthma"],
        locations=sites,
    )
    assert canonical_bytes(record) == _reference(record)
