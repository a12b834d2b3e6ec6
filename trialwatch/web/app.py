"""The read-only web page and its JSON API: search, a trial's timeline and versions, the
diff of two versions, the change feed. GET and HEAD only; every response carries a strict
Content-Security-Policy (no script, no inline style, nothing from elsewhere), and what every
request must pass is in ``guard``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from trialwatch.web import routes_feed, routes_trial
from trialwatch.web.feed import BadInput
from trialwatch.web.guard import Guard
from trialwatch.web.pages import NotFound, render

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


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
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

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

    app.include_router(routes_feed.router)
    app.include_router(routes_trial.router)
    return app
