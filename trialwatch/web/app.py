"""The read-only web page and its JSON API: search, a trial's timeline and versions, the
diff of two versions, the change feed. GET and HEAD only; every response carries a strict
Content-Security-Policy (no script, no inline style, nothing from elsewhere), and what every
request must pass is in ``guard``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException

from trialwatch.display import finalize
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.record import NCT_RE
from trialwatch.registry.queries import PHASES, find_trial
from trialwatch.web import data
from trialwatch.web.charts import charts
from trialwatch.web.diff import version_diff
from trialwatch.web.feed import BadInput, FeedFilters, feed, parse_page
from trialwatch.web.guard import Guard
from trialwatch.web.models import (
    PAGE_SIZE,
    DiffView,
    FeedPage,
    Problem,
    SearchPage,
    Timeline,
    TrialView,
    VersionRow,
)

HERE = Path(__file__).parent
T = TypeVar("T")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A query parameter that cannot be used"},
    404: {"model": Problem, "description": "No such trial or version"},
}


class NotFound(Exception):
    """What was asked for is not held; the message is one line naming it."""


def _session(request: Request) -> Iterator[Session]:
    # Only SELECTs run here; the session is never committed.
    with Session(request.app.state.engine) as session:
        yield session


Db = Annotated[Session, Depends(_session)]


def _templates() -> Jinja2Templates:
    # Autoescape everything: every value shown is data, much of it scraped. Never |safe.
    # finalize drops bidirectional controls from every value shown (trialwatch.display).
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=finalize,
    )
    return Jinja2Templates(env=env)


def _nct(value: str) -> str:
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise NotFound(f"{value[:40]!r} is not an NCT id (NCT followed by 8 digits)")
    return nct


def _version_id(name: str, value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        raise BadInput(f"{name}: a version id is needed")
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadInput(f"{name}: {text[:40]!r} is not a version id")
    return int(text)


def _query(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > data.MAX_QUERY:
        raise BadInput(f"q: longer than {data.MAX_QUERY} characters")
    return text


def create_app(engine_or_url: Engine | str) -> FastAPI:
    """The app on a database (an Engine, or a URL opened here). It only reads."""
    if isinstance(engine_or_url, str):
        from trialwatch.registry.db import open_engine

        engine = open_engine(engine_or_url)
    else:
        engine = engine_or_url
    app = FastAPI(
        title="trialwatch",
        summary="A versioned history of clinical trial records, and what changed.",
        docs_url=None,  # both load scripts from a CDN; /openapi.json stays
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.engine = engine
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=code)

    def problem(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": message}, status_code=status)
        name = "not_found.html" if status == 404 else "error.html"
        return render(request, name, status, message=message, status=status)

    app.add_middleware(Guard, problem=problem, headers=SECURITY_HEADERS)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return problem(request, 404, str(exc))

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> Response:
        return problem(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return problem(request, 400, f"{where}: {first.get('msg', 'not valid')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = {404: "no such page", 405: "only GET and HEAD are served here"}.get(
            exc.status_code, str(exc.detail)
        )
        response = problem(request, exc.status_code, f"{request.url.path}: {message}")
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:  # the guard answers HEAD wherever GET is answered
            response.headers["Allow"] = "GET, HEAD"
        return response

    # ---- JSON API

    @app.get("/api/trials", response_model=SearchPage, responses=PROBLEMS, tags=["trials"])
    def api_search(db: Db, q: str | None = None, page: str | None = None) -> SearchPage:
        """Trials by NCT id (exact or prefix), title, sponsor or condition (any case)."""
        return data.search(db, _query(q), parse_page(page))

    @app.get("/api/trials/{nct_id}", response_model=TrialView, responses=PROBLEMS, tags=["trials"])
    def api_trial(db: Db, nct_id: str) -> TrialView:
        """The trial's merged record, as `trialwatch show --json` gives it."""
        return _trial(db, nct_id)

    @app.get(
        "/api/trials/{nct_id}/versions",
        response_model=list[VersionRow],
        responses=PROBLEMS,
        tags=["trials"],
    )
    def api_versions(db: Db, nct_id: str) -> list[VersionRow]:
        """Every stored version with both clocks (registry dates and first/last seen)."""
        return _versions(db, nct_id)

    @app.get(
        "/api/trials/{nct_id}/timeline",
        response_model=Timeline,
        responses=PROBLEMS,
        tags=["trials"],
    )
    def api_timeline(db: Db, nct_id: str) -> Timeline:
        """Status periods and primary completion dates across versions (registry clock)."""
        return _timeline(db, nct_id)

    @app.get(
        "/api/trials/{nct_id}/diff", response_model=DiffView, responses=PROBLEMS, tags=["trials"]
    )
    def api_diff(db: Db, nct_id: str, a: str | None = None, b: str | None = None) -> DiffView:
        """The typed changes from version ``a`` to version ``b``, item by item."""
        return _diff(db, nct_id, a, b)

    @app.get("/api/changes", response_model=FeedPage, responses=PROBLEMS, tags=["changes"])
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

    # ---- HTML

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request, db: Db) -> Response:
        return render(request, "search.html", result=data.search(db, "", 1), page_size=PAGE_SIZE)

    @app.get("/trials", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request, db: Db, q: str | None = None, page: str | None = None
    ) -> Response:
        text = _query(q)
        number = parse_page(page)
        nct = data.exact_nct(text)
        if nct is not None:
            trial = find_trial(db, nct)
            if trial is not None:
                return RedirectResponse(f"/trials/{trial.nct_id}", status_code=303)
        result = data.search(db, text, number)
        return render(request, "search.html", result=result, page_size=PAGE_SIZE)

    @app.get("/trials/{nct_id}", response_class=HTMLResponse, include_in_schema=False)
    def trial_page(request: Request, db: Db, nct_id: str) -> Response:
        view = _trial(db, nct_id)
        rows = _versions(db, view.nct_id)
        timeline = _timeline(db, view.nct_id)
        return render(
            request,
            "trial.html",
            view=view,
            versions=rows,
            timeline=timeline,
            charts=charts(timeline),
            default_a=rows[-2].version_id if len(rows) > 1 else None,
            default_b=rows[-1].version_id if rows else None,
        )

    @app.get("/trials/{nct_id}/diff", response_class=HTMLResponse, include_in_schema=False)
    def diff_page(
        request: Request, db: Db, nct_id: str, a: str | None = None, b: str | None = None
    ) -> Response:
        view = _diff(db, nct_id, a, b)
        title = _trial(db, view.nct_id).title
        return render(request, "diff.html", diff=view, title=title)

    @app.get("/changes", response_class=HTMLResponse, include_in_schema=False)
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

    return app


def _page_query(result: FeedPage, number: int) -> dict[str, str]:
    return {**result.filters, "page": str(number)}


def _held(db: Session, nct_id: str, read: Callable[[Session, str], T | None]) -> T:
    """What ``read`` gives for the trial; NotFound when the trial is not held."""
    nct = _nct(nct_id)
    found = read(db, nct)
    if found is None:
        raise NotFound(f"{nct}: not held")
    return found


def _trial(db: Session, nct_id: str) -> TrialView:
    return _held(db, nct_id, data.trial_view)


def _versions(db: Session, nct_id: str) -> list[VersionRow]:
    return _held(db, nct_id, data.versions)


def _timeline(db: Session, nct_id: str) -> Timeline:
    return _held(db, nct_id, data.trial_timeline)


def _diff(db: Session, nct_id: str, a: str | None, b: str | None) -> DiffView:
    nct = _nct(nct_id)
    first, second = _version_id("a", a), _version_id("b", b)
    view = version_diff(db, nct, first, second)
    if view is None:
        if data.trial_view(db, nct) is None:
            raise NotFound(f"{nct}: not held")
        raise NotFound(f"{nct}: version {first} or {second} is not one of this trial's versions")
    return view
