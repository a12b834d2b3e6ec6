"""A trial's routes: its page, its versions and timeline, and the diff of two versions (HTML
and JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from trialwatch.registry.models import TrialVersion
from trialwatch.web import data
from trialwatch.web.charts import NARROW, charts
from trialwatch.web.compare import CompareView, compare_records
from trialwatch.web.diff import item_groups, version_diff
from trialwatch.web.findings import trial_findings
from trialwatch.web.models import DiffView, Timeline, TrialView, VersionRow
from trialwatch.web.pages import PROBLEMS, Db, NotFound, held, nct_of, render, version_id
from trialwatch.web.record_view import (
    country_count,
    criteria_count,
    criteria_tree,
    facts,
    links,
    module_grades,
    plain_criteria,
    site_line,
    words_of_status,
)

router = APIRouter()


@router.get("/api/trials/{nct_id}", response_model=TrialView, responses=PROBLEMS, tags=["trials"])
def api_trial(db: Db, nct_id: str) -> TrialView:
    """The trial's merged record, as `trialwatch show --json` gives it, and the integrity
    findings that hold today."""
    view = _trial(db, nct_id)
    view.findings = trial_findings(db, view.nct_id, _versions(db, view.nct_id))
    return view


@router.get(
    "/api/trials/{nct_id}/versions",
    response_model=list[VersionRow],
    responses=PROBLEMS,
    tags=["trials"],
)
def api_versions(db: Db, nct_id: str) -> list[VersionRow]:
    """Every stored version with both clocks (registry dates and first/last seen)."""
    return _versions(db, nct_id)


@router.get(
    "/api/trials/{nct_id}/timeline",
    response_model=Timeline,
    responses=PROBLEMS,
    tags=["trials"],
)
def api_timeline(db: Db, nct_id: str) -> Timeline:
    """Status periods and primary completion dates across versions (registry clock)."""
    return _timeline(db, nct_id)


@router.get(
    "/api/trials/{nct_id}/diff", response_model=DiffView, responses=PROBLEMS, tags=["trials"]
)
def api_diff(db: Db, nct_id: str, a: str | None = None, b: str | None = None) -> DiffView:
    """The typed changes from version ``a`` to version ``b``, item by item."""
    return _diff(db, nct_id, a, b)


@router.get(
    "/api/trials/{nct_id}/compare",
    response_model=CompareView,
    responses=PROBLEMS,
    tags=["trials"],
)
def api_compare(db: Db, nct_id: str, a: str | None = None, b: str | None = None) -> CompareView:
    """The whole record of versions ``a`` and ``b``, section by section, aligned."""
    return _compare(db, nct_id, a, b)


@router.get("/trials/{nct_id}", response_class=HTMLResponse, include_in_schema=False)
def trial_page(request: Request, db: Db, nct_id: str) -> Response:
    view = _trial(db, nct_id)
    rows = _versions(db, view.nct_id)
    view.findings = trial_findings(db, view.nct_id, rows)
    timeline = _timeline(db, view.nct_id)
    criteria = criteria_tree(view.record)
    return render(
        request,
        "trial.html",
        view=view,
        facts=facts(view.record),
        links=links(view.nct_id, view.record),
        criteria=criteria,
        criteria_count=criteria_count(criteria),
        criteria_text="" if criteria else plain_criteria(view.record),
        site_line=site_line,
        country_count=country_count,
        module_grades=module_grades,
        status_words=words_of_status,
        versions=rows,
        timeline=timeline,
        charts=charts(timeline),
        narrow=charts(timeline, NARROW),
        default_a=rows[-2].version_id if len(rows) > 1 else None,
        default_b=rows[-1].version_id if rows else None,
    )


@router.get("/trials/{nct_id}/diff", response_class=HTMLResponse, include_in_schema=False)
def diff_page(
    request: Request, db: Db, nct_id: str, a: str | None = None, b: str | None = None
) -> Response:
    view = _diff(db, nct_id, a, b)
    title = _trial(db, view.nct_id).title
    groups = [item_groups(change) for change in view.changes]
    return render(request, "diff.html", diff=view, title=title, groups=groups)


@router.get("/trials/{nct_id}/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(
    request: Request, db: Db, nct_id: str, a: str | None = None, b: str | None = None
) -> Response:
    view = _compare(db, nct_id, a, b)
    title = _trial(db, view.nct_id).title
    return render(request, "compare.html", view=view, title=title)


def _trial(db: Session, nct_id: str) -> TrialView:
    return held(db, nct_id, data.trial_view)


def _versions(db: Session, nct_id: str) -> list[VersionRow]:
    return held(db, nct_id, data.versions)


def _timeline(db: Session, nct_id: str) -> Timeline:
    return held(db, nct_id, data.trial_timeline)


def _compare(db: Session, nct_id: str, a: str | None, b: str | None) -> CompareView:
    nct = nct_of(nct_id)
    first, second = version_id("a", a), version_id("b", b)
    rows = {row.version_id: row for row in _versions(db, nct)}
    old, new = db.get(TrialVersion, first), db.get(TrialVersion, second)
    if old is None or new is None or first not in rows or second not in rows:
        raise NotFound(f"{nct}: version {first} or {second} is not one of this trial's versions")
    return compare_records(nct, rows[first], rows[second], old.record, new.record)


def _diff(db: Session, nct_id: str, a: str | None, b: str | None) -> DiffView:
    nct = nct_of(nct_id)
    first, second = version_id("a", a), version_id("b", b)
    view = version_diff(db, nct, first, second)
    if view is None:
        if data.trial_view(db, nct) is None:
            raise NotFound(f"{nct}: not held")
        raise NotFound(f"{nct}: version {first} or {second} is not one of this trial's versions")
    return view
