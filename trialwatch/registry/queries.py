"""Read-side questions: a record as of a time, a trial's versions, changes by filter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import Session, col, select

from trialwatch.kinds import GRADES, grade_rank

from .merge import DEFAULT_PRIORITY, merged_view
from .models import Change, HistoryEntry, Trial, TrialAlias, TrialVersion
from .timeline import REGISTRY_ORIGIN, timeline, tips


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
    as_of: date | None = None,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    *,
    known_at: datetime | None = None,
) -> dict[str, Any] | None:
    """The merged record; None if not held.

    ``as_of`` (a date) answers what the registry said that day, by the registry's own dates;
    ``known_at`` (a moment) answers what trialwatch held then, by when versions were first
    seen. Both may be given; neither looks ahead. Besides the record's fields: ``sources``
    (each origin holding the trial, with its version) and ``field_sources`` (the origin each
    merged field came from).
    """
    trial = find_trial(session, nct_id)
    if trial is None or trial.id is None:
        return None
    versions = tips(
        session,
        trial.id,
        registry_as_of=as_of.isoformat() if as_of else None,
        known_at=known_at,
    )
    view = merged_view(versions, priority)
    if view is None:
        return None
    out, origin = view
    out["sources"] = {
        v.source: {
            "version_id": v.id,
            "format": v.format,
            "first_seen_at": v.first_seen_at.isoformat(),
            "last_seen_at": v.last_seen_at.isoformat(),
            "source_url": v.source_url,
            "registry_date": v.registry_date,
            "registry_version": v.registry_version,
        }
        for v in sorted(versions, key=lambda v: v.source)
    }
    out["field_sources"] = origin
    return out


def history(session: Session, nct_id: str) -> list[dict[str, Any]] | None:
    """Every stored version of the trial, each origin's timeline in order (the registry
    first), with the registry version numbers it holds, the change kinds it brought and
    their grades."""
    trial = find_trial(session, nct_id)
    if trial is None or trial.id is None:
        return None
    versions = session.exec(select(TrialVersion).where(TrialVersion.trial_id == trial.id)).all()
    origins = sorted({v.source for v in versions}, key=lambda o: (o != REGISTRY_ORIGIN, o))
    kinds: dict[int, list[str]] = {}
    grades: dict[int, list[str]] = {}
    for change in session.exec(
        select(Change).where(Change.trial_id == trial.id).order_by(col(Change.id))
    ):
        kinds.setdefault(change.to_version_id, []).append(change.kind)
        grades.setdefault(change.to_version_id, []).append(grade_of(change.grade))
    numbers: dict[int, list[int]] = {}
    for entry in session.exec(
        select(HistoryEntry)
        .where(HistoryEntry.trial_id == trial.id)
        .order_by(col(HistoryEntry.version))
    ):
        numbers.setdefault(entry.version_id, []).append(entry.version)
    rows = []
    for origin in origins:
        for v in timeline(session, trial.id, origin):
            rows.append(
                {
                    "version_id": v.id,
                    "nct_id": v.nct_id,
                    "source": v.source,
                    "format": v.format,
                    "registry_version": v.registry_version,
                    "registry_versions": numbers.get(v.id or -1, []),
                    "registry_date": v.registry_date,
                    "first_seen_at": v.first_seen_at.isoformat(),
                    "last_seen_at": v.last_seen_at.isoformat(),
                    "record_hash": v.record_hash,
                    "snapshot": v.snapshot,
                    "parser_version": v.parser_version,
                    "changes": kinds.get(v.id or -1, []),
                    "grades": grades.get(v.id or -1, []),  # the grade of each of "changes"
                }
            )
    return rows


def grade_of(grade: str | None) -> str:
    """The grade a stored change counts as: one not graded yet (NULL) counts as major."""
    return GRADES[grade_rank(grade)]


def at_least(min_grade: str) -> ColumnElement[bool]:
    """SQL: the change's grade ranks at or above ``min_grade``. A NULL or unknown grade ranks
    as major (``kinds.grade_rank``), so it is never filtered out."""
    if min_grade not in GRADES:
        raise ValueError(f"grade must be one of {', '.join(GRADES)}, not {min_grade!r}")
    below = list(GRADES[: grade_rank(min_grade)])
    if not below:
        return true()
    return or_(col(Change.grade).is_(None), col(Change.grade).not_in(below))


def change_dict(change: Change) -> dict[str, Any]:
    return {
        "id": change.id,
        "nct_id": change.nct_id,
        "kind": change.kind,
        "grade": grade_of(change.grade),
        "source": change.source,
        "from_version_id": change.from_version_id,
        "to_version_id": change.to_version_id,
        "registry_date": change.registry_date,
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
    min_grade: str | None = None,
) -> list[Change]:
    """Stored changes by trial, kind, observed time and least grade (None: every grade)."""
    stmt = select(Change)
    if min_grade is not None:
        stmt = stmt.where(at_least(min_grade))
    if nct_ids:
        stmt = stmt.where(col(Change.nct_id).in_(list(nct_ids)))
    if kinds:
        stmt = stmt.where(col(Change.kind).in_(list(kinds)))
    if since is not None:
        stmt = stmt.where(Change.observed_at >= since)
    order = (col(Change.observed_at), col(Change.registry_date), col(Change.id))
    return list(session.exec(stmt.order_by(*order)).all())
