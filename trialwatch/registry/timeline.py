"""One timeline per trial and origin: the order of versions and the changes between them.

An origin is who published the content: the registry (``ctgov``, whatever the payload's
format) or one republishing site. Versions are ordered by the registry's clock where the
payload carries one (its last-update date, the record-history version number breaking ties
within a day; a version with no number is the latest of its day), else by when they were first
seen, then by id. Never by file name or arrival order.

Changes are derived: ``relink(a, b)`` makes the stored changes into ``b`` those that
``compare(a, b)`` finds now, keeping the rows that still hold (and regrading in place those
graded differently now), so relinking twice changes nothing and a payload slotted into the
middle of a timeline rewrites only its neighbours' links.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session, col, delete, select

from trialwatch.diffing.changes import Change as FoundChange
from trialwatch.diffing.changes import compare
from trialwatch.record import TrialRecord

from .models import Change, Delivery, TrialVersion

REGISTRY_ORIGIN = "ctgov"
# The registry's payload formats (parser slugs); all of them are the one origin above.
REGISTRY_FORMATS: tuple[str, ...] = ("ctgov", "ctgov_history", "ctgov_classic")
_NO_NUMBER = 10**9  # a version without a registry number sorts last within its day
DISCREPANCY = "source_discrepancy"

Key = tuple[str, int, datetime]


def origin_of(source: str) -> str:
    """The origin of a record from ``source`` (a parser slug)."""
    return REGISTRY_ORIGIN if source in REGISTRY_FORMATS else source


def number_of(registry_version: str | None) -> int:
    text = (registry_version or "").strip()
    return int(text) if text.isdigit() else _NO_NUMBER


def payload_key(registry_date: str | None, registry_version: str | None, seen: datetime) -> Key:
    """Where a payload sits in its origin's timeline."""
    return (registry_date or seen.date().isoformat(), number_of(registry_version), seen)


def version_key(version: TrialVersion) -> Key:
    return payload_key(version.registry_date, version.registry_version, version.first_seen_at)


def ordered(versions: Sequence[TrialVersion]) -> list[TrialVersion]:
    return sorted(versions, key=lambda v: (*version_key(v), v.id or 0))


def timeline(session: Session, trial_id: int, origin: str) -> list[TrialVersion]:
    """The origin's versions of the trial, oldest first."""
    stmt = select(TrialVersion).where(
        TrialVersion.trial_id == trial_id, TrialVersion.source == origin
    )
    return ordered(list(session.exec(stmt).all()))


def tips(
    session: Session,
    trial_id: int,
    *,
    registry_as_of: str | None = None,
    known_at: datetime | None = None,
) -> list[TrialVersion]:
    """The latest version of each origin of the trial.

    ``registry_as_of`` (a date): the version in force on that day by the registry's clock
    (sites, which carry no registry date, by the day they were first seen). ``known_at``: only
    versions trialwatch held at that moment. Neither looks ahead.
    """
    stmt = select(TrialVersion).where(TrialVersion.trial_id == trial_id)
    if known_at is not None:
        stmt = stmt.where(TrialVersion.first_seen_at <= known_at)
    versions = list(session.exec(stmt).all())
    if registry_as_of is not None:
        versions = [v for v in versions if version_key(v)[0] <= registry_as_of]
    return latest_of(versions)


def latest_of(versions: Sequence[TrialVersion]) -> list[TrialVersion]:
    """The last version of each origin among ``versions``, in timeline order."""
    latest: dict[str, TrialVersion] = {}
    for version in ordered(versions):
        latest[version.source] = version
    return list(latest.values())


def record_of(version: TrialVersion) -> TrialRecord:
    return TrialRecord.model_validate(version.record)


def _fingerprint(kind: str, before: Any, after: Any, detail: Any, grade: str | None) -> str:
    return json.dumps([kind, before, after, detail, grade], sort_keys=True, default=str)


def _identity(kind: str, before: Any, after: Any, detail: Any) -> str:
    """Which change this is, however it is described: the detail (and the grade) follow from
    the kind, the two values and, for kinds with one change per field, the field."""
    return _fingerprint(kind, before, after, {"field": (detail or {}).get("field")}, None)


def drop_changes(session: Session, ids: Sequence[int]) -> None:
    """Delete derived changes and the outbox rows waiting on them (a message already composed
    keeps its text)."""
    if not ids:
        return
    session.exec(delete(Delivery).where(col(Delivery.change_id).in_(list(ids))))
    session.exec(delete(Change).where(col(Change.id).in_(list(ids))))


class Relinked(NamedTuple):
    inserted: list[Change]  # new change rows (the only ones an ingest may alert on)
    dropped: int  # stale rows deleted
    rewritten: int  # rows kept whose grade or detail was rewritten


def relink(session: Session, before: TrialVersion | None, after: TrialVersion | None) -> Relinked:
    """Make the stored changes into ``after`` those from ``before`` (none when it is first).

    Rows that still hold are kept (their ids, and the deliveries made for them, stay). The same
    change described anew (another grade, reason or detail, from a newer comparison) is
    rewritten in place: it is not news, so it is never alerted, and past alerts stay on record.
    """
    if after is None:
        return Relinked([], 0, 0)
    assert after.id is not None
    existing = session.exec(
        select(Change)
        .where(Change.to_version_id == after.id, Change.kind != DISCREPANCY)
        .order_by(col(Change.id))
    ).all()
    found = [] if before is None else compare(record_of(before), record_of(after))
    exact: dict[str, list[Change]] = {}
    for row in existing:
        key = _fingerprint(row.kind, row.before, row.after, row.detail, row.grade)
        exact.setdefault(key, []).append(row)
    unmatched: list[FoundChange] = []
    for item in found:
        rows = exact.get(_fingerprint(item.kind, item.before, item.after, item.detail, item.grade))
        if rows:
            _place(session, rows.pop(0), before, after)
        else:
            unmatched.append(item)
    # Second pass, so an exact match is never taken by a change that was only described anew.
    loose: dict[str, list[Change]] = {}
    for row in (row for rows in exact.values() for row in rows):
        loose.setdefault(_identity(row.kind, row.before, row.after, row.detail), []).append(row)
    inserted: list[Change] = []
    rewritten = 0
    for item in unmatched:
        rows = loose.get(_identity(item.kind, item.before, item.after, item.detail))
        if rows:
            row = rows.pop(0)
            row.detail, row.grade = item.detail, item.grade
            _place(session, row, before, after, changed=True)
            rewritten += 1
            continue
        assert before is not None and before.id is not None
        row = Change(
            trial_id=after.trial_id,
            nct_id=after.nct_id,
            source=after.source,
            kind=item.kind,
            before=item.before,
            after=item.after,
            detail=item.detail,
            grade=item.grade,
            from_version_id=before.id,
            to_version_id=after.id,
            observed_at=_seen(before, after),
            registry_date=after.registry_date,
        )
        session.add(row)
        inserted.append(row)
    stale = [row.id for rows in loose.values() for row in rows if row.id is not None]
    drop_changes(session, stale)
    if inserted:
        session.flush()  # ids for the outbox rows written in this same transaction
    return Relinked(inserted, len(stale), rewritten)


def _seen(before: TrialVersion | None, after: TrialVersion) -> datetime:
    return after.first_seen_at if before is None else max(before.first_seen_at, after.first_seen_at)


def _place(
    session: Session,
    row: Change,
    before: TrialVersion | None,
    after: TrialVersion,
    *,
    changed: bool = False,
) -> None:
    """Point a kept row at its versions as they stand now."""
    assert before is not None and before.id is not None
    seen = _seen(before, after)
    if changed or (row.from_version_id, row.registry_date, row.observed_at) != (
        before.id,
        after.registry_date,
        seen,
    ):
        row.from_version_id = before.id
        row.registry_date = after.registry_date
        row.observed_at = seen
        session.add(row)
