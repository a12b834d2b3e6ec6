"""What every route shares: the database session, the templates, the checks of path and query
values, and the one-line NotFound."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel import Session

from trialwatch.display import finalize
from trialwatch.record import NCT_RE
from trialwatch.web import data
from trialwatch.web.feed import BadInput
from trialwatch.web.models import Problem

HERE = Path(__file__).parent
T = TypeVar("T")
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


TEMPLATES = _templates()


def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=code)


def nct_of(value: str) -> str:
    nct = value.strip().upper()
    if not NCT_RE.match(nct):
        raise NotFound(f"{value[:40]!r} is not an NCT id (NCT followed by 8 digits)")
    return nct


def version_id(name: str, value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        raise BadInput(f"{name}: a version id is needed")
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadInput(f"{name}: {text[:40]!r} is not a version id")
    return int(text)


def query_text(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > data.MAX_QUERY:
        raise BadInput(f"q: longer than {data.MAX_QUERY} characters")
    return text


def held(db: Session, nct_id: str, read: Callable[[Session, str], T | None]) -> T:
    """What ``read`` gives for the trial; NotFound when the trial is not held."""
    nct = nct_of(nct_id)
    found = read(db, nct)
    if found is None:
        raise NotFound(f"{nct}: not held")
    return found
