"""The first version of trials the database has never held, written in bulk.

A first load is all first versions: a trial row, its version and its identifiers, no
changes, no discrepancies (no site holds the trial yet), nothing to alert. Written with a few
statements per batch instead of several per record, and with the same rows ``ingest_record``
writes for a trial's first registry version (``tests/test_ingest_engine.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from trialwatch.record import TrialRecord

from .ingest import norm_id
from .merge import refresh_trial
from .models import Trial, TrialIdentifier, TrialVersion
from .timeline import origin_of


@dataclass
class FirstVersion:
    record: TrialRecord
    digest: str  # record_hash
    snapshot: str  # the raw payload's sha256
    raw_hash: str | None
    observed_at: datetime
    crawl_run_id: int | None


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
    priority: Sequence[str],
) -> list[TrialVersion]:
    """Write each item as the first version of a trial not held yet (one item per trial),
    in the caller's transaction; the versions, in the items' order."""
    versions: list[TrialVersion] = []
    trials: list[Trial] = []
    for item in items:
        record = item.record
        assert record.nct_id is not None
        version = TrialVersion(
            trial_id=0,  # set below, once the trial has its id
            nct_id=record.nct_id,
            source=origin_of(record.source),
            format=record.source,
            parser_version=parser_version,
            source_url=record.source_url,
            record_hash=item.digest,
            snapshot=item.snapshot,
            record=record.model_dump(mode="json"),
            first_seen_at=item.observed_at,
            last_seen_at=item.observed_at,
            registry_date=record.last_update_posted,
            registry_version=record.registry_version,
            crawl_run_id=item.crawl_run_id,
            raw_hash=item.raw_hash,
        )
        trial = Trial(
            nct_id=record.nct_id,
            record={},
            record_source=version.source,
            first_seen_at=item.observed_at,
            updated_at=item.observed_at,
        )
        refresh_trial(session, trial, [version], priority=priority)
        versions.append(version)
        trials.append(trial)
    session.add_all(trials)
    session.flush()  # one multi-row INSERT, ids returned
    for trial, version in zip(trials, versions, strict=True):
        assert trial.id is not None
        version.trial_id = trial.id
    session.add_all(versions)
    session.add_all(
        TrialIdentifier(identifier=identifier, nct_id=nct, source=item.record.source)
        for item in items
        for nct in [item.record.nct_id or ""]
        for identifier in sorted(_identifiers(item.record))
    )
    session.flush()
    return versions


def _identifiers(record: TrialRecord) -> set[str]:
    wanted = {norm_id(s) for s in [record.nct_id or "", *(record.secondary_ids or [])]}
    return {i for i in wanted if len(i) >= 4}
