"""The home page and search, and the change feed (HTML and JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.queries import PHASES, find_trial
from trialwatch.web import data
from trialwatch.web.feed import FeedFilters, feed, parse_page
from trialwatch.web.models import PAGE_SIZE, FeedPage, SearchPage
from trialwatch.web.pages import PROBLEMS, Db, query_text, render

router = APIRouter()


@router.get("/api/trials", response_model=SearchPage, responses=PROBLEMS, tags=["trials"])
def api_search(db: Db, q: str | None = None, page: str | None = None) -> SearchPage:
    """Trials by NCT id (exact or prefix), title, sponsor or condition (any case)."""
    return data.search(db, query_text(q), parse_page(page))


@router.get("/api/changes", response_model=FeedPage, responses=PROBLEMS, tags=["changes"])
def api_changes(
    db: Db,
    kind: str | None = None,
    grade: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sponsor: str | None = None,
    phase: str | None = None,
    page: str | None = None,
) -> FeedPage:
    """Stored changes, oldest first, 50 a page: kind, least grade, observed from
    ``since`` to ``until`` (dates, inclusive), lead sponsor (substring), phase."""
    params = {"kind": kind, "grade": grade, "since": since, "until": until}
    params |= {"sponsor": sponsor, "phase": phase, "page": page}
    return feed(db, FeedFilters.parse(params))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, db: Db) -> Response:
    return render(request, "search.html", result=data.search(db, "", 1), page_size=PAGE_SIZE)


@router.get("/trials", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request, db: Db, q: str | None = None, page: str | None = None
) -> Response:
    text = query_text(q)
    number = parse_page(page)
    nct = data.exact_nct(text)
    if nct is not None:
        trial = find_trial(db, nct)
        if trial is not None:
            return RedirectResponse(f"/trials/{trial.nct_id}", status_code=303)
    result = data.search(db, text, number)
    return render(request, "search.html", result=result, page_size=PAGE_SIZE)


@router.get("/changes", response_class=HTMLResponse, include_in_schema=False)
def changes_page(request: Request, db: Db) -> Response:
    filters = FeedFilters.parse(request.query_params)
    result = feed(db, filters)
    return render(
        request,
        "changes.html",
        result=result,
        kinds=CHANGE_KINDS,
        grades=GRADES,
        phases=PHASES,
        prev_query=_page_query(result, result.page - 1),
        next_query=_page_query(result, result.page + 1),
    )


def _page_query(result: FeedPage, number: int) -> dict[str, str]:
    return {**result.filters, "page": str(number)}
