"""Crawls that survive throttling, tested as users run them: `trialwatch crawl`, `backfill` and
`schedule run` as processes of their own, with no optional flag but the mirror's address,
against a loopback server that answers the first request of every path (robots.txt
included) with 429 or 503, and one that throttles every request for ever.

The studies, search pages, record-history versions and site page are the recorded responses
under tests/fixtures (their SOURCES.md); what the server does with them (a 429 before each, a
robots.txt of one Crawl-delay line) is this test's scenario, not observed behaviour.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from tests.registry_server import (
    ROBOTS,
    SIX,
    TOO_MANY,
    UNAVAILABLE,
    crawl_runs,
    held,
    run,
    throttled,
)
from tests.scheduler.support import db_arg, trialwatch, wait_for
from tests.spiders.servers import SilentServer
from trialwatch.cli import cli
from trialwatch.demo.history import build_history_replay
from trialwatch.demo.replay import ReplayServer, Reply

CTE = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www"


@pytest.fixture
def here(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.mark.reliability
def test_six_studies_arrive_through_a_429_before_every_path(
    db_url: str, here: Path, reliability: Any
) -> None:
    args = [a for nct in SIX for a in ("--nct", nct)]
    with ReplayServer(here / "srv", throttled(here / "srv", [TOO_MANY])) as srv:
        base = srv.base_url
        status, err, took = run(db_url, here, "crawl", "ctgov", *args, "--base-url", base)
        asked = [r.path for r in srv.received]
    assert status == 0, err
    assert "Traceback" not in err
    assert held(db_url) == set(SIX)
    assert took < 60, took
    assert asked.count("/robots.txt") == 2  # the 429, then the file: asked once more, no more
    assert all(asked.count(f"/api/v2/studies/{n}") == 2 for n in SIX), asked
    assert f"HTTP 429 from {base}/robots.txt: trying again in 1 s (attempt 2 of 6)" in err
    assert f"HTTP 429 from {base}/api/v2/studies/{SIX[0]}: trying again in 1 s" in err
    [crawl] = crawl_runs(db_url)
    assert (crawl.status, crawl.new_versions, crawl.errors) == ("ok", 6, [])
    reliability.tried(
        "crawl", "`trialwatch crawl` of 6 studies, 429 + Retry-After: 1 before each path", 1,
        f"all 6 stored, run ok, in {took:.0f} s",
    )  # fmt: skip


@pytest.mark.reliability
def test_a_search_rides_out_503_without_retry_after_on_every_page(
    here: Path, reliability: Any
) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    with ReplayServer(here / "srv", throttled(here / "srv", [UNAVAILABLE], ncts=[])) as srv:
        status, err, took = run(
            db, here, "crawl", "ctgov", "--query", "query.cond=anything", "--base-url", srv.base_url
        )
    assert status == 0, err
    assert len(held(db)) == 13  # 1 + 2 + 10 studies on the three recorded pages, then the end
    assert "HTTP 503 from" in err and "trying again in 2 s (attempt 2 of 6)" in err
    [crawl] = crawl_runs(db)
    assert crawl.status == "ok" and crawl.fetched == 4
    assert took < 90, took
    reliability.tried(
        "crawl", "`crawl --query`: 503 without Retry-After before each page and robots.txt", 1,
        "4 pages, 13 studies stored, run ok",
    )  # fmt: skip


@pytest.mark.reliability
class DatedReplay(ReplayServer):
    """Its Retry-After "+3s" goes out as the HTTP date 3 s after the answer is sent."""

    def respond(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().respond(method, target, headers)
        if reply.headers.get("Retry-After") != "+3s":
            return reply
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
        return replace(reply, headers={**reply.headers, "Retry-After": when})


def test_500_then_503_then_an_http_date_retry_after(here: Path, reliability: Any) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    dated = {"status": 429, "headers": {"Retry-After": "+3s"}, "text": "slow down"}
    spec = throttled(here / "srv", [], ncts=SIX[:2])
    for route in spec["routes"]:
        if route["path"] == f"/api/v2/studies/{SIX[0]}":
            route["responses"][:0] = [{"status": 500, "text": "error"}, UNAVAILABLE]
        if route["path"] == f"/api/v2/studies/{SIX[1]}":
            route["responses"][:0] = [dated]
    with DatedReplay(here / "srv", spec) as srv:
        status, err, _ = run(
            db, here, "crawl", "ctgov", "--nct", SIX[0], "--nct", SIX[1], "--base-url", srv.base_url
        )
        second = [r.at for r in srv.requests_to(f"/api/v2/studies/{SIX[1]}")]
    assert status == 0, err
    assert held(db) == set(SIX[:2])
    assert "HTTP 500 from" in err and "HTTP 503 from" in err
    assert second[1] - second[0] >= 1.9, second  # waited for the date (whole seconds) given
    reliability.tried(
        "crawl", "500, 503, then 200; and a Retry-After given as an HTTP date", 1, "both stored"
    )


@pytest.mark.reliability
def test_a_server_that_throttles_for_ever_fails_the_run_within_the_budget(
    db_url: str, here: Path, reliability: Any
) -> None:
    spec = {
        "routes": [
            {"path": p, "responses": [TOO_MANY]}
            for p in ("/robots.txt", f"/api/v2/studies/{SIX[0]}")
        ]
    }
    with ReplayServer(here, spec) as srv:
        base = srv.base_url
        status, err, took = run(db_url, here, "crawl", "ctgov", "--nct", SIX[0], "--base-url", base)
        asked = [r.path for r in srv.received]
    assert status == 1, err
    assert "Traceback" not in err
    assert asked.count("/robots.txt") == 6 and asked.count(f"/api/v2/studies/{SIX[0]}") == 6
    robots = f"{base}/robots.txt: HTTP 429 Too Many Requests after 6 attempts; no rules known"
    assert err.count(robots) == 1, err
    failed = f"{base}/api/v2/studies/{SIX[0]}: HTTP 429 Too Many Requests after 6 attempts"
    assert failed in err
    assert "set aside" not in err and ", 0 rejected, 1 fetch(es) failed" in err
    [crawl] = crawl_runs(db_url)
    assert crawl.status == "failed" and crawl.errors == [failed]
    assert took < 60, took
    reliability.tried(
        "crawl", "every answer 429 (Retry-After: 1), robots.txt included", 1,
        f"run failed with the reason in {took:.0f} s",
    )  # fmt: skip


@pytest.mark.reliability
def test_a_refused_connection_is_one_failed_fetch(here: Path, reliability: Any) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    with ReplayServer(here, {"routes": []}) as srv:
        base = srv.base_url  # a port that was listening a moment ago: now nothing answers
    status, err, took = run(db, here, "crawl", "ctgov", "--nct", SIX[0], "--base-url", base)
    url = f"{base}/api/v2/studies/{SIX[0]}"
    assert status == 1, err
    assert "Traceback" not in err
    assert err.count(url) == 2, err  # the line saying it is tried again, the line it failed
    assert f"{url}: connection refused after 2 attempts" in err
    assert "set aside" not in err and ", 0 rejected, 1 fetch(es) failed" in err
    assert "Error" not in err
    [crawl] = crawl_runs(db)
    assert (crawl.status, crawl.rejected, crawl.errors) == (
        "failed",
        0,
        [f"{url}: connection refused after 2 attempts"],
    )
    assert took < 30, took
    reliability.tried("crawl", "connection refused", 1, "one failed fetch, named once")


@pytest.mark.reliability
def test_a_server_that_hangs_up_is_one_failed_fetch_said_in_words(
    here: Path, reliability: Any
) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    with SilentServer(hang_up=True) as srv:
        status, err, took = run(
            db, here, "crawl", "ctgov", "--nct", SIX[0], "--base-url", srv.base_url
        )
    url = f"{srv.base_url}/api/v2/studies/{SIX[0]}"
    assert status == 1 and "Traceback" not in err, err
    [crawl] = crawl_runs(db)
    assert crawl.status == "failed" and crawl.rejected == 0
    # Scrapy's wrapper (DownloadFailedError) is read down to Twisted's reason.
    assert crawl.errors == [f"{url}: no answer after 2 attempts"], crawl.errors
    assert "Error" not in err and "twisted" not in err
    assert took < 60, took
    reliability.tried("crawl", "server hangs up on every request", 1, "one failed fetch, in words")


@pytest.mark.reliability
def test_backfill_rides_out_a_429_before_every_path(here: Path, reliability: Any) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    folder = build_history_replay(here / "srv", nct_ids=["NCT04280705"])
    spec = json.loads((folder / "routes.json").read_text())
    for route in spec["routes"]:
        route["responses"][:0] = [TOO_MANY]
    spec["routes"].append(
        {"path": "/robots.txt", "responses": [TOO_MANY, {"status": 200, "text": ROBOTS}]}
    )
    with ReplayServer(folder, spec) as srv:
        status, err, took = run(db, here, "backfill", "NCT04280705", "--base-url", srv.base_url)
    assert status == 0, err
    [crawl] = crawl_runs(db)
    assert (crawl.status, crawl.new_versions, crawl.unchanged) == ("ok", 5, 1), crawl.errors
    assert "HTTP 429 from" in err
    assert took < 90, took
    reliability.tried(
        "backfill",
        "429 before the list, each version and robots.txt",
        1,
        "5 versions stored, 1 unchanged",
    )


@pytest.mark.reliability
def test_a_site_page_rides_out_a_429(here: Path, reliability: Any) -> None:
    db = f"sqlite:///{here / 'trialwatch.db'}"
    url = json.loads((CTE / "expected.json").read_text())["url"]
    path = url.split("clinicaltrialexchange.com", 1)[1]
    (here / "srv").mkdir()
    shutil.copy(CTE / "semantic.html", here / "srv" / "page.html")
    page = {"status": 200, "headers": {"Content-Type": "text/html"}, "body": "page.html"}
    spec = {"routes": [
        {"path": "/robots.txt", "responses": [TOO_MANY, {"status": 200, "text": ROBOTS}]},
        {"path": path, "responses": [TOO_MANY, page]},
    ]}  # fmt: skip
    with ReplayServer(here / "srv", spec) as srv:
        status, err, took = run(
            db, here, "crawl", "clinicaltrialexchange", "--url", url, "--base-url", srv.base_url
        )
    assert status == 0, err
    assert held(db) == {"NCT05828225"}
    assert took < 60, took
    reliability.tried("crawl", "a site page and its robots.txt each answered 429 once", 1, "stored")


@pytest.mark.reliability
def test_schedule_run_rides_out_a_429_before_every_path(
    db_url: str, here: Path, reliability: Any
) -> None:
    with ReplayServer(here / "srv", throttled(here / "srv", [TOO_MANY], ncts=SIX[:2])) as srv:
        added = CliRunner().invoke(
            cli,
            ["--db", db_url, "schedule", "add", "--every", "1s", "crawl", "ctgov",
             "--nct", SIX[0], "--nct", SIX[1], "--base-url", srv.base_url],
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        proc = trialwatch("--db", db_arg(db_url, here), "schedule", "run", cwd=here, name="run")
        try:
            done = wait_for(
                "the scheduled crawl to end",
                lambda: [r for r in crawl_runs(db_url) if r.finished_at is not None],
                timeout=90,
                every=0.5,
            )
            proc.signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, proc.err()
        finally:
            proc.stop()
    assert [r.status for r in done] == ["ok"], [r.errors for r in done]
    assert held(db_url) == set(SIX[:2])
    reliability.tried("scheduler", "`schedule run` of a crawl, 429 before each path", 1, "run ok")
