"""The browser tests' site: the app on a copy of the analyst database plus one hostile test
edit, served on loopback, and what a person does there (visit a page, press a form's button)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session, col, select

from tests.web.browser import Tab, copy_analyst, ingest_hostile
from tests.web.conftest import serve_app
from trialwatch.registry.db import open_engine
from trialwatch.registry.models import Change, Trial, TrialVersion
from trialwatch.registry.queries import at_least, find_trial, history
from trialwatch.registry.timeline import REGISTRY_ORIGIN, timeline

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Response


@dataclass
class Site:
    base: str  # the app's base URL on loopback
    url: str  # the database it serves

    def query(self, nct_id: str) -> tuple[Trial, list[TrialVersion], list[Change], list[Any]]:
        """The trial, its registry versions in order, its changes and its history rows."""
        engine = open_engine(self.url)
        try:
            with Session(engine) as session:
                trial = find_trial(session, nct_id)
                assert trial is not None and trial.id is not None, nct_id
                versions = timeline(session, trial.id, REGISTRY_ORIGIN)
                changes = session.exec(
                    select(Change).where(Change.trial_id == trial.id).order_by(col(Change.id))
                ).all()
                rows = history(session, nct_id) or []
                session.expunge_all()
                return trial, versions, list(changes), rows
        finally:
            engine.dispose()

    def count_changes(self, kind: str | None = None, min_grade: str | None = None) -> int:
        engine = open_engine(self.url)
        try:
            with Session(engine) as session:
                stmt = select(Change)
                if kind is not None:
                    stmt = stmt.where(Change.kind == kind)
                if min_grade is not None:
                    stmt = stmt.where(at_least(min_grade))
                return len(session.exec(stmt).all())
        finally:
            engine.dispose()


@pytest.fixture(scope="module", name="site")
def site_fixture(
    analyst_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The app on a copy of the analyst database plus one hostile test edit."""
    url, root = copy_analyst(analyst_template, tmp_path_factory.mktemp("browser"))
    ingest_hostile(url, root)
    with serve_app(url) as base:
        yield Site(base, url)


def visit(tab: Tab, url: str) -> Response:
    response = tab.page.goto(url)
    assert response is not None, url
    assert response.status == 200, f"{url}: HTTP {response.status}"
    return response


def submit(form: Locator) -> None:
    """Press the form's submit button, as a person would."""
    button = form.locator("button[type=submit], input[type=submit], button:not([type])")
    assert button.count() >= 1, "the form has no submit button"
    with form.page.expect_navigation():
        button.first.click()


def attrs(locator: Locator, *names: str) -> list[tuple[str | None, ...]]:
    return [tuple(item.get_attribute(name) for name in names) for item in locator.all()]


def feed_ids(page: Page) -> list[int]:
    return [int(i or "") for (i,) in attrs(page.locator("tr.change"), "data-change-id")]


def fits(page: Page) -> bool:
    """No part of the page runs past the window's width (nothing to scroll sideways)."""
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return bool(width <= window)
