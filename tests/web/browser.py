"""Browser tests' set-up: Debian's Chromium driven by Playwright (no browser download).

The browser is found at ``$TRIALWATCH_CHROMIUM``, else ``/usr/bin/chromium``, else on PATH.
Without it (or without the ``playwright`` package) the tests are skipped, except where
``TRIALWATCH_REQUIRE_BROWSER`` is set (CI): there they fail with the same reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.analyst_data import ROUND_2
from trialwatch.demo import edited
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine
from trialwatch.snapshots import SnapshotStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

NO_CHROMIUM = "no Chromium: apt-get install chromium, or set TRIALWATCH_CHROMIUM"
NO_PLAYWRIGHT = "no playwright package: pip install -e '.[test]'"
ARTIFACTS = Path(os.environ.get("TRIALWATCH_ARTIFACTS") or Path(__file__).parents[1] / "artifacts")

# A test edit of a real recorded study (tests/fixtures/ctgov/NCT05594173): markup with a script
# in an event handler added to its title and as one exclusion criterion, and a later registry
# date so it is the trial's newest version.
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_TRIAL = "NCT05594173"
# API v2 free text is Markdown: a literal "<" comes backslash-escaped (a bare tag is dropped as
# markup by the criteria reader, so it would never reach the page).
MARKDOWN_HOSTILE = HOSTILE.replace("<", "\\<").replace(">", "\\>")
HOSTILE_EDIT: dict[str, Any] = {
    "file": "ctgov_v2_NCT05594173.json",
    "says": "title and one exclusion criterion hold HTML with a script in an event handler",
    "set": {
        "protocolSection.identificationModule.briefTitle": (
            f"Chewing and Oral Processing of Solid Food {HOSTILE}"
        ),
        "protocolSection.statusModule.lastUpdatePostDateStruct": {
            "date": "2022-12-01",
            "type": "ACTUAL",
        },
    },
    "replace": {
        "protocolSection.eligibilityModule.eligibilityCriteria": [
            ["* Type 1 Diabetes\n", f"* Type 1 Diabetes\n* {MARKDOWN_HOSTILE}\n"]
        ]
    },
}
# Recorded in the page itself: a CSP violation also fires this event, not only a console line.
RECORD_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(
    e.violatedDirective + " " + e.blockedURI);
});
"""


def browser_missing(reason: str) -> NoReturn:
    """Skip for want of a browser; fail instead where one is required (CI)."""
    if os.environ.get("TRIALWATCH_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests required (TRIALWATCH_REQUIRE_BROWSER) but {reason}")
    pytest.skip(reason, allow_module_level=True)


def require_playwright() -> None:
    """At a test module's top, before it imports playwright."""
    if importlib.util.find_spec("playwright") is None:
        browser_missing(NO_PLAYWRIGHT)


def find_chromium() -> str | None:
    """The Chromium to drive: $TRIALWATCH_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    named = os.environ.get("TRIALWATCH_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session", name="chromium")
def chromium_fixture() -> Iterator[Browser]:
    """One headless Chromium for the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_missing(NO_PLAYWRIGHT)
    path = find_chromium()
    if path is None:
        named = os.environ.get("TRIALWATCH_CHROMIUM")
        browser_missing(f"TRIALWATCH_CHROMIUM={named}: no such file" if named else NO_CHROMIUM)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=path, headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page and what it reported: console errors, CSP violations, dialogs opened."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_problems(self) -> list[str]:
        """CSP violations seen so far, from the console and from the page's own events."""
        found = [line for line in self.console_errors if "Content Security Policy" in line]
        events = self.page.evaluate("window.__cspViolations || []")
        return found + [f"securitypolicyviolation: {event}" for event in events]


@pytest.fixture(name="tab")
def tab_fixture(chromium: Browser) -> Iterator[Tab]:
    """A fresh page in its own context, watched for console errors and dialogs."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(RECORD_CSP)
    watched = Tab(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watched.console_errors.append(str(error)))
    try:
        yield watched
    finally:
        context.close()


def copy_analyst(template: Path, tmp_path: Path) -> tuple[str, Path]:
    """A private copy of the analyst database: its URL and its folder."""
    root = tmp_path / "analyst"
    shutil.copytree(template, root)
    return f"sqlite:///{root / 'trialwatch.db'}", root


def ingest_hostile(url: str, root: Path) -> None:
    """Add the hostile test edit of HOSTILE_TRIAL as its newest registry version."""
    fixture = Path(__file__).parents[1] / "fixtures" / "ctgov" / HOSTILE_TRIAL
    body = edited((fixture / HOSTILE_EDIT["file"]).read_bytes(), HOSTILE_EDIT)
    study = json.loads(body)["protocolSection"]
    assert MARKDOWN_HOSTILE in study["eligibilityModule"]["eligibilityCriteria"]
    assert HOSTILE in study["identificationModule"]["briefTitle"]
    engine = open_engine(url)
    lines: list[str] = []
    try:
        pipeline = Pipeline(
            engine, SnapshotStore(root / "trialwatch-data" / "snapshots"), report=lines.append
        )
        tally = Tally()
        seen = ROUND_2 + timedelta(days=1)
        pipeline.ingest_body(
            body, name=f"hostile_{HOSTILE_EDIT['file']}", observed_at=seen, tally=tally
        )
        assert tally.new_versions == 1, (tally, lines)
    finally:
        engine.dispose()


def artifact(name: str) -> Path:
    """Where a test keeps a file for people to look at (the folder is made)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
