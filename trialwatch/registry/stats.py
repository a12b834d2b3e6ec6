"""Counts over the stored changes: by kind, grade and month, status transitions, and how far
primary completion dates moved; and over the stored findings that hold on a day, by kind and
year. Counting is GROUP BY in SQL; only the quantiles of the day counts are taken in Python."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func
from sqlmodel import Session, col, select

from trialwatch.kinds import CHANGE_KINDS, FINDING_KINDS, GRADES, grade_rank

from .models import Change, Finding, Trial
from .queries import change_conditions, change_day, trial_conditions

SLIP_KIND = "primary_completion_date"
# (name, lowest, highest) in days; None: open. "0" is a change of date type only.
SLIP_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("earlier", None, -1),
    ("0", 0, 0),
    ("1-30", 1, 30),
    ("31-90", 31, 90),
    ("91-180", 91, 180),
    ("181-365", 181, 365),
    (">365", 366, None),
)


def change_stats(
    session: Session,
    *,
    clock: str = "observed",
    **filters: Any,
) -> dict[str, Any]:
    """Counts over the changes the filters select (``list_changes``' filters, the same
    names).

    Keys: ``clock``; ``total``; ``by_kind`` (every kind, 0 when none); ``by_grade`` (every
    grade; a change not graded counts as major); ``by_month`` (``YYYY-MM`` of the clock's
    day, ascending, months with changes only); ``status_transitions`` (``from``, ``to``,
    ``count`` for each pair seen in ``status`` changes); ``primary_completion_slips``
    (``slip_stats`` of the primary completion date changes that carry a day count).
    """
    where = change_conditions(clock=clock, **filters)
    count = func.count(col(Change.id))

    def grouped(column: Any) -> list[Any]:
        stmt = select(column, count).where(*where).group_by(column)
        return list(session.exec(stmt).all())

    by_kind = dict.fromkeys(CHANGE_KINDS, 0)
    for kind, n in grouped(col(Change.kind)):
        by_kind[kind] = by_kind.get(kind, 0) + n
    by_grade = dict.fromkeys(GRADES, 0)
    for grade, n in grouped(col(Change.grade)):
        by_grade[GRADES[grade_rank(grade)]] += n
    month = func.substr(change_day(clock), 1, 7)
    by_month = {m: n for m, n in sorted(grouped(month))}

    # before/after hold JSON; their text groups alike on SQLite and PostgreSQL (json has
    # no equality operator there, text has).
    before, after = cast(col(Change.before), String), cast(col(Change.after), String)
    pairs: dict[tuple[str | None, str | None], int] = {}
    stmt = (
        select(before, after, count)
        .where(*where, col(Change.kind) == "status")
        .group_by(before, after)
    )
    for raw_from, raw_to, n in session.exec(stmt).all():
        key = (_status(raw_from), _status(raw_to))
        pairs[key] = pairs.get(key, 0) + n
    transitions = [
        {"from": a, "to": b, "count": n}
        for (a, b), n in sorted(pairs.items(), key=lambda p: (p[0][0] or "", p[0][1] or ""))
    ]

    delta = Change.detail["delta_days"].as_integer()
    deltas = session.exec(
        select(delta).where(*where, col(Change.kind) == SLIP_KIND, delta.is_not(None))
    ).all()
    return {
        "clock": clock,
        "total": sum(by_kind.values()),
        "by_kind": by_kind,
        "by_grade": by_grade,
        "by_month": by_month,
        "status_transitions": transitions,
        "primary_completion_slips": slip_stats([int(d) for d in deltas]),
    }


def finding_stats(
    session: Session,
    *,
    on: date,
    nct_ids: Sequence[str] = (),
    phases: Sequence[str] = (),
    sponsors: Sequence[str] = (),
) -> dict[str, Any]:
    """Counts of the stored findings that hold on ``on`` (not resolved, ``since`` on or
    before it), of the trials selected by ``nct_ids``, ``phases`` and ``sponsors`` (as for
    changes: the trial's current record).

    Keys: ``on`` (ISO day); ``total``; ``by_kind`` (every finding kind, 0 when none);
    ``by_kind_year`` (``kind``, ``year`` of ``since``, ``count`` for each pair held, in
    FINDING_KINDS order, then year).
    """
    where: list[ColumnElement[bool]] = [
        col(Finding.resolved_at).is_(None),
        col(Finding.since) <= on.isoformat(),
    ]
    if nct_ids:
        where.append(col(Finding.nct_id).in_(list(nct_ids)))
    trial = trial_conditions(phases=phases, sponsors=sponsors)
    if trial:
        where.append(col(Finding.trial_id).in_(select(col(Trial.id)).where(*trial)))
    year = func.substr(col(Finding.since), 1, 4)
    stmt = (
        select(col(Finding.kind), year, func.count(col(Finding.id)))
        .where(*where)
        .group_by(col(Finding.kind), year)
    )
    by_kind = dict.fromkeys(FINDING_KINDS, 0)
    pairs: dict[tuple[str, int], int] = {}
    for kind, since_year, n in session.exec(stmt).all():
        by_kind[kind] = by_kind.get(kind, 0) + n
        pairs[(kind, int(since_year))] = n
    order = {kind: i for i, kind in enumerate(by_kind)}
    by_kind_year = [
        {"kind": kind, "year": year_, "count": n}
        for (kind, year_), n in sorted(pairs.items(), key=lambda p: (order[p[0][0]], p[0][1]))
    ]
    return {
        "on": on.isoformat(),
        "total": sum(by_kind.values()),
        "by_kind": by_kind,
        "by_kind_year": by_kind_year,
    }


def slip_stats(deltas: Sequence[int]) -> dict[str, Any]:
    """How far dates moved, in days (later is positive): ``count``, ``earlier``, ``later``,
    ``type_only`` (0 days), ``min_days``, ``median_days``, ``p90_days`` (nearest rank),
    ``max_days`` (None when there are none) and ``buckets`` (``SLIP_BUCKETS`` names)."""
    ordered = sorted(deltas)
    buckets = {
        name: sum(1 for d in ordered if (lo is None or d >= lo) and (hi is None or d <= hi))
        for name, lo, hi in SLIP_BUCKETS
    }
    return {
        "count": len(ordered),
        "earlier": sum(1 for d in ordered if d < 0),
        "later": sum(1 for d in ordered if d > 0),
        "type_only": sum(1 for d in ordered if d == 0),
        "min_days": ordered[0] if ordered else None,
        "median_days": statistics.median(ordered) if ordered else None,
        "p90_days": ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None,
        "max_days": ordered[-1] if ordered else None,
        "buckets": buckets,
    }


def _status(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) else None
