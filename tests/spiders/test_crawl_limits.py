"""A crawl ends, and says how: pageToken loops, the page cap, timeouts and the deadline, run
the way the program runs them (child process) against servers on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.spiders.servers import (
    STUDIES,
    PageServer,
    SilentServer,
    cycle_plan,
    endless_plan,
    nct_of,
)
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.components import NOTICE, STOP, seconds_text
from trialwatch.spiders.runner import CrawlError, Fetched, crawl

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_BACKOFF_BASE": 0}
SEARCH = {"query.cond": "anything"}


def fetches(rows: list[Fetched]) -> list[Fetched]:
    return [r for r in rows if r.kind not in (NOTICE, STOP)]


def stops(rows: list[Fetched]) -> list[str]:
    return [r.reason or "" for r in rows if r.kind == STOP]


def search(tmp_path: Path, srv: PageServer, **settings: Any) -> list[Fetched]:
    return crawl(
        "ctgov",
        data_dir=tmp_path,
        base_url=srv.base_url,
        query=SEARCH,
        settings={**FAST, **settings},
    )


@pytest.mark.reliability
def test_a_token_cycle_of_two_stops_the_search_with_the_pages_named(
    tmp_path: Path, reliability: Any
) -> None:
    with PageServer(cycle_plan("A", "B")) as srv:
        rows = search(tmp_path, srv)
    assert srv.pages() == [None, "A", "B"]  # page 3 gives A again: not asked for a second time
    assert [r.outcome for r in fetches(rows)] == ["ok"] * 3
    assert stops(rows) == [
        "pageToken loop: token 'A' seen at page 1 and page 3; the search was not finished"
    ]
    assert rows[-1].kind == STOP  # after the page that revealed it
    store = SnapshotStore(tmp_path)
    held = [nct_of(s) for r in fetches(rows) for s in _studies(store.get(r.snapshot or ""))]
    assert held == [nct_of(s) for s in STUDIES[:9]]  # the pages before the loop, whole
    reliability.tried("crawl", "nextPageToken cycle A→B→A", 1, "stopped at page 3, loop named")


def test_a_token_repeating_itself_is_the_shortest_loop(tmp_path: Path) -> None:
    with PageServer(cycle_plan("A")) as srv:
        rows = search(tmp_path, srv)
    assert srv.pages() == [None, "A"]
    assert stops(rows) == [
        "pageToken loop: token 'A' seen at page 1 and page 2; the search was not finished"
    ]


def test_a_long_cycle_is_caught_too(tmp_path: Path) -> None:
    with PageServer(cycle_plan("A", "B", "C", "D", per_page=1)) as srv:
        rows = search(tmp_path, srv)
    assert srv.pages() == [None, "A", "B", "C", "D"]
    assert stops(rows) == [
        "pageToken loop: token 'A' seen at page 1 and page 5; the search was not finished"
    ]


@pytest.mark.reliability
def test_a_server_that_always_sends_a_new_token_stops_at_the_page_cap(
    tmp_path: Path, reliability: Any
) -> None:
    with PageServer(endless_plan()) as srv:
        rows = search(tmp_path, srv, TRIALWATCH_MAX_PAGES=7)
    assert srv.pages() == [None, *(f"page-{n}" for n in range(1, 7))]
    assert len(fetches(rows)) == 7 and all(r.outcome == "ok" for r in fetches(rows))
    assert stops(rows) == ["page cap of 7 pages reached; the search was not finished"]
    reliability.tried("crawl", "a new nextPageToken on every page", 1, "stopped at the page cap")


def test_a_search_that_ends_by_itself_has_no_stop_line(tmp_path: Path) -> None:
    def plan(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return (STUDIES[:2], "next") if token is None else ([], None)

    with PageServer(plan) as srv:
        rows = search(tmp_path, srv, TRIALWATCH_MAX_PAGES=2)
    assert srv.pages() == [None, "next"] and stops(rows) == []


@pytest.mark.reliability
def test_an_unresponsive_server_times_out_soon_and_says_so_at_once(
    tmp_path: Path, reliability: Any
) -> None:
    seen: list[tuple[float, Fetched]] = []
    with SilentServer() as srv:
        started = time.monotonic()
        rows = crawl(
            "ctgov",
            data_dir=tmp_path,
            base_url=srv.base_url,
            nct_ids=["NCT00184067"],
            settings={**FAST, "DOWNLOAD_TIMEOUT": 1},
            on_fetch=lambda row: seen.append((time.monotonic() - started, row)),
        )
        took = time.monotonic() - started
    # robots.txt, then the study: each tried twice (one retry for a timeout), 1 s each
    assert len(srv.accepted) == 4
    notices = [(at, r.reason or "") for at, r in seen if r.kind == NOTICE]
    assert notices[0][1] == (
        f"{srv.base_url}/robots.txt: timed out: no answer within 1 s; trying again (attempt 2 of 2)"
    )
    assert notices[0][0] < 1 + 5  # one timeout after the child started (a few seconds)
    [failed] = fetches(rows)
    assert failed.outcome == "failed" and failed.status == 0
    assert failed.reason == "timed out: no answer within 1 s after 2 attempts"
    assert failed.url == f"{srv.base_url}/api/v2/studies/NCT00184067"
    assert took < 4 * 1 + 25  # four timeouts and the child's start (busy), not 6 x 180 s
    reliability.tried(
        "crawl", "server accepts and never answers, --timeout 1", 1, "2 tries a URL, said at once"
    )


@pytest.mark.reliability
def test_the_deadline_ends_a_crawl_over_a_slow_server(tmp_path: Path, reliability: Any) -> None:
    seen: list[Fetched] = []
    with PageServer(endless_plan(), delay=0.7) as srv:
        started = time.monotonic()
        with pytest.raises(CrawlError):  # the child says it ended early; the STOP line says why
            crawl(
                "ctgov",
                data_dir=tmp_path,
                base_url=srv.base_url,
                query=SEARCH,
                settings={**FAST, "CLOSESPIDER_TIMEOUT": 2},
                on_fetch=seen.append,
            )
        took = time.monotonic() - started
    assert stops(seen) == ["deadline of 2 s reached: crawl stopped"]
    after = [r for r in seen[[r.kind for r in seen].index(STOP) :] if r.kind != STOP]
    assert len(after) <= 1  # the page under way at the deadline, and nothing asked after it
    pages = fetches(seen)
    assert 1 <= len(pages) <= 4 and all(r.outcome == "ok" for r in pages)
    assert took < 2 + 0.7 + 20  # the deadline, the request under way, the child's start (busy)
    reliability.tried(
        "crawl", "--deadline 2 over a server answering in 0.7 s", 1, "stopped, reason given"
    )


@pytest.mark.reliability
def test_the_deadline_holds_when_a_request_hangs(tmp_path: Path, reliability: Any) -> None:
    """Scrapy closes a spider only once the requests under way end: a robots.txt that never
    answers, then the request waiting on it, would hold it 3 timeouts past the deadline."""
    seen: list[tuple[float, Fetched]] = []
    with SilentServer() as srv:
        started = time.monotonic()
        with pytest.raises(CrawlError, match="requests under way abandoned"):
            crawl(
                "ctgov",
                data_dir=tmp_path,
                base_url=srv.base_url,
                nct_ids=["NCT00184067"],
                settings={**FAST, "CLOSESPIDER_TIMEOUT": 1, "DOWNLOAD_TIMEOUT": 4},
                on_fetch=lambda row: seen.append((time.monotonic() - started, row)),
            )
        took = time.monotonic() - started
    [(at, stop)] = [(at, r) for at, r in seen if r.kind == STOP]
    assert stop.reason == "deadline of 1 s reached: crawl stopped"
    assert at < 1 + 5  # said at the deadline, not when the crawl ends
    assert took < 1 + 4 + 1 + 20, took  # deadline + one timeout + 1 s, the child's start (busy)
    reliability.tried(
        "crawl",
        "--deadline 1, --timeout 4, server never answers",
        1,
        "ended one timeout past the deadline",
    )


def test_seconds_are_written_as_people_write_them() -> None:
    assert [seconds_text(s) for s in (1, 2.5, 30, 90, 600, 900, 3600, 21600, 5400)] == [
        "1 s",
        "2.5 s",
        "30 s",
        "90 s",
        "10 min",
        "15 min",
        "1 h",
        "6 h",
        "90 min",
    ]


def _studies(body: bytes) -> list[dict[str, Any]]:
    return list(json.loads(body)["studies"])
