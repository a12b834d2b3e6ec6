"""A loopback registry for crawl tests, and the command run as a user runs it.

``throttled`` routes the recorded responses of tests/fixtures (six API v2 studies, the
recorded search pages chained by their real nextPageToken values) for
``trialwatch.demo.replay.ReplayServer``, each answering a scenario's answers first (e.g. a
429 before every path, robots.txt included): that scenario is the tests', not observed
behaviour; so is the robots.txt of one Crawl-delay line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from tests.conftest import FIXTURES
from tests.scheduler.support import runs
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun, TrialVersion

ROOT = Path(__file__).resolve().parents[1]
SPIDER = FIXTURES / "ctgov_spider"
# Six real API v2 records: three beside the recorded search pages, three from tests/fixtures/ctgov.
SIX = ["NCT00184067", "NCT03934567", "NCT00973089", "NCT04267848", "NCT06171568", "NCT05594173"]
ROBOTS = "User-agent: *\nCrawl-delay: 1\n"  # this test's own, in the shape the registry asks
TOO_MANY = {"status": 429, "headers": {"Retry-After": "1"}, "text": "Too Many Requests"}
UNAVAILABLE = {"status": 503, "text": "Service Unavailable"}  # no Retry-After: backoff


def _study_file(nct: str) -> Path:
    here = SPIDER / f"ctgov_v2_{nct}.json"
    return here if here.exists() else FIXTURES / "ctgov" / nct / f"ctgov_v2_{nct}.json"


def throttled(folder: Path, first: list[dict[str, Any]], ncts: list[str] = SIX) -> dict[str, Any]:
    """Routes for the recorded studies and the chained search pages of tests/fixtures/
    ctgov_spider, each answering ``first`` before its recorded response (robots.txt too)."""
    folder.mkdir(parents=True, exist_ok=True)
    for nct in ncts:
        shutil.copy(_study_file(nct), folder)
    recorded = json.loads((SPIDER / "routes.json").read_text())["routes"]
    pages = [
        r
        for r in recorded
        if r["path"] == "/api/v2/studies" and "query.term" not in r.get("query", {})
    ]
    for route in pages:
        shutil.copy(SPIDER / route["responses"][0]["body"], folder)
    routes = [{"path": "/robots.txt", "responses": [*first, {"status": 200, "text": ROBOTS}]}]
    for nct in ncts:
        ok = {"status": 200, "body": f"ctgov_v2_{nct}.json"}
        routes.append({"path": f"/api/v2/studies/{nct}", "responses": [*first, ok]})
    routes += [{**r, "responses": [*first, *r["responses"]]} for r in pages]
    return {"routes": routes}


def command(
    db: str, cwd: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`trialwatch --db DB ARGS` as a process of its own, in ``cwd``, with no TRIALWATCH_
    variable but those in ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    full.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "--db", db, *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run(
    db: str, cwd: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> tuple[int, str, float]:
    """``command``'s (exit status, stderr, seconds it took)."""
    started = time.monotonic()
    done = command(db, cwd, *args, timeout=timeout, env=env)
    return done.returncode, done.stderr, time.monotonic() - started


def crawl_runs(db: str) -> list[CrawlRun]:
    return runs(db)


def held(db: str) -> set[str]:
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            return set(session.exec(select(col(TrialVersion.nct_id))).all())
    finally:
        engine.dispose()
