"""The first version of trials the database has never held, written in bulk.

A first load is all first versions: a trial row, its version and its identifiers, no
changes, no discrepancies (no site holds the trial yet), nothing to alert. Each is made
ready where the study is parsed (`first_version`: the rows' values, the records already
JSON, the payload compressed), so that the writer only inserts: a few executemany
statements per batch instead of several ORM objects per record, with the same rows
``ingest_record`` writes for a trial's first registry version
(``tests/test_ingest_engine.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import insert
from sqlmodel import Session, col, select

from trialwatch.diffing.findings import Finding as Found
from trialwatch.diffing.findings import Step, find
from trialwatch.record import TrialRecord
from trialwatch.snapshots import PayloadStore, compress, digest_of

from .findings import finding_row
from .ingest import norm_id
from .merge import single_view, versions_origin
from .models import Finding, Trial, TrialIdentifier, TrialVersion
from .timeline import REGISTRY_ORIGIN, origin_of


@dataclass(slots=True)
class FirstVersion:
    """A trial's first version, ready to insert: plain values and JSON bytes, cheap to
    hand from a parse worker to the writer."""

    nct_id: str
    format: str  # the parser's slug (record.source)
    source_url: str | None
    registry_date: str | None  # record.last_update_posted
    registry_version: str | None
    digest: str  # record_hash
    record: bytes  # the record as JSON
    view: bytes  # the trial's merged view as JSON
    field_sources: bytes  # {field: origin} as JSON
    record_source: str  # the origin the view came from
    brief_title: str | None
    overall_status: str | None
    identifiers: tuple[str, ...]
    snapshot: str  # the raw payload's sha256
    packed: bytes  # the raw payload, compressed as the store keeps it
    size: int  # the raw payload's length
    stored: bool = False  # its payload is in the store already (a worker put it there)
    raw_hash: str | None = None
    observed_at: datetime | None = None
    crawl_run_id: int | None = None
    # what this one version shows already (diffing.findings; version id 0 until written)
    findings: tuple[Found, ...] = ()

    @property
    def origin(self) -> str:
        return origin_of(self.format)


def first_version(record: TrialRecord, digest: str, raw: bytes) -> FirstVersion:
    """``record`` (parsed from ``raw``, hashed as ``digest``) as a first version."""
    assert record.nct_id is not None
    dumped = record.model_dump(mode="json")
    origin = origin_of(record.source)
    view, sources = single_view(dumped, origin)
    return FirstVersion(
        nct_id=record.nct_id,
        format=record.source,
        source_url=record.source_url,
        registry_date=record.last_update_posted,
        registry_version=record.registry_version,
        digest=digest,
        record=orjson.dumps(dumped),
        view=orjson.dumps(view),
        field_sources=orjson.dumps(sources),
        record_source=versions_origin(view, sources),
        brief_title=view.get("brief_title"),
        overall_status=view.get("overall_status"),
        identifiers=tuple(sorted(_identifiers(record))),
        snapshot=digest_of(raw),
        packed=compress(raw),
        size=len(raw),
        findings=tuple(first_findings(record)),
    )


def first_findings(record: TrialRecord) -> list[Found]:
    """The findings a trial's first registry version shows on its own (a status or results
    long overdue); computed where it is parsed."""
    if origin_of(record.source) != REGISTRY_ORIGIN or not record.last_update_posted:
        return []
    return find([Step(0, record.last_update_posted, record.registry_version, record)])


def held_trials(session: Session, nct_ids: Sequence[str]) -> set[str]:
    """Which of these trials the database holds (by any origin)."""
    if not nct_ids:
        return set()
    found = session.exec(select(Trial.nct_id).where(col(Trial.nct_id).in_(nct_ids))).all()
    return set(found)


def store_first_versions(
    session: Session,
    items: Sequence[FirstVersion],
    *,
    parser_version: str,
    store: PayloadStore,
) -> list[int]:
    """Write each item (observed_at set) as the first version of a trial not held yet (one
    item per trial), its payload into ``store``, in the caller's transaction; the versions'
    ids, in the items' order."""
    if not items:
        return []
    payloads = [(i.snapshot, i.size, i.packed) for i in items if not i.stored]
    store.put_packed(payloads, session=session)
    trials = [
        {
            "nct_id": item.nct_id,
            "brief_title": item.brief_title,
            "overall_status": item.overall_status,
            "record": orjson.Fragment(item.view),
            "record_source": item.record_source,
            "field_sources": orjson.Fragment(item.field_sources),
            "first_seen_at": item.observed_at,
            "updated_at": item.observed_at,
        }
        for item in items
    ]
    trial_ids = list(
        session.execute(
            insert(Trial).returning(col(Trial.id), sort_by_parameter_order=True), trials
        ).scalars()
    )
    versions = [
        {
            "trial_id": trial_id,
            "nct_id": item.nct_id,
            "source": item.origin,
            "format": item.format,
            "parser_version": parser_version,
            "source_url": item.source_url,
            "record_hash": item.digest,
            "snapshot": item.snapshot,
            "record": orjson.Fragment(item.record),
            "first_seen_at": item.observed_at,
            "last_seen_at": item.observed_at,
            "registry_date": item.registry_date,
            "registry_version": item.registry_version,
            "crawl_run_id": item.crawl_run_id,
            "raw_hash": item.raw_hash,
        }
        for item, trial_id in zip(items, trial_ids, strict=True)
    ]
    version_ids = session.execute(
        insert(TrialVersion).returning(col(TrialVersion.id), sort_by_parameter_order=True),
        versions,
    ).scalars()
    found = list(version_ids)
    rows = [
        finding_row(
            new,
            trial_id=trial_id,
            nct_id=item.nct_id,
            version_id=int(version_id),
            observed_at=item.observed_at,
        )
        for item, trial_id, version_id in zip(items, trial_ids, found, strict=True)
        if item.observed_at is not None
        for new in item.findings
    ]
    if rows:
        session.execute(insert(Finding), rows)
    identifiers = [
        {"identifier": identifier, "nct_id": item.nct_id, "source": item.format}
        for item in items
        for identifier in item.identifiers
    ]
    if identifiers:
        session.execute(insert(TrialIdentifier), identifiers)
    return [int(i) for i in found]


def _identifiers(record: TrialRecord) -> set[str]:
    wanted = {norm_id(s) for s in [record.nct_id or "", *(record.secondary_ids or [])]}
    return {i for i in wanted if len(i) >= 4}
