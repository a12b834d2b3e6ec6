"""The change feed: query parameters checked into filters, and one page of stored changes,
newest first on the clock asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false
from sqlmodel import Session, col, select

from trialwatch.alerts.watches import describe
from trialwatch.diffing.changes import Change as FoundChange
from trialwatch.diffing.render import details, summary
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.models import Change, QueryMember, Trial, Watch
from trialwatch.registry.queries import (
    CLOCKS,
    change_conditions,
    count_where,
    grade_of,
    newest_changes,
)
from trialwatch.web import params
from trialwatch.web.home import text_matches
from trialwatch.web.models import PAGE_SIZE, ChangeRow, FeedPage
from trialwatch.web.params import BadInput, parse_page

__all__ = ["BadInput", "FeedFilters", "feed", "parse_page"]

MAX_WATCH_ID = 2**31  # ids are 32-bit integers in PostgreSQL


@dataclass
class FeedFilters:
    """The feed's filters as given (empty: not filtered), checked."""

    kind: str = ""
    grade: str = ""
    since: str = ""
    until: str = ""
    sponsor: str = ""
    phase: str = ""
    status: str = ""
    q: str = ""
    watch: int | None = None
    clock: str = "observed"
    page: int = 1
    limit: int = PAGE_SIZE
    given: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: Mapping[str, str | None]) -> FeedFilters:
        """From query parameters; BadInput names the first one that cannot be used."""
        given = {k: (values.get(k) or "").strip() for k in _NAMES}
        out = cls(
            page=parse_page(values.get("page")),
            limit=params.parse_limit(values.get("limit"), PAGE_SIZE),
        )
        if given["kind"]:
            out.kind = params.choice("kind", given["kind"], CHANGE_KINDS)
        if given["grade"]:
            out.grade = params.choice("grade", given["grade"], GRADES)
        if given["phase"]:
            out.phase = params.phase(given["phase"])
        if given["status"]:
            out.status = params.status(given["status"])
        if given["clock"]:
            out.clock = params.choice("clock", given["clock"], CLOCKS)
        for name in ("since", "until"):
            if given[name]:
                setattr(out, name, params.day(name, given[name]).isoformat())
        if out.since and out.until and out.since > out.until:
            raise BadInput(f"since {out.since} is after until {out.until}")
        out.sponsor = params.text("sponsor", given["sponsor"])
        out.q = params.text("q", given["q"])
        if given["watch"]:
            out.watch = watch_id(given["watch"])
        checked = {
            "kind": out.kind,
            "grade": out.grade,
            "since": out.since,
            "until": out.until,
            "sponsor": out.sponsor,
            "phase": out.phase,
            "status": out.status,
            "q": out.q,
            "watch": "" if out.watch is None else str(out.watch),
            "clock": "" if out.clock == "observed" else out.clock,
        }
        out.given = {k: v for k, v in checked.items() if v}
        if values.get("limit"):
            out.given["limit"] = str(out.limit)
        return out

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``change_conditions``. Dates are whole days: ``until`` takes
        in its whole day."""
        return {
            "kinds": (self.kind,) if self.kind else (),
            "min_grade": self.grade or None,
            "since": _start(self.since) if self.since else None,
            "until": _start(self.until) + timedelta(days=1, microseconds=-1)
            if self.until
            else None,
            "sponsors": (self.sponsor,) if self.sponsor else (),
            "phases": (self.phase,) if self.phase else (),
            "statuses": (self.status,) if self.status else (),
            "clock": self.clock,
        }

    def link(self, **changed: Any) -> dict[str, str]:
        """These filters with some parameters changed (for links)."""
        return {k: str(v) for k, v in {**self.given, **changed}.items() if v}


_NAMES = (
    "kind",
    "grade",
    "since",
    "until",
    "sponsor",
    "phase",
    "status",
    "q",
    "watch",
    "clock",
)


def _start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, UTC)


def watch_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < MAX_WATCH_ID:
        raise BadInput(f"watch: {params.shown(value)} is not a watch id")
    return int(value)


def watch_conditions(watch: Watch) -> list[ColumnElement[bool]]:
    """SQL for the changes ``watch`` hears about, as ``alerts.watches.enqueue`` decides it:
    one of its kinds, at least its grade, and one of its trials (its NCT ids, the trials its
    search returned) or its source. A paused watch's terms still select its changes."""
    where = change_conditions(
        kinds=watch.kinds,
        min_grade=grade_of(watch.min_grade),
        nct_ids=watch.nct_ids or (),
        sources=(watch.source,) if watch.source else (),
    )
    if not watch.kinds:
        where.append(false())
    if watch.query_key:
        members = select(QueryMember.nct_id).where(QueryMember.query_key == watch.query_key)
        where.append(col(Change.nct_id).in_(members))
    return where


def conditions(session: Session, filters: FeedFilters) -> tuple[list[Any], Watch | None]:
    """The SQL conditions for ``filters``, and the watch they name (BadInput if none)."""
    where: list[Any] = change_conditions(**filters.query())
    if filters.q:
        matching = select(col(Trial.id)).where(text_matches(filters.q))
        where.append(col(Change.trial_id).in_(matching))
    watch = None
    if filters.watch is not None:
        watch = session.get(Watch, filters.watch)
        if watch is None:
            raise BadInput(f"watch: there is no watch {filters.watch}")
        where += watch_conditions(watch)
    return where, watch


def found_change(change: Change) -> FoundChange:
    """A stored change as the renderers take it."""
    grade = grade_of(change.grade)
    return FoundChange(change.kind, change.before, change.after, change.detail, grade=grade)


def change_row(change: Change, title: str | None = None) -> ChangeRow:
    found = found_change(change)
    return ChangeRow(
        id=change.id or 0,
        nct_id=change.nct_id,
        title=title,
        kind=change.kind,
        grade=found.grade,
        source=change.source,
        from_version_id=change.from_version_id,
        to_version_id=change.to_version_id,
        registry_date=change.registry_date,
        observed_at=change.observed_at.isoformat(),
        summary=summary(found),
        reason=" ".join(str(change.detail.get("reason") or "").split()),
        details=details(found),
    )


def feed(session: Session, filters: FeedFilters) -> FeedPage:
    """One page (``limit``, 50 by default) of the changes matching ``filters``, newest
    first on their clock."""
    where, watch = conditions(session, filters)
    offset = (filters.page - 1) * filters.limit
    rows = newest_changes(
        session, where, clock=filters.clock, limit=filters.limit + 1, offset=offset
    )
    return FeedPage(
        filters=filters.given,
        clock=filters.clock,
        watch=_without_email(watch),
        page=filters.page,
        page_size=filters.limit,
        total=count_where(session, where),
        has_next=len(rows) > filters.limit,
        changes=[change_row(c, title) for c, title in rows[: filters.limit]],
    )


def _without_email(watch: Watch | None) -> str | None:
    return describe(watch) if watch is not None else None  # describe never names the email
