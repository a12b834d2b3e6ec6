"""The change feed: query parameters checked into filters, and one page of stored changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from trialwatch.diffing.changes import Change as FoundChange
from trialwatch.diffing.render import details, summary
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.models import Change
from trialwatch.registry.queries import count_changes, grade_of, list_changes, phase_word
from trialwatch.web.models import PAGE_SIZE, ChangeRow, FeedPage

MAX_TEXT = 200  # characters of a sponsor filter; more is not a name


class BadInput(ValueError):
    """A query parameter that cannot be used; its message is one line naming it."""


def parse_page(value: str | None) -> int:
    text = (value or "1").strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise BadInput(f"page: {_shown(value)} is not a page number (1 or more)")
    if len(text) > 9:
        raise BadInput(f"page: {_shown(value)} is past the last page")
    return int(text)


def _shown(value: str | None) -> str:
    text = value or ""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _day(name: str, value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name}: {_shown(value)} is not a date (YYYY-MM-DD)") from None


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadInput(f"{name}: {_shown(value)} is not one of {', '.join(allowed)}")
    return value


def _phase(value: str) -> str:
    try:
        return phase_word(value)
    except ValueError as exc:
        raise BadInput(f"phase: {exc}") from None


@dataclass
class FeedFilters:
    """The feed's filters as given (empty: not filtered), checked."""

    kind: str = ""
    grade: str = ""
    since: str = ""
    until: str = ""
    sponsor: str = ""
    phase: str = ""
    page: int = 1
    given: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: Mapping[str, str | None]) -> FeedFilters:
        """From query parameters; BadInput names the first one that cannot be used."""
        given = {k: (params.get(k) or "").strip() for k in _NAMES}
        out = cls(page=parse_page(params.get("page")))
        if given["kind"]:
            out.kind = _choice("kind", given["kind"], CHANGE_KINDS)
        if given["grade"]:
            out.grade = _choice("grade", given["grade"], GRADES)
        if given["phase"]:
            out.phase = _phase(given["phase"])
        for name in ("since", "until"):
            if given[name]:
                setattr(out, name, _day(name, given[name]).isoformat())
        if out.since and out.until and out.since > out.until:
            raise BadInput(f"since {out.since} is after until {out.until}")
        if len(given["sponsor"]) > MAX_TEXT:
            raise BadInput(f"sponsor: longer than {MAX_TEXT} characters")
        out.sponsor = given["sponsor"]
        out.given = {k: v for k, v in given.items() if v}
        return out

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``list_changes`` and ``count_changes``. Dates are whole
        days on the observed clock: ``until`` takes in its whole day."""
        return {
            "kinds": (self.kind,) if self.kind else (),
            "min_grade": self.grade or None,
            "since": _start(self.since) if self.since else None,
            "until": _start(self.until) + timedelta(days=1, microseconds=-1)
            if self.until
            else None,
            "sponsors": (self.sponsor,) if self.sponsor else (),
            "phases": (self.phase,) if self.phase else (),
        }


def _start(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.min, UTC)


_NAMES = ("kind", "grade", "since", "until", "sponsor", "phase")


def change_row(change: Change) -> ChangeRow:
    grade = grade_of(change.grade)
    found = FoundChange(change.kind, change.before, change.after, change.detail, grade=grade)
    return ChangeRow(
        id=change.id or 0,
        nct_id=change.nct_id,
        kind=change.kind,
        grade=grade,
        source=change.source,
        from_version_id=change.from_version_id,
        to_version_id=change.to_version_id,
        registry_date=change.registry_date,
        observed_at=change.observed_at.isoformat(),
        summary=summary(found),
        details=details(found),
    )


def feed(session: Session, filters: FeedFilters) -> FeedPage:
    """One page (``PAGE_SIZE``) of the changes matching ``filters``, oldest first."""
    query = filters.query()
    offset = (filters.page - 1) * PAGE_SIZE
    rows = list_changes(session, **query, limit=PAGE_SIZE + 1, offset=offset)
    return FeedPage(
        filters=filters.given,
        page=filters.page,
        page_size=PAGE_SIZE,
        total=count_changes(session, **query),
        has_next=len(rows) > PAGE_SIZE,
        changes=[change_row(c) for c in rows[:PAGE_SIZE]],
    )
