"""The home page and search: trials by text, status and phase, in a chosen order, with when
each last changed; one page of them, or all of them as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, case, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from trialwatch.registry.models import Change, Trial, UTCDateTime
from trialwatch.registry.queries import has_phase
from trialwatch.web import params
from trialwatch.web.data import summary_of
from trialwatch.web.models import PAGE_SIZE, SearchPage, TrialSummary
from trialwatch.web.words import STATUSES

# The orders a search can be given in: a leading "-" puts it the other way round.
SORTS: dict[str, str] = {
    "nct": "NCT id",
    "-changed": "Last changed, newest first",
    "changed": "Last changed, oldest first",
    "title": "Title, A to Z",
    "-title": "Title, Z to A",
    "status": "Status, as a trial goes through them",
    "-status": "Status, the other way",
}
CSV_COLUMNS = (
    "nct_id",
    "title",
    "overall_status",
    "lead_sponsor",
    "phases",
    "conditions",
    "last_changed",
)
CSV_BATCH = 500  # trials read at a time for the CSV
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet may run such a cell


@dataclass
class TrialQuery:
    """A search as given (empty: not filtered), checked."""

    q: str = ""
    status: str = ""
    phase: str = ""
    sort: str = "nct"
    page: int = 1
    given: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: Mapping[str, str | None]) -> TrialQuery:
        """From query parameters; BadInput names the first one that cannot be used."""
        out = cls(q=params.text("q", values.get("q")), page=params.parse_page(values.get("page")))
        status = (values.get("status") or "").strip()
        phase = (values.get("phase") or "").strip()
        sort = (values.get("sort") or "").strip()
        out.status = params.status(status) if status else ""
        out.phase = params.phase(phase) if phase else ""
        out.sort = params.choice("sort", sort, tuple(SORTS)) if sort else "nct"
        given = {"q": out.q, "status": out.status, "phase": out.phase}
        given["sort"] = out.sort if out.sort != "nct" else ""
        out.given = {k: v for k, v in given.items() if v}
        return out

    def link(self, **changed: Any) -> dict[str, str]:
        """The query of this search with some parameters changed (for links)."""
        return {k: str(v) for k, v in {**self.given, **changed}.items() if v}

    def conditions(self) -> list[ColumnElement[bool]]:
        where = []
        if self.q:
            where.append(text_matches(self.q))
        if self.status:
            where.append(col(Trial.overall_status) == self.status)
        if self.phase:
            where.append(has_phase([self.phase]))
        return where


def text_matches(text: str) -> ColumnElement[bool]:
    """SQL: the trial's NCT id starts with ``text``, or its title, official title, lead
    sponsor or conditions hold it (any case)."""
    matches = [
        col(Trial.nct_id).startswith(text.upper(), autoescape=True),
        func.coalesce(col(Trial.brief_title), "").icontains(text, autoescape=True),
    ]
    # The JSON text of a list holds each element quoted: a substring of one element is a
    # substring of the text (non-ASCII may be stored escaped; ASCII is matched).
    for name in ("official_title", "lead_sponsor", "conditions"):
        matches.append(_record_text(name).icontains(text, autoescape=True))
    return or_(*matches)


def _record_text(name: str) -> Any:
    column: Any = Trial.record
    return func.coalesce(column[name].as_string(), "")


def _trials(query: TrialQuery) -> Select[Trial, Any]:
    """Trials matching ``query`` in its order, each with when it last changed: its newest
    change's observed time, or, never changed, when its record was last updated."""
    newest = (
        select(col(Change.trial_id), func.max(col(Change.observed_at)).label("at"))
        .group_by(col(Change.trial_id))
        .subquery()
    )
    changed = func.coalesce(newest.c.at, col(Trial.updated_at), type_=UTCDateTime())
    title = func.coalesce(col(Trial.brief_title), _record_text("official_title"))
    rank = case(
        {word: i for i, word in enumerate(STATUSES)},
        value=col(Trial.overall_status),
        else_=len(STATUSES),
    )
    name, backwards = query.sort.lstrip("-"), query.sort.startswith("-")

    def way(key: Any) -> Any:
        return key.desc() if backwards else key

    order: list[Any] = []
    if name == "changed":
        order = [way(changed)]
    elif name == "title":  # trials without a title last, either way round
        order = [title == "", way(func.lower(title))]
    elif name == "status":
        order = [way(rank)]
    return (
        select(Trial, changed)
        .outerjoin(newest, newest.c.trial_id == col(Trial.id))
        .where(*query.conditions())
        .order_by(*order, col(Trial.nct_id))
    )


def _summary(trial: Trial, changed: datetime | None) -> TrialSummary:
    summary = summary_of(trial.nct_id, trial.record)
    summary.last_changed = changed.isoformat() if changed else None
    return summary


def search(session: Session, query: TrialQuery) -> SearchPage:
    """One page (``PAGE_SIZE``) of the trials matching ``query``."""
    count = select(func.count()).select_from(Trial).where(*query.conditions())
    rows = session.exec(_trials(query).offset((query.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return SearchPage(
        q=query.q,
        status=query.status,
        phase=query.phase,
        sort=query.sort,
        page=query.page,
        page_size=PAGE_SIZE,
        total=int(session.exec(count).one()),
        trials=[_summary(trial, changed) for trial, changed in rows],
    )


def cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula is quoted."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_lines(engine: Engine, query: TrialQuery) -> Iterator[str]:
    """Every trial matching ``query`` as CSV (a header, then a line each), read in batches
    in a session of its own, so a response can stream them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    with Session(engine) as session:
        rows = session.exec(_trials(query).execution_options(yield_per=CSV_BATCH))
        for trial, changed in rows:
            s = _summary(trial, changed)
            values = [
                s.nct_id,
                s.title or "",
                s.overall_status or "",
                s.lead_sponsor or "",
                "; ".join(s.phases),
                "; ".join(s.conditions),
                s.last_changed or "",
            ]
            writer.writerow([cell(v) for v in values])
            if out.tell() > 64_000:
                yield flush()
    yield flush()
