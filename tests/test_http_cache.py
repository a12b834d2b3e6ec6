"""`trialwatch crawl --http-cache DIR`, run as users run it (a process of its own): a crawl from
a loopback server keeps its answers in DIR, and the same crawl run again once the server is
gone is replayed from DIR; a throttled answer is never kept.

The studies and search pages are the recorded responses of tests/fixtures (their SOURCES.md),
served by tests.registry_server's routes; the 429 before each path is this test's scenario.
"""

from __future__ import annotations

import ast
import gzip
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner

from tests.registry_server import SIX, TOO_MANY, crawl_runs, held, run, throttled
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer

STUDIES = SIX[:3]
NCT_ARGS = [a for nct in STUDIES for a in ("--nct", nct)]


def cached(folder: Path) -> dict[str, int]:
    """What Scrapy's cache in `folder` holds: the path of each request and the status kept."""
    kept = {}
    for meta in folder.rglob("meta"):
        entry = ast.literal_eval(gzip.decompress(meta.read_bytes()).decode())
        kept[urlsplit(entry["url"]).path] = entry["status"]
    return kept


def test_a_crawl_run_again_is_replayed_from_its_cache_without_the_server(tmp_path: Path) -> None:
    first, second = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'second.db'}"
    args = ["crawl", "ctgov", *NCT_ARGS, "--query", "query.cond=anything", "--delay", "0"]
    with ReplayServer(tmp_path / "srv", throttled(tmp_path / "srv", [], STUDIES)) as srv:
        base = srv.base_url
        status, err, _ = run(first, tmp_path, *args, "--base-url", base, "--http-cache", "cache")
        asked = len(srv.received)
    assert status == 0, err
    assert asked == 1 + 3 + 4  # robots.txt, the studies, the search's four pages
    records = held(first)
    assert set(STUDIES) <= records and len(records) == 14  # the search pages hold two of them

    status, err, _ = run(second, tmp_path, *args, "--base-url", base, "--http-cache", "cache")
    assert status == 0, err
    assert "connection refused" not in err
    assert len(srv.received) == asked  # nothing more reached the server
    assert held(second) == records
    [crawl] = crawl_runs(second)
    assert (crawl.status, crawl.fetched, crawl.errors) == ("ok", 7, [])


def test_a_throttled_answer_is_not_kept(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'trialwatch.db'}"
    nct = STUDIES[0]
    args = ["crawl", "ctgov", "--nct", nct, "--http-cache", "cache", "--delay", "0"]
    with ReplayServer(tmp_path / "srv", throttled(tmp_path / "srv", [TOO_MANY], [nct])) as srv:
        status, err, _ = run(db, tmp_path, *args, "--base-url", srv.base_url)
        base = srv.base_url
        asked = [r.path for r in srv.received]
    assert status == 0, err
    assert asked == ["/robots.txt"] * 2 + [f"/api/v2/studies/{nct}"] * 2  # 429, then 200
    assert cached(tmp_path / "cache") == {"/robots.txt": 200, f"/api/v2/studies/{nct}": 200}

    status, err, _ = run(db, tmp_path, *args, "--base-url", base)
    assert status == 0, err
    assert "HTTP 429" not in err
    assert [(r.status, r.fetched) for r in crawl_runs(db)] == [("ok", 1), ("ok", 1)]


def test_a_cache_is_refused_where_it_would_replay_for_ever(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'trialwatch.db'}"
    for argv in (
        ["schedule", "add", "--every", "6h", "crawl", "ctgov", "--nct", STUDIES[0]],
        ["crawl", "ctgov", "--nct", STUDIES[0], "--redis", "redis://127.0.0.1:9/0"],
    ):
        result = CliRunner().invoke(
            cli, ["--db", db, *argv, "--http-cache", str(tmp_path / "cache")]
        )
        assert result.exit_code == 2, (argv, result.output)
        assert "--http-cache is for a crawl run" in result.output, result.output
    assert not (tmp_path / "cache").exists()
