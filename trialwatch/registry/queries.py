"""Read-side questions: a record as of a time, a trial's versions, changes by filter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from .ingest import current_versions
from .merge import DEFAULT_PRIORITY, merged_view
from .models import Change, Trial, TrialAlias, TrialVersion


def find_trial(session: Session, nct_id: str) -> Trial | None:
    """The trial by NCT id, following a registry alias when the id was redirected."""
    trial = session.exec(select(Trial).where(Trial.nct_id == nct_id)).first()
    if trial is None:
        alias = session.exec(select(TrialAlias).where(TrialAlias.alias == nct_id)).first()
        if alias is not None:
            trial = session.exec(select(Trial).where(Trial.nct_id == alias.nct_id)).first()
    return trial


def record_as_of(
    session: Session,
    nct_id: str,
    as_of: datetime | None = None,
    priority: Sequence[str] = DEFAULT_PRIORITY,
) -> dict[str, Any] | None:
    """The merged record as it stood at ``as_of`` (now when None); None if not held then.

    Only versions first seen at or before ``as_of`` count, so nothing learnt later leaks in.
    Besides the record's fields: ``sources`` (each source holding the trial, with its
    version) and ``field_sources`` (the source each merged field came from).
    """
    trial = find_trial(session, nct_id)
    if trial is None or trial.id is None:
        return None
    versions = current_versions(session, trial.id, as_of)
    view = merged_view(versions, priority)
    if view is None:
        return None
    out, origin = view
    out["sources"] = {
        v.source: {
            "version_id": v.id,
            "first_seen_at": v.first_seen_at.isoformat(),
            "last_seen_at": v.last_seen_at.isoformat(),
            "source_url": v.source_url,
            "registry_date": v.registry_date,
        }
        for v in sorted(versions, key=lambda v: v.source)
    }
    out["field_sources"] = origin
    return out


def history(session: Session, nct_id: str) -> list[dict[str, Any]] | None:
    """Every stored version of the trial, oldest first, with the change kinds each brought."""
    trial = find_trial(session, nct_id)
    if trial is None:
        return None
    versions = session.exec(
        select(TrialVersion)
        .where(TrialVersion.trial_id == trial.id)
        .order_by(col(TrialVersion.first_seen_at), col(TrialVersion.id))
    ).all()
    kinds: dict[int, list[str]] = {}
    for change in session.exec(
        select(Change).where(Change.trial_id == trial.id).order_by(col(Change.id))
    ):
        kinds.setdefault(change.to_version_id, []).append(change.kind)
    return [
        {
            "version_id": v.id,
            "nct_id": v.nct_id,
            "source": v.source,
            "first_seen_at": v.first_seen_at.isoformat(),
            "last_seen_at": v.last_seen_at.isoformat(),
            "registry_date": v.registry_date,
            "registry_version": v.registry_version,
            "record_hash": v.record_hash,
            "snapshot": v.snapshot,
            "changes": kinds.get(v.id or -1, []),
        }
        for v in versions
    ]


def change_dict(change: Change) -> dict[str, Any]:
    return {
        "nct_id": change.nct_id,
        "kind": change.kind,
        "source": change.source,
        "observed_at": change.observed_at.isoformat(),
        "before": change.before,
        "after": change.after,
        "detail": change.detail,
    }


def list_changes(
    session: Session,
    *,
    nct_ids: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
) -> list[Change]:
    stmt = select(Change)
    if nct_ids:
        stmt = stmt.where(col(Change.nct_id).in_(list(nct_ids)))
    if kinds:
        stmt = stmt.where(col(Change.kind).in_(list(kinds)))
    if since is not None:
        stmt = stmt.where(Change.observed_at >= since)
    return list(session.exec(stmt.order_by(col(Change.observed_at), col(Change.id))).all())
