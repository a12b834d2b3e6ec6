"""Ingest against a real database (SQLite, and PostgreSQL where reachable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.parsers import parse_payload
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.ingest import ingest_record
from trialwatch.registry.models import Change, Trial, TrialVersion
from trialwatch.registry.queries import history, list_changes, record_as_of

T0 = datetime(2023, 9, 12, 8, 0, tzinfo=UTC)
T1 = datetime(2025, 9, 12, 8, 0, tzinfo=UTC)


def _record(name: str, mutate=None):
    data = json.loads(fixture_file(name).read_bytes())
    if mutate:
        mutate(data)
    [record] = parse_payload(json.dumps(data).encode())
    return record


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def _ingest(engine, record, when):
    with transaction(engine) as session:
        return ingest_record(record, session=session, observed_at=when, snapshot="0" * 64)


def _count(engine, table):
    with transaction(engine) as session:
        return len(session.exec(select(table)).all())


def test_same_content_moves_last_seen_only(engine):
    record = _record("ctgov_v2_NCT03934567.json")
    assert _ingest(engine, record, T0).outcome == "first"
    later = T0 + timedelta(days=3)
    again = _ingest(engine, record, later)
    assert again.outcome == "unchanged"
    assert _count(engine, TrialVersion) == 1 and _count(engine, Change) == 0
    with transaction(engine) as session:
        version = session.exec(select(TrialVersion)).one()
        assert version.first_seen_at == T0 and version.last_seen_at == later
        assert version.first_seen_at.tzinfo is not None


def test_reformatted_criteria_are_not_a_new_version(engine):
    def rewrap(data):
        module = data["protocolSection"]["eligibilityModule"]
        text = module["eligibilityCriteria"].replace("\n", "\r\n").replace("≥", "&ge;")
        module["eligibilityCriteria"] = text.replace("1. ", "1) ", 1)

    _ingest(engine, _record("ctgov_v2_NCT03934567.json"), T0)
    assert _ingest(engine, _record("ctgov_v2_NCT03934567.json", rewrap), T1).outcome == "unchanged"
    assert _count(engine, TrialVersion) == 1


def test_real_later_version_stores_changes_and_updates_the_trial(engine):
    old = _record("ctgov_v2_NCT04267848_complex_variant.json")
    new = _record("ctgov_v2_NCT04267848.json")
    _ingest(engine, old, T0)
    result = _ingest(engine, new, T1)
    assert result.outcome == "new"
    kinds = {c.kind for c in result.changes}
    assert "locations" in kinds  # the older file's site list was cut to 2
    with transaction(engine) as session:
        trial = session.exec(select(Trial)).one()
        assert trial.record["last_update_posted"] == new.last_update_posted
        stored = list_changes(session, nct_ids=["NCT04267848"])
        assert {c.kind for c in stored} == kinds
        assert all(c.observed_at == T1 for c in stored)
        rows = history(session, "NCT04267848")
        assert [r["changes"] == [] for r in rows] == [True, False]
        # "known at" never leaks the later version
        before = record_as_of(session, "NCT04267848", known_at=T1 - timedelta(seconds=1))
        assert before["last_update_posted"] == old.last_update_posted
        assert record_as_of(session, "NCT04267848", known_at=T0 - timedelta(days=1)) is None


def test_older_content_arriving_later_takes_its_slot_by_the_registry_clock(engine):
    old = _record("ctgov_v2_NCT04267848_complex_variant.json")
    new = _record("ctgov_v2_NCT04267848.json")
    assert old.last_update_posted < new.last_update_posted
    _ingest(engine, new, T0)
    result = _ingest(engine, old, T1)  # seen later, but the registry published it earlier
    assert result.outcome == "inserted" and result.changes == []
    with transaction(engine) as session:
        rows = history(session, "NCT04267848")
        assert [r["registry_date"] for r in rows] == [
            old.last_update_posted,
            new.last_update_posted,
        ]
        assert rows[0]["changes"] == [] and "locations" in rows[1]["changes"]
        changes = list_changes(session, nct_ids=["NCT04267848"])
        assert {c.to_version_id for c in changes} == {rows[1]["version_id"]}
        assert {c.from_version_id for c in changes} == {rows[0]["version_id"]}
        assert all(c.observed_at == T1 for c in changes)  # known once both versions were
        trial = session.exec(select(Trial)).one()
        assert trial.record["last_update_posted"] == new.last_update_posted
    # the same two payloads again, in either order, add nothing
    assert _ingest(engine, old, T1 + timedelta(days=1)).outcome == "unchanged"
    assert _ingest(engine, new, T1 + timedelta(days=2)).outcome == "unchanged"
    assert _count(engine, TrialVersion) == 2


def test_a_revert_is_a_new_version(engine):
    def complete(data):
        data["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"

    base = _record("ctgov_v2_NCT03934567.json")
    _ingest(engine, base, T0)
    _ingest(engine, _record("ctgov_v2_NCT03934567.json", complete), T0 + timedelta(days=1))
    _ingest(engine, base, T0 + timedelta(days=2))
    with transaction(engine) as session:
        statuses = [(c.before, c.after) for c in list_changes(session, kinds=["status"])]
    assert statuses == [
        ("ACTIVE_NOT_RECRUITING", "COMPLETED"),
        ("COMPLETED", "ACTIVE_NOT_RECRUITING"),
    ]
