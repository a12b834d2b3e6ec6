"""The ctgov spider, run the way the program runs it (child process), against a loopback replay."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from trialwatch.demo.replay import ReplayServer, RoutesError
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.components import NOTICE, STOP
from trialwatch.spiders.ctgov import USER_AGENT, CtgovSpider
from trialwatch.spiders.runner import CrawlError, Fetched, crawl, retry_after_seconds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ctgov_spider"
PAGES = [
    "ctgov_v2_studies_page_cyanheads_2025-06-17T11-15-33.json",
    "ctgov_v2_studies_page_cyanheads_2025-06-17T11-16-37.json",
    "ctgov_v2_studies_page_10studies_martinadep.json",
    "replay_empty_page.json",
]
TOKENS = [None, "NF0g5JaGmg", "NF0g5JCG", "ZVJj7o2Elu8o3lp1W9a9tarumo6QeZdqbfOm2fg"]
# Fast but otherwise default behaviour: robots.txt, retries and redirects stay on.
FAST = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "RETRY_TIMES": 1,
    "RETRY_BACKOFF_BASE": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(
    tmp_path: Path, routes: str | dict[str, Any] = "routes.json", **kwargs: Any
) -> tuple[list[Fetched], ReplayServer, SnapshotStore]:
    settings = {**FAST, **kwargs.pop("settings", {})}
    with ReplayServer(FIXTURES, routes) as srv:
        rows = crawl("ctgov", data_dir=tmp_path, base_url=srv.base_url, settings=settings, **kwargs)
    fetches = [r for r in rows if r.kind not in (NOTICE, STOP)]  # the retries' lines left out
    return fetches, srv, SnapshotStore(tmp_path)


def api_requests(srv: ReplayServer) -> list[Any]:
    return [r for r in srv.received if r.path.startswith("/api/")]


# -- search and pagination -----------------------------------------------------------------


def test_search_follows_next_page_tokens_to_the_empty_page(tmp_path: Path) -> None:
    seen: list[Fetched] = []
    rows, srv, store = run(tmp_path, query={"query.cond": "lung cancer"}, on_fetch=seen.append)

    assert seen == rows  # streamed as they arrived, same rows returned
    pages = srv.requests_to("/api/v2/studies")
    assert [r.param("pageToken") for r in pages] == TOKENS
    for r in pages:
        assert r.param("pageSize") == "1000"
        assert r.param("query.cond") == "lung cancer"
    assert [f.outcome for f in rows] == ["ok"] * 4
    assert [store.get(f.snapshot) for f in rows] == [fixture_bytes(p) for p in PAGES]
    for f in rows:
        assert f.status == 200 and f.requested_nct is None and f.reason is None
        assert f.url == f.requested_url
        assert f.fetched_at.tzinfo is not None and f.fetched_at.utcoffset() == timedelta(0)


def test_empty_first_page_ends_the_search(tmp_path: Path) -> None:
    routes = {
        "routes": [
            {
                "path": "/api/v2/studies",
                "responses": [{"status": 200, "body": "replay_empty_page.json"}],
            }
        ]
    }
    rows, srv, store = run(tmp_path, routes, query={"query.term": "nothing"})
    assert len(srv.requests_to("/api/v2/studies")) == 1
    assert [(f.outcome, store.get(f.snapshot)) for f in rows] == [("ok", b'{"studies": []}\n')]


def test_query_params_pass_through_and_bad_ones_are_refused(tmp_path: Path) -> None:
    query = {
        "query.cond": "asthma",
        "filter.overallStatus": "RECRUITING",
        "sort": "LastUpdatePostDate",
    }
    rows, srv, _ = run(tmp_path, query=query)
    first = srv.requests_to("/api/v2/studies")[0]
    assert first.query == {k: [v] for k, v in {"pageSize": "1000", **query}.items()}
    assert len(rows) == 4
    with pytest.raises(ValueError, match="'pageSize'"):
        crawl("ctgov", data_dir=tmp_path, query={"pageSize": "5"})
    with pytest.raises(ValueError, match="'fields'"):
        crawl("ctgov", data_dir=tmp_path, query={"fields": "NCTId"})


def test_incremental_sends_the_last_update_filter(tmp_path: Path) -> None:
    rows, srv, _ = run(tmp_path, updated_since=date(2024, 1, 31), query={"query.cond": "covid"})
    pages = srv.requests_to("/api/v2/studies")
    want = "AREA[LastUpdatePostDate]RANGE[2024-01-31,MAX]"
    assert [r.param("filter.advanced") for r in pages] == [want] * 4
    assert all(r.param("query.cond") == "covid" for r in pages)
    assert [f.outcome for f in rows] == ["ok"] * 4


def test_incremental_filter_is_combined_with_a_given_advanced_filter() -> None:
    spider = CtgovSpider(query={"filter.advanced": "AREA[Phase]PHASE3"}, updated_since="2024-06-01")
    assert spider.search_params()["filter.advanced"] == (
        "(AREA[Phase]PHASE3) AND AREA[LastUpdatePostDate]RANGE[2024-06-01,MAX]"
    )


def test_a_non_json_page_is_a_failed_fetch_not_a_crash(tmp_path: Path) -> None:
    rows, srv, store = run(tmp_path, query={"query.term": "not-json"})
    assert len(srv.requests_to("/api/v2/studies")) == 1
    [f] = rows
    assert f.outcome == "failed" and f.status == 200
    assert "not a JSON search page" in (f.reason or "") and "\n" not in (f.reason or "")
    assert store.get(f.snapshot) == fixture_bytes("ctgov_classic_html_invalid-nct-id.html")


# -- studies by id -------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_delay(tmp_path: Path) -> None:
    rows, srv, store = run(tmp_path, nct_ids=["NCT00973089"])
    tries = srv.requests_to("/api/v2/studies/NCT00973089")
    assert len(tries) == 2
    assert tries[1].at - tries[0].at >= 0.9  # Retry-After: 1
    [f] = rows
    assert (f.outcome, f.status, f.requested_nct) == ("ok", 200, "NCT00973089")
    assert store.get(f.snapshot) == fixture_bytes("ctgov_v2_NCT00973089.json")


def test_retry_after_is_capped(tmp_path: Path) -> None:
    routes = {
        "routes": [
            {
                "path": "/api/v2/studies/NCT00184067",
                "responses": [
                    {"status": 429, "headers": {"Retry-After": "3600"}},
                    {"status": 200, "body": "ctgov_v2_NCT00184067.json"},
                ],
            }
        ]
    }
    rows, srv, _ = run(tmp_path, routes, nct_ids=["NCT00184067"], settings={"RETRY_AFTER_MAX": 0.2})
    tries = srv.requests_to("/api/v2/studies/NCT00184067")
    assert len(tries) == 2 and tries[1].at - tries[0].at < 5
    assert [f.outcome for f in rows] == ["ok"]


def test_retry_after_header_forms() -> None:
    now = datetime(2025, 6, 17, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds(b" 120 ") == 120.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_5xx_retries_exhausted_is_recorded_as_failed(tmp_path: Path) -> None:
    rows, srv, store = run(tmp_path, nct_ids=["NCT00000503", "NCT00184067"])
    assert len(srv.requests_to("/api/v2/studies/NCT00000503")) == 2  # RETRY_TIMES=1
    by_id = {f.requested_nct: f for f in rows}
    failed = by_id["NCT00000503"]
    assert (failed.outcome, failed.status) == ("failed", 503)
    assert failed.reason == "HTTP 503 Service Unavailable after 2 attempts"
    assert by_id["NCT00184067"].outcome == "ok"


def test_404_is_not_found_and_the_run_goes_on(tmp_path: Path) -> None:
    rows, srv, store = run(tmp_path, nct_ids=["NCT00000000", "NCT00184067", "NCT03934567"])
    assert {r.path for r in api_requests(srv)} == {
        "/api/v2/studies/NCT00000000",
        "/api/v2/studies/NCT00184067",
        "/api/v2/studies/NCT03934567",
    }
    by_id = {f.requested_nct: f for f in rows}
    missing = by_id["NCT00000000"]
    assert (missing.outcome, missing.status) == ("not_found", 404)
    assert missing.reason == "HTTP 404 Not Found after 1 attempt"
    assert missing.url.endswith("/NCT00000000")
    assert json.loads(store.get(missing.snapshot))["status"] == 404  # the replay's error body
    assert by_id["NCT00184067"].outcome == by_id["NCT03934567"].outcome == "ok"
    assert store.get(by_id["NCT00184067"].snapshot) == fixture_bytes("ctgov_v2_NCT00184067.json")


def test_redirect_to_another_study_is_followed_and_the_alias_kept(tmp_path: Path) -> None:
    rows, srv, store = run(tmp_path, nct_ids=["NCT00000001"])
    assert [r.path for r in api_requests(srv)] == [
        "/api/v2/studies/NCT00000001",
        "/api/v2/studies/NCT03934567",
    ]
    [f] = rows
    assert f.outcome == "ok" and f.status == 200
    assert f.requested_nct == "NCT00000001"
    assert f.requested_url == f"{srv_base(f)}/api/v2/studies/NCT00000001"
    assert f.url == f"{srv_base(f)}/api/v2/studies/NCT03934567"
    assert store.get(f.snapshot) == fixture_bytes("ctgov_v2_NCT03934567.json")


def srv_base(f: Fetched) -> str:
    return f.requested_url.split("/api/", 1)[0]


@pytest.mark.parametrize("bad", ["NCT1234", "nct00184067", "NCT001840670", "NCT0018406X", "../etc"])
def test_bad_nct_ids_are_rejected_before_crawling(tmp_path: Path, bad: str) -> None:
    with ReplayServer(FIXTURES) as srv:
        with pytest.raises(ValueError, match=re.escape(f"invalid NCT id {bad!r}")):
            crawl(
                "ctgov",
                data_dir=tmp_path,
                base_url=srv.base_url,
                nct_ids=["NCT00184067", bad],
                settings=FAST,
            )
    assert srv.received == []


def test_other_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        crawl("nope", data_dir=tmp_path, nct_ids=["NCT00184067"])
    with pytest.raises(ValueError, match="nothing to crawl"):
        crawl("ctgov", data_dir=tmp_path)
    with pytest.raises(ValueError, match="not the string"):
        crawl("ctgov", data_dir=tmp_path, nct_ids="NCT00184067")


# -- politeness and plumbing ---------------------------------------------------------------


def test_polite_defaults() -> None:
    s = CtgovSpider.custom_settings
    assert s["DOWNLOAD_DELAY"] == 1.0 and s["AUTOTHROTTLE_ENABLED"] is True
    assert s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1 and s["ROBOTSTXT_OBEY"] is True
    assert 429 in s["RETRY_HTTP_CODES"] and 503 in s["RETRY_HTTP_CODES"]
    assert s["USER_AGENT"] == USER_AGENT


def test_robots_txt_is_read_and_obeyed(tmp_path: Path) -> None:
    routes = {
        "routes": [
            {
                "path": "/robots.txt",
                "responses": [
                    {
                        "status": 200,
                        "headers": {"Content-Type": "text/plain"},
                        "text": "User-agent: *\nDisallow: /api/\n",
                    }
                ],
            },
            {
                "path": "/api/v2/studies/NCT00184067",
                "responses": [{"status": 200, "body": "ctgov_v2_NCT00184067.json"}],
            },
        ]
    }
    rows, srv, _ = run(tmp_path, routes, nct_ids=["NCT00184067"])
    assert [r.path for r in srv.received] == ["/robots.txt"]
    assert srv.received[0].headers.get("User-Agent") == USER_AGENT
    [f] = rows
    assert f.outcome == "failed" and f.snapshot is None and "robots.txt" in (f.reason or "")


def test_base_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ReplayServer(FIXTURES) as srv:
        base = srv.base_url
        monkeypatch.setenv("TRIALWATCH_CTGOV_URL", base)
        rows = crawl("ctgov", data_dir=tmp_path, nct_ids=["NCT00184067"], settings=FAST)
    assert [f.url for f in rows] == [f"{base}/api/v2/studies/NCT00184067"]
    assert srv.received[0].path == "/robots.txt"


def test_a_dying_child_raises_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match=r"crawl ctgov failed: child process exited with \d+"):
        crawl(
            "ctgov",
            data_dir=tmp_path,
            base_url="http://127.0.0.1:9",
            nct_ids=["NCT00184067"],
            settings={**FAST, "TWISTED_REACTOR": "no.such.Reactor"},
        )


# -- the replay server itself --------------------------------------------------------------


def test_replay_unknown_path_and_repeating_last_response() -> None:
    with ReplayServer(FIXTURES) as srv:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{srv.base_url}/api/v2/nowhere")
        assert err.value.code == 404
        assert json.loads(err.value.read())["path"] == "/api/v2/nowhere"
        statuses = []
        for _ in range(3):
            try:
                statuses.append(
                    urllib.request.urlopen(f"{srv.base_url}/api/v2/studies/NCT00973089").status
                )
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        assert statuses == [429, 200, 200]


@pytest.mark.parametrize("name", ["../routes.json", "/etc/passwd", "sub/file.json", "..", ""])
def test_replay_refuses_body_names_outside_its_folder(name: str) -> None:
    routes = {"routes": [{"path": "/x", "responses": [{"status": 200, "body": name}]}]}
    with pytest.raises(RoutesError, match="refused"):
        ReplayServer(FIXTURES, routes)


def test_manifest_lines_carry_every_fetched_field() -> None:
    from trialwatch.spiders.components import MANIFEST_FIELDS

    assert tuple(Fetched.__dataclass_fields__) == MANIFEST_FIELDS
