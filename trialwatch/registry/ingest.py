"""Ingest: upsert a parsed record as a version of its trial, with the changes it brings.

Functions here take the session as a keyword and never commit: the caller owns the
transaction, so a version and its changes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from trialwatch.diffing.canonical import record_hash
from trialwatch.diffing.changes import compare
from trialwatch.record import TrialRecord

from .models import Change, Trial, TrialAlias, TrialVersion

# Which source's view of a field wins in the merged trial row: the registry first.
SOURCE_PRIORITY: tuple[str, ...] = ("ctgov", "ctgov_history", "ctgov_classic")


class OutOfOrder(ValueError):
    """A record observed before the latest stored version of its source, with other content."""


@dataclass
class IngestResult:
    outcome: Literal["first", "new", "unchanged"]
    version: TrialVersion
    changes: list[Change] = field(default_factory=list)


def latest_version(session: Session, trial_id: int, source: str) -> TrialVersion | None:
    stmt = (
        select(TrialVersion)
        .where(TrialVersion.trial_id == trial_id, TrialVersion.source == source)
        .order_by(col(TrialVersion.first_seen_at).desc(), col(TrialVersion.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def ingest_record(
    record: TrialRecord,
    *,
    session: Session,
    observed_at: datetime,
    snapshot: str | None = None,
    crawl_run_id: int | None = None,
    priority: Sequence[str] = SOURCE_PRIORITY,
) -> IngestResult:
    """Store ``record`` as seen at ``observed_at``; unchanged content only moves last_seen_at."""
    digest = record_hash(record)
    trial = session.exec(select(Trial).where(Trial.nct_id == record.nct_id)).first()
    if trial is None:
        trial = Trial(
            nct_id=record.nct_id,
            record={},
            record_source=record.source,
            first_seen_at=observed_at,
            updated_at=observed_at,
        )
        session.add(trial)
        session.flush()
    assert trial.id is not None
    previous = latest_version(session, trial.id, record.source)

    if previous is not None and previous.record_hash == digest:
        if observed_at > previous.last_seen_at:
            previous.last_seen_at = observed_at
            session.add(previous)
        return IngestResult("unchanged", previous)
    if previous is not None and observed_at < previous.last_seen_at:
        raise OutOfOrder(
            f"{record.nct_id}: observed at {observed_at.isoformat()}, before the latest "
            f"{record.source} version (seen {previous.last_seen_at.isoformat()}); "
            "load older payloads first"
        )

    version = TrialVersion(
        trial_id=trial.id,
        nct_id=record.nct_id,
        source=record.source,
        source_url=record.source_url,
        record_hash=digest,
        snapshot=snapshot,
        record=record.model_dump(mode="json"),
        first_seen_at=observed_at,
        last_seen_at=observed_at,
        registry_date=record.last_update_posted,
        registry_version=record.registry_version,
        crawl_run_id=crawl_run_id,
    )
    session.add(version)
    session.flush()
    assert version.id is not None

    rows: list[Change] = []
    if previous is not None:
        assert previous.id is not None
        old = TrialRecord.model_validate(previous.record)
        for found in compare(old, record):
            rows.append(
                Change(
                    trial_id=trial.id,
                    nct_id=record.nct_id,
                    source=record.source,
                    kind=found.kind,
                    before=found.before,
                    after=found.after,
                    detail=found.detail,
                    from_version_id=previous.id,
                    to_version_id=version.id,
                    observed_at=observed_at,
                    registry_date=record.last_update_posted,
                )
            )
        session.add_all(rows)
        session.flush()  # ids for the outbox rows written in this same transaction
    refresh_trial(session, trial, priority=priority)
    return IngestResult("first" if previous is None else "new", version, rows)


def refresh_trial(session: Session, trial: Trial, *, priority: Sequence[str]) -> None:
    """Recompute the merged current view from each source's latest version."""
    assert trial.id is not None
    chosen = merge_choice(current_versions(session, trial.id), priority)
    if chosen is None:
        return
    trial.record = chosen.record
    trial.record_source = chosen.source
    trial.brief_title = chosen.record.get("brief_title")
    trial.overall_status = chosen.record.get("overall_status")
    trial.updated_at = max(trial.updated_at, chosen.first_seen_at)
    session.add(trial)


def current_versions(
    session: Session, trial_id: int, as_of: datetime | None = None
) -> list[TrialVersion]:
    """The latest version of each source (as it stood at ``as_of`` when given)."""
    stmt = select(TrialVersion).where(TrialVersion.trial_id == trial_id)
    if as_of is not None:
        stmt = stmt.where(TrialVersion.first_seen_at <= as_of)
    stmt = stmt.order_by(col(TrialVersion.first_seen_at), col(TrialVersion.id))
    latest: dict[str, TrialVersion] = {}
    for version in session.exec(stmt):
        latest[version.source] = version
    return list(latest.values())


def merge_choice(versions: Sequence[TrialVersion], priority: Sequence[str]) -> TrialVersion | None:
    """The most trusted source's version; unknown sources after known ones, newest first."""
    if not versions:
        return None
    rank = {name: i for i, name in enumerate(priority)}
    return min(
        versions,
        key=lambda v: (rank.get(v.source, len(rank)), -v.first_seen_at.timestamp()),
    )


def record_alias(session: Session, *, alias: str, nct_id: str, observed_at: datetime) -> None:
    """Remember that the registry redirected ``alias`` to ``nct_id`` (kept once)."""
    if alias == nct_id:
        return
    if session.exec(select(TrialAlias).where(TrialAlias.alias == alias)).first() is None:
        session.add(TrialAlias(alias=alias, nct_id=nct_id, first_seen_at=observed_at))
