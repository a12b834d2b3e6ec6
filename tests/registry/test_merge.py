"""One trial across sources: merge by trust, discrepancies recorded once, pages linked by a
secondary id, and a site page that lost its fields refused. The registry side is a real
record; the site side is a record as a site parser returns it (built here, not a page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.parsers import parse_payload
from trialwatch.record import TrialDate, TrialRecord
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.discrepancies import open_discrepancies
from trialwatch.registry.ingest import Degraded, UnknownTrial, ingest_record
from trialwatch.registry.merge import source_priority
from trialwatch.registry.models import Change, Trial, TrialVersion
from trialwatch.registry.queries import list_changes, record_as_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NCT = "NCT03934567"


@pytest.fixture
def engine(db_url):
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def _registry(**changes) -> TrialRecord:
    [record] = parse_payload(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    return record.model_copy(update=changes)


def _site(source="veeva", **fields) -> TrialRecord:
    base = {
        "nct_id": NCT,
        "source": source,
        "source_url": f"https://example.org/{source}/{NCT}",
        "brief_title": "Abexinostat in Relapsed or Refractory Follicular Lymphoma",
        "overall_status": "ACTIVE_NOT_RECRUITING",
        "status_raw": "Active, not recruiting",
        "phases": ["PHASE2"],
        "lead_sponsor": "Xynomic Pharmaceuticals, Inc.",
        "acronym": "ABEX-FL",
        "completion_date": TrialDate(date="2025-10", precision="month"),
    }
    return TrialRecord(**(base | fields))


def _put(engine, record, when, priority=None):
    with transaction(engine) as session:
        kw = {"priority": priority} if priority else {}
        return ingest_record(record, session=session, observed_at=when, **kw)


def test_the_registry_decides_every_field_and_sites_fill_only_without_it(engine, monkeypatch):
    nct = "NCT03934567"
    _put(engine, _site("veeva"), T0)
    _put(engine, _site("centerwatch", brief_title="Other title"), T0 + timedelta(hours=1))
    with transaction(engine) as session:
        sites_only = record_as_of(session, nct)
    # no registry version yet: the most trusted site that has a field fills it
    assert sites_only["brief_title"] == _site().brief_title
    assert sites_only["field_sources"]["brief_title"] == "veeva"
    assert sites_only["acronym"] == "ABEX-FL"
    monkeypatch.setenv("TRIALWATCH_SOURCE_PRIORITY", "centerwatch,veeva")
    order = source_priority()
    assert order[:2] == ("centerwatch", "veeva")
    with transaction(engine) as session:
        reordered = record_as_of(session, nct, priority=order)
    assert reordered["brief_title"] == "Other title"
    assert reordered["field_sources"]["brief_title"] == "centerwatch"

    _put(engine, _registry(), T0 + timedelta(hours=2))
    with transaction(engine) as session:
        assert len(session.exec(select(Trial)).all()) == 1
        assert len(session.exec(select(TrialVersion)).all()) == 3
        shown = record_as_of(session, nct, priority=order)
        trial = session.exec(select(Trial)).one()
    assert set(shown["sources"]) == {"ctgov", "veeva", "centerwatch"}
    assert shown["brief_title"] == _registry().brief_title
    # the registry gives no acronym: the view has none, whatever the sites say
    assert shown["acronym"] is None and "acronym" not in shown["field_sources"]
    assert set(shown["field_sources"].values()) == {"ctgov"}
    assert trial.record["acronym"] is None and trial.record_source == "ctgov"


def test_a_disagreeing_site_gives_one_discrepancy_while_it_lasts(engine):
    _put(engine, _registry(), T0)
    # agrees: same status, and "2025-10" is the registry's 2025-10-30 at month precision
    assert _put(engine, _site(), T0 + timedelta(hours=1)).changes == []
    found = _put(
        engine, _site(overall_status="RECRUITING", status_raw="Recruiting"), T0 + timedelta(days=1)
    )
    assert [c.kind for c in found.changes] == ["status", "source_discrepancy"]
    change = found.changes[1]
    assert (change.kind, change.before, change.after) == (
        "source_discrepancy",
        "ACTIVE_NOT_RECRUITING",
        "RECRUITING",
    )
    assert change.detail["site_source"] == "veeva" and change.detail["registry_source"] == "ctgov"

    # it persists: the same page again, and another edit of the page, record nothing new
    _put(
        engine, _site(overall_status="RECRUITING", status_raw="Recruiting"), T0 + timedelta(days=2)
    )
    _put(
        engine,
        _site(overall_status="RECRUITING", status_raw="Recruiting", acronym="AB"),
        T0 + timedelta(days=3),
    )
    with transaction(engine) as session:
        assert len(list_changes(session, kinds=["source_discrepancy"])) == 1
        [open_row] = open_discrepancies(session)
        assert (open_row.field, open_row.site_value) == ("overall_status", "RECRUITING")
        assert open_row.opened_at == T0 + timedelta(days=1)

    # the registry catches up: the discrepancy closes
    _put(engine, _registry(overall_status="RECRUITING"), T0 + timedelta(days=4))
    with transaction(engine) as session:
        assert open_discrepancies(session) == []

    # a later end-date disagreement is a new one
    slipped = _site(
        overall_status="RECRUITING",
        status_raw="Recruiting",
        acronym="AB",
        completion_date=TrialDate(date="2026-06", precision="month"),
    )
    kinds = [c.kind for c in _put(engine, slipped, T0 + timedelta(days=5)).changes]
    assert kinds == ["completion_date", "source_discrepancy"]
    with transaction(engine) as session:
        change = list_changes(session, kinds=["source_discrepancy"])[-1]
    assert change.detail["field"] == "completion_date"
    assert change.before["date"] == "2025-10-30" and change.after["date"] == "2026-06"


def test_a_page_without_nct_id_is_linked_by_a_secondary_id(engine):
    _put(engine, _registry(), T0)  # its org study id XYN-605 is among its secondary ids
    linked = _put(engine, _site(nct_id=None, secondary_ids=["xyn-605"]), T0 + timedelta(hours=1))
    assert linked.version.nct_id == NCT
    with pytest.raises(UnknownTrial, match="IRB2013-055-02"):
        _put(engine, _site(nct_id=None, secondary_ids=["IRB2013-055-02"]), T0 + timedelta(hours=2))
    with pytest.raises(UnknownTrial, match="no other identifier"):
        _put(engine, _site(nct_id=None), T0 + timedelta(hours=3))


def test_a_site_page_that_lost_most_fields_is_refused(engine):
    _put(engine, _site(), T0)
    with pytest.raises(Degraded, match="veeva"):
        _put(
            engine,
            TrialRecord(nct_id=NCT, source="veeva", brief_title="Sign in"),
            T0 + timedelta(1),
        )
    with transaction(engine) as session:
        assert len(session.exec(select(TrialVersion)).all()) == 1
        assert session.exec(select(Change)).all() == []
