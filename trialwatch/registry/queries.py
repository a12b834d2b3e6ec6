"""Read-side questions: a record as of a time, a trial's versions, changes by filter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, func, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
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


DATE_KINDS: tuple[str, ...] = ("start_date", "primary_completion_date", "completion_date")
CLOCKS: tuple[str, ...] = ("observed", "registry")
PHASES: tuple[str, ...] = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")
_PHASE_WORDS = {
    **{str(n): f"PHASE{n}" for n in range(1, 5)},
    "EARLY1": "EARLY_PHASE1",
    "EARLYPHASE1": "EARLY_PHASE1",
    "N/A": "NA",
    "NOTAPPLICABLE": "NA",
}


def phase_word(value: str) -> str:
    """A phase as people write it (``3``, ``phase3``, ``Phase 3``, ``early1``,
    ``EARLY_PHASE1``, ``na``) as the registry's word; else ValueError naming it."""
    key = re.sub(r"[\s_\-]+", "", value.strip().upper())
    if key in _PHASE_WORDS:
        return _PHASE_WORDS[key]
    for word in PHASES:
        if key == word.replace("_", ""):
            return word
    raise ValueError(
        f"{value[:40]!r} is not a phase (1, 2, 3, 4, early1, na, or the registry's "
        f"{', '.join(PHASES)})"
    )


class utc_day(FunctionElement[str]):
    """SQL: a stored UTC time's day as ISO text (``YYYY-MM-DD``)."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_text(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTCDateTime as naive ISO text ("2026-11-01 09:00:00.000000").
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"to_char(({inner}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def change_day(clock: str) -> ColumnElement[str]:
    """SQL: the day a change counts on by ``clock``, as ISO text. The registry clock uses the
    registry date of the version that brought it; a change without one (from a site) counts
    on the UTC day it was observed."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
    observed = utc_day(col(Change.observed_at))
    if clock == "observed":
        return observed
    return func.coalesce(col(Change.registry_date), observed)


def change_conditions(
    *,
    nct_ids: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    min_grade: str | None = None,
    sources: Sequence[str] = (),
    min_delay_days: int | None = None,
    phases: Sequence[str] = (),
    sponsors: Sequence[str] = (),
    statuses: Sequence[str] = (),
    clock: str = "observed",
) -> list[ColumnElement[bool]]:
    """The SQL conditions on ``change`` for these filters (see ``list_changes``)."""
    day = change_day(clock)  # checks the clock
    where: list[ColumnElement[bool]] = []
    if min_grade is not None:
        where.append(at_least(min_grade))
    if nct_ids:
        where.append(col(Change.nct_id).in_(list(nct_ids)))
    if kinds:
        where.append(col(Change.kind).in_(list(kinds)))
    if sources:
        where.append(col(Change.source).in_(list(sources)))
    if clock == "observed":
        if since is not None:
            where.append(col(Change.observed_at) >= since)
        if until is not None:
            where.append(col(Change.observed_at) <= until)
    else:
        if since is not None:
            where.append(day >= _utc(since).date().isoformat())
        if until is not None:
            where.append(day <= _utc(until).date().isoformat())
    if min_delay_days is not None:
        delta = Change.detail["delta_days"].as_integer()
        where.append(col(Change.kind).in_(DATE_KINDS))
        where.append(delta >= min_delay_days)
    trial = trial_conditions(phases=phases, statuses=statuses, sponsors=sponsors)
    if trial:
        where.append(col(Change.trial_id).in_(select(col(Trial.id)).where(*trial)))
    return where


def trial_conditions(
    *, phases: Sequence[str] = (), statuses: Sequence[str] = (), sponsors: Sequence[str] = ()
) -> list[ColumnElement[bool]]:
    """SQL on the trial's current record: any of ``phases``, any of ``statuses``, a lead
    sponsor holding any of ``sponsors`` (any case)."""
    trial: list[ColumnElement[bool]] = []
    if phases:
        trial.append(has_phase(phases))
    if statuses:
        trial.append(col(Trial.overall_status).in_(list(statuses)))
    if sponsors:
        lead = func.lower(Trial.record["lead_sponsor"].as_string())
        trial.append(or_(*(lead.contains(s.lower(), autoescape=True) for s in sponsors)))
    return trial


def has_phase(phases: Sequence[str]) -> ColumnElement[bool]:
    """SQL: the trial's current record lists any of ``phases`` (registry words)."""
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {unknown[0]!r}")
    # The phases are a JSON array; its text holds each phase as a quoted word, so a
    # parameterised LIKE on '"PHASE3"' works alike on SQLite and PostgreSQL.
    listed = Trial.record["phases"].as_string()
    return or_(*(listed.contains(f'"{p}"', autoescape=True) for p in phases))


def change_order(clock: str) -> tuple[Any, ...]:
    """The columns changes are ordered by on ``clock``, oldest first."""
    if clock == "registry":
        return (change_day(clock), col(Change.observed_at), col(Change.id))
    return (col(Change.observed_at), col(Change.registry_date), col(Change.id))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def list_changes(
    session: Session,
    *,
    nct_ids: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    min_grade: str | None = None,
    sources: Sequence[str] = (),
    min_delay_days: int | None = None,
    phases: Sequence[str] = (),
    sponsors: Sequence[str] = (),
    statuses: Sequence[str] = (),
    clock: str = "observed",
    limit: int | None = None,
    offset: int = 0,
) -> list[Change]:
    """Stored changes matching every filter given, in a stable order.

    ``since``/``until``: inclusive bounds on ``observed_at`` (clock ``observed``), or on the
    day of ``change_day("registry")`` compared as ISO date text (clock ``registry``).
    ``sources``: the change's origin (``ctgov`` or a site slug). ``min_delay_days``: only date
    kinds whose ``detail.delta_days`` is at least N (moved later by N days or more).
    ``phases`` (registry words, ``PHASES``), ``sponsors`` (case-insensitive substrings of
    the lead sponsor; any of them) and ``statuses`` (overall status, any of them) test the
    trial's current merged record. ``min_grade``
    None: every grade. Order: (observed_at, registry_date, id), or with clock ``registry``
    (registry day, observed_at, id); ``limit``/``offset`` page through that order.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")
    where = change_conditions(
        nct_ids=nct_ids,
        kinds=kinds,
        since=since,
        until=until,
        min_grade=min_grade,
        sources=sources,
        min_delay_days=min_delay_days,
        phases=phases,
        sponsors=sponsors,
        statuses=statuses,
        clock=clock,
    )
    stmt = select(Change).where(*where).order_by(*change_order(clock))
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def count_changes(session: Session, **filters: Any) -> int:
    """How many changes ``list_changes`` with the same filters gives (without a limit)."""
    return count_where(session, change_conditions(**filters))


def newest_changes(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    *,
    clock: str = "observed",
    limit: int,
    offset: int = 0,
) -> list[tuple[Change, str | None]]:
    """Changes matching ``where`` (e.g. ``change_conditions``), newest first on ``clock``
    (``list_changes``' order reversed), each with its trial's brief title, in one query."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be 0 or more, not {limit} and {offset}")
    order = [column.desc() for column in change_order(clock)]
    stmt = (
        select(Change, Trial.brief_title)
        .join(Trial, col(Trial.id) == col(Change.trial_id))
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    return [(change, title) for change, title in session.exec(stmt).all()]


def count_where(session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    """How many changes match ``where``."""
    stmt = select(func.count()).select_from(Change).where(*where)
    return int(session.exec(stmt).one())
