"""The record-history version list adapter: strict about a shape nobody documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trialwatch.demo.history import history_versions, version_list
from trialwatch.parsers import ParseError
from trialwatch.parsers.ctgov_history import HistoryEntry, parse_version_list, wanted_versions

NCT = "NCT04280705"


def entries() -> list[HistoryEntry]:
    return parse_version_list(version_list(history_versions()), NCT)


def listed(*changes: Any) -> bytes:
    return json.dumps({"changes": list(changes)}).encode()


def test_the_replayed_list_parses_in_version_order() -> None:
    got = entries()
    assert [e.version for e in got] == [0, 1, 2, 3, 4, 5]
    assert got[0] == HistoryEntry(
        version=0,
        date="2020-02-20",
        status="NOT_YET_RECRUITING",
        module_labels=got[0].module_labels,
    )
    assert "Eligibility" in got[0].module_labels
    assert got[3] == HistoryEntry(3, "2020-04-02", "RECRUITING", ("Study Status", "Eligibility"))
    assert got[5].status == "ACTIVE_NOT_RECRUITING"


def test_entries_are_sorted_and_optional_fields_may_be_missing() -> None:
    body = listed({"version": 2, "date": "2021-01-05"}, {"version": 0, "status": None})
    assert parse_version_list(body, NCT) == [
        HistoryEntry(0, None, None, ()),
        HistoryEntry(2, "2021-01-05", None, ()),
    ]


def test_an_empty_list_means_no_history() -> None:
    assert parse_version_list(b'{"changes": []}', NCT) == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html>Service moved</html>", "not JSON"),
        (b"[]", "top level is list"),
        (b'{"versions": []}', 'no "changes" list'),
        (b'{"changes": {"0": {}}}', 'no "changes" list'),
        (listed("v0"), "entry 0 is not an object"),
        (listed({"version": 0}, {"date": "2020-01-01"}), 'entry 1 has no integer "version"'),
        (listed({"version": "3"}), 'entry 0 has no integer "version"'),
        (listed({"version": True}), 'entry 0 has no integer "version"'),
        (listed({"version": 1.0}), 'entry 0 has no integer "version"'),
        (listed({"version": -1}), "entry 0 has version -1"),
        (listed({"version": 0, "date": "20/02/2020"}), "entry 0 has date '20/02/2020'"),
        (listed({"version": 0, "date": "2020-02-30"}), "entry 0 has date '2020-02-30'"),
        (listed({"version": 0, "date": 20200220}), "entry 0 has date 20200220"),
        (listed({"version": 0, "status": 3}), "entry 0 has status 3"),
        (listed({"version": 0, "moduleLabels": "Eligibility"}), '"moduleLabels"'),
        (listed({"version": 0}, {"version": 1}, {"version": 1}), "version 1 is listed twice"),
    ],
)
def test_any_unexpected_shape_is_one_line_naming_the_trial(body: bytes, detail: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_version_list(body, NCT)
    message = str(caught.value)
    assert message.startswith(f"{NCT}: the registry's history list has an unexpected shape (")
    assert message.endswith("; the endpoint may have changed")
    assert detail in message
    assert "\n" not in message


def test_wanted_versions_all_minus_those_held() -> None:
    got = entries()
    assert wanted_versions(got, have=set(), modules=None) == [0, 1, 2, 3, 4, 5]
    assert wanted_versions(got, have={0, 1, 2}, modules=None) == [3, 4, 5]
    assert wanted_versions(got, have={0, 1, 2, 3, 4, 5}, modules=None) == []
    assert wanted_versions([], have=set(), modules=None) == []


def test_wanted_versions_by_module_keep_version_0_and_match_any_case() -> None:
    got = entries()
    assert wanted_versions(got, have=set(), modules=["Eligibility"]) == [0, 3]
    assert wanted_versions(got, have=set(), modules=["eligibility", "STUDY DESIGN"]) == [0, 2, 3]
    assert wanted_versions(got, have={0}, modules=["Eligibility"]) == [3]
    assert wanted_versions(got, have=set(), modules=["Results"]) == [0]
    assert wanted_versions(got, have=set(), modules=["Study Status"]) == [0, 1, 2, 3, 4, 5]
