"""What a batch of registry records needs from the database, a statement per batch, not per
record: the latest registry version of each trial, the seen times of unchanged versions, and a
search's members."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from .models import QueryMember, TrialAlias, TrialVersion
from .timeline import REGISTRY_ORIGIN, Key, payload_key


@dataclass
class Latest:
    """The latest registry version of a trial, without its record."""

    id: int
    raw_hash: str | None
    record_hash: str
    parser_version: str | None
    key: Key
    first_seen_at: datetime


@dataclass
class Snapshot:
    """The latest versions as read outside the write lock, and the last version id then.

    If no version was added since (the last id is the same), the latest versions are still
    the latest: versions are never deleted, and what another writer may have changed in one
    (an earlier first_seen_at or registry date, a raw hash, a newer parser_version) only
    makes the fast checks fail, and the study is then parsed and ingested in full."""

    last_id: int
    latest: dict[str, Latest]


def last_version_id(session: Session) -> int:
    return session.execute(columns(func.max(col(TrialVersion.id)))).scalar() or 0


def latest_registry(session: Session, nct_ids: Sequence[str]) -> dict[str, Latest]:
    """The latest registry version of each trial held, by NCT id (the timeline's own order)."""
    if not nct_ids:
        return {}
    wanted: list[Any] = [
        TrialVersion.id,
        TrialVersion.nct_id,
        TrialVersion.raw_hash,
        TrialVersion.record_hash,
        TrialVersion.parser_version,
        TrialVersion.registry_date,
        TrialVersion.registry_version,
        TrialVersion.first_seen_at,
    ]
    rows = session.execute(
        columns(*wanted).where(
            col(TrialVersion.source) == REGISTRY_ORIGIN, col(TrialVersion.nct_id).in_(nct_ids)
        )
    ).all()
    found: dict[str, tuple[tuple[Key, int], Latest]] = {}
    for vid, nct, raw, digest, parser, day, number, seen in rows:
        assert vid is not None
        key = payload_key(day, number, seen)
        order = (key, vid)
        held = found.get(nct)
        if held is None or order > held[0]:
            found[nct] = (order, Latest(vid, raw, digest, parser, key, seen))
    return {nct: latest for nct, (_order, latest) in found.items()}


def added_since(session: Session, nct_ids: Sequence[str], last_id: int) -> list[str]:
    """Which of these trials gained a version after version ``last_id``."""
    if not nct_ids:
        return []
    query = (
        select(col(TrialVersion.nct_id))
        .where(col(TrialVersion.id) > last_id, col(TrialVersion.nct_id).in_(nct_ids))
        .distinct()
    )
    return sorted(session.execute(query).scalars())


def touch_seen(session: Session, seen: Iterable[tuple[int, datetime]]) -> None:
    """Move each version's ``last_seen_at`` forward to when it was seen again: one statement per
    distinct time, never backwards."""
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for version_id, at in seen:
        by_time[at].append(version_id)
    for at, ids in by_time.items():
        session.execute(
            update(TrialVersion)
            .where(col(TrialVersion.id).in_(ids), col(TrialVersion.last_seen_at) < at)
            .values(last_seen_at=at)
        )


def set_raw_hash(session: Session, pairs: Iterable[tuple[int, str]]) -> None:
    """Remember the raw hash a version was last seen with (a lookup key, not history)."""
    for version_id, raw in pairs:
        session.execute(
            update(TrialVersion).where(col(TrialVersion.id) == version_id).values(raw_hash=raw)
        )


def note_members(session: Session, found: Iterable[tuple[str, str, datetime]]) -> None:
    """Remember the trials each search returned (``(query key, NCT id, seen at)``), once."""
    wanted: dict[tuple[str, str], datetime] = {}
    for key, nct, at in found:
        wanted.setdefault((key, nct), at)
    if not wanted:
        return
    keys = {k for k, _n in wanted}
    ncts = {n for _k, n in wanted}
    held = set(
        session.exec(
            select(QueryMember.query_key, QueryMember.nct_id).where(
                col(QueryMember.query_key).in_(keys), col(QueryMember.nct_id).in_(ncts)
            )
        ).all()
    )
    session.add_all(
        QueryMember(query_key=k, nct_id=n, first_seen_at=at)
        for (k, n), at in wanted.items()
        if (k, n) not in held
    )


def note_aliases(session: Session, found: Iterable[tuple[str, str, datetime]]) -> None:
    """Remember each NCT id the registry redirected to another (``(alias, NCT id, seen)``)."""
    wanted = {alias: (nct, at) for alias, nct, at in found if alias != nct}
    if not wanted:
        return
    held = set(
        session.exec(select(TrialAlias.alias).where(col(TrialAlias.alias).in_(wanted))).all()
    )
    session.add_all(
        TrialAlias(alias=alias, nct_id=nct, first_seen_at=at)
        for alias, (nct, at) in wanted.items()
        if alias not in held
    )
