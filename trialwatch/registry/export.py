"""Analyst exports: the rows of the views ``trial_latest``, ``trial_versions`` and
``changes_feed`` (migration 0009), filtered, and streamed from the database a batch at a time.

The column names are the views' own (docs/exports.md). Each column has a kind, which says
how a file format types it: ``text``, ``int``, ``day`` (an ISO date), ``partial_day`` (a
record's date at its own precision: "2024", "2024-03" or "2024-03-04") and ``time`` (a UTC
timestamp). Every value given by the user reaches SQL as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Engine

from trialwatch.kinds import GRADES

from .models import UTCDateTime
from .queries import CLOCKS
from .timeline import REGISTRY_ORIGIN

EXPORTS: tuple[str, ...] = ("trials", "versions", "changes")
BATCH_ROWS = 10_000  # rows fetched (and written) at a time: memory is bounded by this
VIEWS = {"trials": "trial_latest", "versions": "trial_versions", "changes": "changes_feed"}

ColumnKind = Literal["text", "int", "day", "partial_day", "time"]


class Column(NamedTuple):
    name: str
    kind: ColumnKind


def _text(names: str) -> tuple[Column, ...]:
    return tuple(Column(name, "text") for name in names.split())


def _dated(name: str) -> tuple[Column, ...]:
    return (Column(name, "partial_day"), *_text(f"{name}_precision {name}_type"))


# The record's columns, in the views' order (trial_latest and trial_versions alike).
RECORD_COLUMNS: tuple[Column, ...] = (
    *_text("brief_title official_title acronym overall_status why_stopped phases study_type"),
    *_text("lead_sponsor collaborators conditions"),
    Column("enrollment", "int"),
    Column("enrollment_type", "text"),
    *_dated("start_date"),
    *_dated("primary_completion_date"),
    *_dated("completion_date"),
    Column("last_update_posted", "day"),
)
TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("nct_id", "text"),
    *RECORD_COLUMNS,
    Column("record_source", "text"),
    Column("first_seen_at", "time"),
    Column("updated_at", "time"),
)
VERSION_COLUMNS: tuple[Column, ...] = (
    Column("version_id", "int"),
    *_text("nct_id origin format registry_version"),
    Column("registry_date", "day"),
    Column("valid_from", "day"),
    Column("valid_until", "day"),
    Column("known_from", "time"),
    Column("known_until", "time"),
    Column("first_seen_at", "time"),
    Column("last_seen_at", "time"),
    *_text("record_hash snapshot parser_version"),
    *RECORD_COLUMNS,
)
CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("change_id", "int"),
    *_text("nct_id origin kind grade reason"),
    Column("registry_date", "day"),
    Column("observed_at", "time"),
    Column("delta_days", "int"),
    *_text("before_value after_value"),
    Column("from_version_id", "int"),
    Column("to_version_id", "int"),
    *_text("brief_title lead_sponsor phases overall_status detail"),
    Column("outcomes_promoted", "int"),
    Column("outcomes_demoted", "int"),
)
# `export trials --as-of D`: the version of each trial in force on D, and the day asked.
AS_OF_COLUMNS: tuple[Column, ...] = (Column("as_of", "day"), *VERSION_COLUMNS)

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
    "since": ("versions", "changes"),
    "until": ("versions", "changes"),
    "clock": ("versions", "changes"),
    "kind": ("changes",),
    "min_grade": ("changes",),
    "as_of": ("trials", "versions"),
}


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
    if export == "trials":
        return AS_OF_COLUMNS if filters.as_of else TRIAL_COLUMNS
    return VERSION_COLUMNS if export == "versions" else CHANGE_COLUMNS


def _view(export: str) -> sa.TableClause:
    cols = {"trials": TRIAL_COLUMNS, "versions": VERSION_COLUMNS}.get(export, CHANGE_COLUMNS)
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
    if filters.kinds:
        where.append(view.c.kind.in_(list(filters.kinds)))
    if filters.min_grade:
        # the view's grade is COALESCE(grade, 'major'): an ungraded change counts as major
        below = list(GRADES[: GRADES.index(filters.min_grade)])
        if below:
            where.append(view.c.grade.not_in(below))
    if filters.nct_ids:
        where.append(view.c.nct_id.in_(list(filters.nct_ids)))
    order = (view.c.observed_at, view.c.change_id)
    return sa.select(*view.c).where(*where).order_by(*order)


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
