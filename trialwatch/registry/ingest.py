"""Ingest: upsert a parsed record as a version of its trial, with the changes it brings.

Functions here take the session as a keyword and never commit: the caller owns the
transaction, so a version, its changes (and whatever the caller adds, such as outbox rows)
land together or not at all.
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

from .discrepancies import update_discrepancies
from .merge import DEFAULT_PRIORITY, REGISTRY_SOURCES, merged_view
from .models import Change, Trial, TrialAlias, TrialIdentifier, TrialVersion

# A site page that suddenly shows less than this share of the fields its last version had is
# more likely a redesign or a login wall than a trial that lost its data.
KEEP_SHARE = 0.5


class IngestRefused(ValueError):
    """A record that is not stored; the message says why, naming the trial."""


class OutOfOrder(IngestRefused):
    """Observed before the latest stored version of its source, with other content."""


class Degraded(IngestRefused):
    """A site page that lost most of its fields since its last version."""


class UnknownTrial(IngestRefused):
    """A page with no NCT id whose other identifiers match no stored trial (or several)."""


@dataclass
class IngestResult:
    outcome: Literal["first", "new", "unchanged"]
    version: TrialVersion
    changes: list[Change] = field(default_factory=list)


def _norm_id(value: str) -> str:
    return "".join(value.split()).upper()


def resolve_nct(session: Session, record: TrialRecord) -> TrialRecord:
    """Give a record without an NCT id the one its secondary ids point to."""
    if record.nct_id is not None:
        return record
    ids = sorted({_norm_id(s) for s in record.secondary_ids or [] if len(_norm_id(s)) >= 4})
    where = record.source_url or record.source
    if not ids:
        raise UnknownTrial(f"{where}: no NCT id and no other identifier on the page")
    found = session.exec(
        select(TrialIdentifier.nct_id).where(col(TrialIdentifier.identifier).in_(ids))
    ).all()
    matches = sorted(set(found))
    if len(matches) != 1:
        what = "no stored trial" if not matches else f"several trials ({', '.join(matches)})"
        raise UnknownTrial(f"{where}: no NCT id, and {what} has the id(s) {', '.join(ids)}")
    return record.model_copy(update={"nct_id": matches[0]})


def _remember_ids(session: Session, record: TrialRecord) -> None:
    assert record.nct_id is not None
    wanted = {_norm_id(s) for s in [record.nct_id, *(record.secondary_ids or [])]}
    wanted = {i for i in wanted if len(i) >= 4}
    known = set(
        session.exec(
            select(TrialIdentifier.identifier).where(
                TrialIdentifier.nct_id == record.nct_id, col(TrialIdentifier.identifier).in_(wanted)
            )
        ).all()
    )
    for identifier in sorted(wanted - known):
        session.add(
            TrialIdentifier(identifier=identifier, nct_id=record.nct_id, source=record.source)
        )


def _filled(record: dict[str, object]) -> int:
    skip = {"nct_id", "source", "source_url"}
    return sum(1 for k, v in record.items() if k not in skip and v is not None)


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
    priority: Sequence[str] = DEFAULT_PRIORITY,
) -> IngestResult:
    """Store ``record`` as seen at ``observed_at``; unchanged content only moves last_seen_at."""
    record = resolve_nct(session, record)
    assert record.nct_id is not None
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
    data = record.model_dump(mode="json")
    if previous is not None and record.source not in REGISTRY_SOURCES:
        before, now = _filled(previous.record), _filled(data)
        if now < before * KEEP_SHARE:
            raise Degraded(
                f"{record.nct_id}: the {record.source} page shows {now} of the {before} fields "
                "its last version had; a changed layout or a login wall? not stored as a version"
            )

    version = TrialVersion(
        trial_id=trial.id,
        nct_id=record.nct_id,
        source=record.source,
        source_url=record.source_url,
        record_hash=digest,
        snapshot=snapshot,
        record=data,
        first_seen_at=observed_at,
        last_seen_at=observed_at,
        registry_date=record.last_update_posted,
        registry_version=record.registry_version,
        crawl_run_id=crawl_run_id,
    )
    session.add(version)
    session.flush()
    assert version.id is not None
    _remember_ids(session, record)

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
    versions = current_versions(session, trial.id)
    refresh_trial(session, trial, versions, priority=priority)
    rows += update_discrepancies(session, trial, versions, observed_at=observed_at)
    return IngestResult("first" if previous is None else "new", version, rows)


def refresh_trial(
    session: Session, trial: Trial, versions: Sequence[TrialVersion], *, priority: Sequence[str]
) -> None:
    """Recompute the merged current view from each source's latest version."""
    view = merged_view(versions, priority)
    if view is None:
        return
    merged, origin = view
    trial.record = merged
    trial.record_source = merged["source"]
    trial.field_sources = origin
    trial.brief_title = merged.get("brief_title")
    trial.overall_status = merged.get("overall_status")
    trial.updated_at = max(trial.updated_at, max(v.first_seen_at for v in versions))
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


def record_alias(session: Session, *, alias: str, nct_id: str, observed_at: datetime) -> None:
    """Remember that the registry redirected ``alias`` to ``nct_id`` (kept once)."""
    if alias == nct_id:
        return
    if session.exec(select(TrialAlias).where(TrialAlias.alias == alias)).first() is None:
        session.add(TrialAlias(alias=alias, nct_id=nct_id, first_seen_at=observed_at))
