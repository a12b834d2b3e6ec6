"""The home page and search (HTML, JSON and CSV), and the change feed (HTML, JSON and Atom)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import Session, col, select

from trialwatch.alerts.watches import describe
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.models import Change, Watch
from trialwatch.registry.queries import PHASES, find_trial, newest_changes
from trialwatch.web import data, home
from trialwatch.web.atom import MEDIA_TYPE, AtomFeed, atom
from trialwatch.web.feed import FeedFilters, conditions, feed, watch_id
from trialwatch.web.home import SORTS, TrialQuery
from trialwatch.web.models import FeedPage, SearchPage
from trialwatch.web.pages import PROBLEMS, Db, NotFound, nct_of, render
from trialwatch.web.words import PHASE_WORDS, STATUSES, phase_words, status_words

router = APIRouter()
SHOWN_WATCHES = 200  # watches offered in the feed's form; any other is still asked by id


@router.get("/api/trials", response_model=SearchPage, responses=PROBLEMS, tags=["trials"])
def api_search(
    db: Db,
    q: str | None = None,
    status: str | None = None,
    phase: str | None = None,
    sort: str | None = None,
    page: str | None = None,
) -> SearchPage:
    """Trials by NCT id (exact or prefix), title, sponsor or condition (any case), overall
    status and phase, 50 a page. ``sort``: nct (default), -changed or changed (when each last
    changed, newest or oldest first), title or -title, status or -status."""
    values = {"q": q, "status": status, "phase": phase, "sort": sort, "page": page}
    return home.search(db, TrialQuery.parse(values))


def _search_page(request: Request, db: Session, query: TrialQuery) -> Response:
    return render(
        request,
        "search.html",
        result=home.search(db, query),
        query=query,
        statuses=STATUSES,
        phases=PHASES,
        sorts=SORTS,
        status_words=status_words,
        phase_words=phase_words,
        trial_filters={k: v for k, v in query.given.items() if k in ("q", "status", "phase")},
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, db: Db) -> Response:
    return _search_page(request, db, TrialQuery.parse(request.query_params))


@router.get("/trials", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, db: Db) -> Response:
    query = TrialQuery.parse(request.query_params)
    nct = data.exact_nct(query.q)
    if nct is not None:
        trial = find_trial(db, nct)
        if trial is not None:
            return RedirectResponse(f"/trials/{trial.nct_id}", status_code=303)
    return _search_page(request, db, query)


@router.get("/trials.csv", include_in_schema=False)
def search_csv(request: Request) -> Response:
    """Every trial the search matches (not one page), as CSV."""
    query = TrialQuery.parse(request.query_params)
    return StreamingResponse(
        home.csv_lines(request.app.state.engine, query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="trials.csv"'},
    )


@router.get("/api/changes", response_model=FeedPage, responses=PROBLEMS, tags=["changes"])
def api_changes(
    db: Db,
    kind: str | None = None,
    grade: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sponsor: str | None = None,
    phase: str | None = None,
    status: str | None = None,
    q: str | None = None,
    watch: str | None = None,
    clock: str | None = None,
    page: str | None = None,
    limit: str | None = None,
) -> FeedPage:
    """Stored changes, newest first, ``limit`` a page (1 to 500, 50 by default): kind, least
    grade, from ``since`` to ``until`` (dates, inclusive), the trial's lead sponsor
    (substring), phase, overall status and search text (as /api/trials matches it), and the
    changes watch ``watch`` hears about. ``clock``: observed (default: when trialwatch saw
    each change) or registry (the registry date of the version that brought it) orders and
    dates the feed."""
    values = {"kind": kind, "grade": grade, "since": since, "until": until}
    values |= {"sponsor": sponsor, "phase": phase, "status": status, "q": q, "watch": watch}
    values |= {"clock": clock, "page": page, "limit": limit}
    return feed(db, FeedFilters.parse(values))


@router.get("/changes", response_class=HTMLResponse, include_in_schema=False)
def changes_page(request: Request, db: Db) -> Response:
    filters = FeedFilters.parse(request.query_params)
    result = feed(db, filters)
    last = max(1, -(-(result.total or 0) // filters.limit))
    watches = db.exec(select(Watch).order_by(col(Watch.id)).limit(SHOWN_WATCHES)).all()
    return render(
        request,
        "changes.html",
        result=result,
        filters=filters,
        last_page=last,
        kinds=CHANGE_KINDS,
        grades=GRADES,
        phases=PHASE_WORDS,
        statuses=STATUSES,
        status_words=status_words,
        watches=[(w.id, describe(w)) for w in watches],
        watch_ids={str(w.id) for w in watches},
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _atom(
    request: Request, db: Session, filters: FeedFilters, feed_info: AtomFeed, extra: list[Any]
) -> Response:
    where, _ = conditions(db, filters)
    rows = newest_changes(db, [*where, *extra], clock=filters.clock, limit=filters.limit)
    body = atom(feed_info, rows, base=_base(request), clock=filters.clock)
    return Response(body, media_type=MEDIA_TYPE)


def _feed_id(filters: FeedFilters) -> str:
    shown = {k: v for k, v in sorted(filters.given.items()) if k != "limit"}
    return "changes" + (f"?{urlencode(shown)}" if shown else "")


@router.get("/changes.atom", include_in_schema=False)
def changes_atom(request: Request, db: Db) -> Response:
    filters = FeedFilters.parse(request.query_params)
    query = urlencode(filters.given)
    said = ", ".join(f"{k} {v}" for k, v in filters.given.items() if k != "limit")
    info = AtomFeed(
        id=_feed_id(filters),
        title=f"trialwatch: changes{': ' + said if said else ''}",
        self_url=str(request.url),
        page_url=f"{_base(request)}/changes" + (f"?{query}" if query else ""),
    )
    return _atom(request, db, filters, info, [])


@router.get("/trials/{nct_id}/changes.atom", include_in_schema=False)
def trial_atom(request: Request, db: Db, nct_id: str) -> Response:
    nct = nct_of(nct_id)
    trial = find_trial(db, nct)
    if trial is None:
        raise NotFound(f"{nct}: not held")
    filters = FeedFilters.parse(request.query_params)
    info = AtomFeed(
        id=f"trials/{trial.nct_id}/" + _feed_id(filters),
        title=f"trialwatch: {trial.nct_id} {trial.brief_title or ''}",
        self_url=str(request.url),
        page_url=f"{_base(request)}/trials/{trial.nct_id}",
    )
    return _atom(request, db, filters, info, [col(Change.trial_id) == trial.id])


@router.get("/watches/{number}/changes.atom", include_in_schema=False)
def watch_atom(request: Request, db: Db, number: str) -> Response:
    try:
        found = db.get(Watch, watch_id(number))
    except ValueError:
        found = None
    if found is None:
        raise NotFound(f"watch {number[:40]!r}: no such watch")
    filters = FeedFilters.parse({**request.query_params, "watch": str(found.id)})
    info = AtomFeed(
        id=f"watches/{found.id}/" + _feed_id(filters),
        title=f"trialwatch: {describe(found)}",
        self_url=str(request.url),
        page_url=f"{_base(request)}/changes?{urlencode(filters.given)}",
    )
    return _atom(request, db, filters, info, [])
