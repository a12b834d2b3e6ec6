"""Analyst exports: the rows of the views ``trial_latest``, ``trial_versions`` and
``changes_feed`` (migration 0009) and ``audit_findings`` (0012: the findings that hold today),
filtered, and streamed from the database a batch at a time.

The columns, and the kind that says how a file format types each, are in ``export_columns``.
Every value given by the user reaches SQL as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Engine

from trialwatch.kinds import CHANGE_KINDS, FINDING_KINDS, GRADES

from .export_columns import AS_OF_COLUMNS, COLUMNS, FINDING_COLUMNS
from .export_columns import Column as Column  # the writers' import
from .export_columns import ColumnKind as ColumnKind
from .models import UTCDateTime
from .queries import CLOCKS
from .timeline import REGISTRY_ORIGIN

EXPORTS: tuple[str, ...] = ("trials", "versions", "changes", "findings")
BATCH_ROWS = 10_000  # rows fetched (and written) at a time: memory is bounded by this
VIEWS = {
    "trials": "trial_latest",
    "versions": "trial_versions",
    "changes": "changes_feed",
    "findings": "audit_findings",
}

_SQL_TYPES: dict[ColumnKind, Any] = {
    "text": sa.Text(),
    "int": sa.BigInteger(),
    "day": sa.Text(),  # the views keep dates as ISO text on both databases
    "partial_day": sa.Text(),
    "time": UTCDateTime(),  # aware UTC datetimes, also from SQLite's text
}

# Which flag applies to which export (any other combination is a usage error).
APPLIES: dict[str, tuple[str, ...]] = {
    "nct": EXPORTS,
    "since": ("versions", "changes", "findings"),
    "until": ("versions", "changes", "findings"),
    "clock": ("versions", "changes", "findings"),
    "kind": ("changes", "findings"),
    "min_grade": ("changes", "findings"),
    "as_of": ("trials", "versions"),
}
# The kinds --kind takes, by export.
KINDS: dict[str, tuple[str, ...]] = {"changes": CHANGE_KINDS, "findings": FINDING_KINDS}


@dataclass(frozen=True)
class ExportFilters:
    """What to keep. ``since`` and ``until`` are moments (both inclusive); on the registry
    clock only their UTC days count. ``clock`` None means observed."""

    nct_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    clock: str | None = None
    kinds: tuple[str, ...] = ()
    min_grade: str | None = None
    as_of: date | None = None

    def given(self) -> list[str]:
        """The flags set, by their APPLIES names."""
        values = {
            "nct": self.nct_ids,
            "since": self.since,
            "until": self.until,
            "clock": self.clock,
            "kind": self.kinds,
            "min_grade": self.min_grade,
            "as_of": self.as_of,
        }
        return [name for name, value in values.items() if value]


def check_filters(export: str, filters: ExportFilters) -> None:
    """ValueError naming the first flag that does not apply to ``export``, or a bad value."""
    if export not in EXPORTS:
        raise ValueError(f"{export!r} is not an export (one of {', '.join(EXPORTS)})")
    for name in filters.given():
        if export not in APPLIES[name]:
            flag = "--" + name.replace("_", "-")
            fits = ", ".join(APPLIES[name])
            raise ValueError(f"{flag} does not apply to {export} exports (only to: {fits})")
    wrong = [k for k in filters.kinds if k not in KINDS.get(export, ())]
    if wrong:
        raise ValueError(
            f"--kind {wrong[0]} is not a kind of {export} (one of: {', '.join(KINDS[export])})"
        )
    if filters.clock is not None and filters.clock not in CLOCKS:
        raise ValueError(f"--clock must be one of {', '.join(CLOCKS)}, not {filters.clock!r}")
    if filters.min_grade is not None and filters.min_grade not in GRADES:
        raise ValueError(f"--min-grade must be one of {', '.join(GRADES)}")
    if filters.since and filters.until and filters.since > filters.until:
        raise ValueError(
            f"--since {filters.since.isoformat()} is after --until {filters.until.isoformat()}"
        )


def columns_of(export: str, filters: ExportFilters) -> tuple[Column, ...]:
    """The columns an export writes, in order."""
    if export == "trials" and filters.as_of:
        return AS_OF_COLUMNS
    return COLUMNS[export]


def _view(export: str) -> sa.TableClause:
    cols = COLUMNS[export]
    return sa.table(VIEWS[export], *(sa.column(c.name, _SQL_TYPES[c.kind]) for c in cols))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _valid_on(view: sa.FromClause, day: date) -> sa.ColumnElement[bool]:
    """The version in force on ``day`` by the registry's clock (docs/schema.md)."""
    text = day.isoformat()
    until = view.c.valid_until
    return sa.and_(view.c.valid_from <= text, sa.or_(until.is_(None), until > text))


def _clock_range(
    filters: ExportFilters, moment: sa.ColumnElement[Any], day: sa.ColumnElement[Any]
) -> list[sa.ColumnElement[bool]]:
    """since/until on the observed ``moment`` column, or on the registry ``day`` column."""
    since, until = filters.since, filters.until
    if filters.clock != "registry":
        return [
            *([moment >= since] if since else []),
            *([moment <= until] if until else []),
        ]
    return [
        *([day >= since.date().isoformat()] if since else []),
        *([day <= until.date().isoformat()] if until else []),
    ]


def _changes(filters: ExportFilters) -> sa.Select[Any]:
    view = _view("changes")
    where: list[sa.ColumnElement[bool]] = []
    if filters.clock == "registry" and (filters.since or filters.until):
        # a change without a registry date counts on the day it was observed
        dated = sa.and_(
            view.c.registry_date.is_not(None),
            *_clock_range(filters, view.c.observed_at, view.c.registry_date),
        )
        observed: list[sa.ColumnElement[bool]] = [view.c.registry_date.is_(None)]
        if filters.since:
            observed.append(view.c.observed_at >= _day_start(filters.since.date()))
        if filters.until:
            observed.append(
                view.c.observed_at < _day_start(filters.until.date() + timedelta(days=1))
            )
        where.append(sa.or_(dated, sa.and_(*observed)))
    else:
        where += _clock_range(filters, view.c.observed_at, view.c.registry_date)
    # the view's grade is COALESCE(grade, 'major'): an ungraded change counts as major
    where += _kind_grade_nct(view, filters)
    order = (view.c.observed_at, view.c.change_id)
    return sa.select(*view.c).where(*where).order_by(*order)


def _kind_grade_nct(view: sa.TableClause, filters: ExportFilters) -> list[sa.ColumnElement[bool]]:
    """--kind, --min-grade and --nct on a view's ``kind``, ``grade`` and ``nct_id``."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.kinds:
        where.append(view.c.kind.in_(list(filters.kinds)))
    below = list(GRADES[: GRADES.index(filters.min_grade)]) if filters.min_grade else []
    if below:
        where.append(view.c.grade.not_in(below))
    if filters.nct_ids:
        where.append(view.c.nct_id.in_(list(filters.nct_ids)))
    return where


def _findings(filters: ExportFilters) -> sa.Select[Any]:
    """The findings holding today: observed clock on ``first_seen_at``, registry clock on
    ``since`` (the registry day from which each holds); by trial, then day."""
    view = _view("findings")
    where = _clock_range(filters, view.c.first_seen_at, view.c.since)
    where += _kind_grade_nct(view, filters)
    # the view joins its lists with ", "; the exports join every list with "; "
    lists = {
        name: sa.func.replace(view.c[name], ", ", "; ")
        for name in ("version_ids", "registry_dates")
    }
    cols = [
        lists[c.name].label(c.name) if c.name in lists else view.c[c.name] for c in FINDING_COLUMNS
    ]
    order = (view.c.nct_id, view.c.since, view.c.kind, view.c.finding_id)
    return sa.select(*cols).where(*where).order_by(*order)


def _timeline_order(view: sa.TableClause) -> tuple[sa.ColumnElement[Any], ...]:
    """Each trial's origins, each in timeline order: valid_from, then the registry version
    number (digits compare as numbers by length first; none is last of its day), then first
    seen, then id."""
    number = view.c.registry_version
    return (
        view.c.nct_id,
        view.c.origin != REGISTRY_ORIGIN,
        view.c.origin,
        view.c.valid_from,
        number.is_(None),
        sa.func.length(number),
        number,
        view.c.known_from,
        view.c.version_id,
    )


def _versions(filters: ExportFilters) -> sa.Select[Any]:
    view = _view("versions")
    where = _clock_range(filters, view.c.known_from, view.c.valid_from)
    if filters.as_of:
        where.append(_valid_on(view, filters.as_of))
    if filters.nct_ids:
        where.append(view.c.nct_id.in_(list(filters.nct_ids)))
    return sa.select(*view.c).where(*where).order_by(*_timeline_order(view))


def _trials_as_of(day: date, filters: ExportFilters) -> sa.Select[Any]:
    """Each trial's registry version in force on ``day``; where the registry had none in
    force, each site's version in force (one row per site): docs/schema.md, "The state of
    every trial on day D"."""
    view, registry = _view("versions"), _view("versions").alias("registry")
    held = (
        sa.select(sa.literal(1))
        .where(registry.c.nct_id == view.c.nct_id, registry.c.origin == REGISTRY_ORIGIN)
        .where(_valid_on(registry, day))
    )
    where = [_valid_on(view, day), sa.or_(view.c.origin == REGISTRY_ORIGIN, ~held.exists())]
    if filters.nct_ids:
        where.append(view.c.nct_id.in_(list(filters.nct_ids)))
    as_of = sa.cast(sa.literal(day.isoformat(), sa.Text()), sa.Text()).label("as_of")
    order = (view.c.nct_id, view.c.origin != REGISTRY_ORIGIN, view.c.origin)
    return sa.select(as_of, *view.c).where(*where).order_by(*order)


def export_query(export: str, filters: ExportFilters) -> sa.Select[Any]:
    """The SELECT for an export with its filters (checked with ``check_filters`` first)."""
    check_filters(export, filters)
    if export == "changes":
        return _changes(filters)
    if export == "versions":
        return _versions(filters)
    if export == "findings":
        return _findings(filters)
    if filters.as_of:
        return _trials_as_of(filters.as_of, filters)
    view = _view("trials")
    where = [view.c.nct_id.in_(list(filters.nct_ids))] if filters.nct_ids else []
    return sa.select(*view.c).where(*where).order_by(view.c.nct_id)


class Rows(NamedTuple):
    """An export under way: its columns, how many rows the query holds, and the rows in
    batches of at most ``BATCH_ROWS``."""

    columns: tuple[Column, ...]
    total: int
    batches: Iterator[Sequence[tuple[Any, ...]]]


@contextmanager
def open_rows(
    engine: Engine,
    export: str,
    filters: ExportFilters,
    *,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Rows]:
    """Count the export's rows, then stream them through a server-side cursor (PostgreSQL)
    or the driver's incremental fetch (SQLite): the process holds one batch at a time.

    On PostgreSQL the count and the rows are read in one REPEATABLE READ transaction, so
    they agree even while crawls write.
    """
    stmt = export_query(export, filters)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            counted = sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
            total = int(conn.execute(counted).scalar_one())
            streamed = conn.execution_options(stream_results=True, yield_per=batch_rows)
            result = streamed.execute(stmt)
            try:
                yield Rows(columns_of(export, filters), total, _batches(result, batch_rows))
            finally:
                result.close()


def _batches(result: sa.CursorResult[Any], size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The rows ``size`` at a time; a batch is let go before the next one is fetched (the
    consumer should drop its own reference too), so at most one is held."""
    while True:
        part = result.fetchmany(size)
        if not part:
            return
        yield part
        del part
