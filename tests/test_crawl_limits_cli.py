"""`crawl` and `backfill` end, and say how: a pageToken loop, the page cap, an unresponsive
server, the deadline and a bad --base-url, end to end (the command, its child process, a
server on loopback, a real database); and the progress line on a terminal but not in a log."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlmodel import select as query

from tests.registry_server import held
from tests.spiders.servers import (
    STUDIES,
    PageServer,
    SilentServer,
    cycle_plan,
    endless_plan,
    nct_of,
)
from trialwatch.cli import cli
from trialwatch.demo.history import history_versions, version_list
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun

ROOT = Path(__file__).resolve().parents[1]
SEARCH = ["--query", "query.cond=anything", "--delay", "0"]
HISTORY_NCT = "NCT04280705"


@pytest.fixture
def db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_CTGOV_URL", raising=False)
    return db_url


def invoke(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], env=env, catch_exceptions=False)


def only_run(db: str) -> CrawlRun:
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            [run] = session.exec(query(CrawlRun)).all()
            return run
    finally:
        engine.dispose()


@pytest.mark.reliability
def test_a_token_cycle_fails_the_run_and_keeps_the_pages_before_it(
    db: str, reliability: Any
) -> None:
    with PageServer(cycle_plan("A", "B")) as srv:
        result = invoke(db, "crawl", "ctgov", "--base-url", srv.base_url, *SEARCH)
    loop = "pageToken loop: token 'A' seen at page 1 and page 3; the search was not finished"
    assert result.exit_code == 1, result.output
    assert f"crawl ctgov stopped: {loop}" in result.stderr
    assert "Traceback" not in result.output
    run = only_run(db)
    assert (run.status, run.errors[-1], run.new_versions) == ("failed", loop, 9)
    assert held(db) == {nct_of(s) for s in STUDIES[:9]}
    listed = invoke(db, "runs")
    assert loop in listed.stdout and "failed" in listed.stdout
    reliability.tried(
        "crawl", "pageToken cycle A→B→A through `crawl`", 1, "run failed, 9 records kept"
    )


@pytest.mark.reliability
def test_an_endless_search_stops_at_max_pages(db: str, reliability: Any) -> None:
    with PageServer(endless_plan()) as srv:
        result = invoke(
            db, "crawl", "ctgov", "--base-url", srv.base_url, *SEARCH, "--max-pages", "5"
        )
        asked = len(srv.pages())
    cap = "page cap of 5 pages reached; the search was not finished"
    assert result.exit_code == 1 and cap in result.stderr
    assert asked == 5
    run = only_run(db)
    assert (run.status, run.errors[-1], run.fetched) == ("failed", cap, 5)
    assert held(db) == {nct_of(s) for s in STUDIES[:5]}
    reliability.tried("crawl", "a new nextPageToken forever, --max-pages 5", 1, "failed at 5")


@pytest.mark.reliability
def test_an_unresponsive_server_fails_the_run_within_seconds(db: str, reliability: Any) -> None:
    with SilentServer() as srv:
        started = time.monotonic()
        result = invoke(
            db, "crawl", "ctgov", "--nct", "NCT00184067", "--base-url", srv.base_url,
            "--delay", "0", "--timeout", "1",
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.exit_code == 1 and "Traceback" not in result.output
    robots = f"{srv.base_url}/robots.txt: timed out: no answer within 1 s; trying again"
    assert robots in result.stderr
    run = only_run(db)
    assert run.status == "failed" and run.rejected == 0
    study = f"{srv.base_url}/api/v2/studies/NCT00184067"
    assert run.errors == [f"{study}: timed out: no answer within 1 s after 2 attempts"]
    assert f"crawl run {run.id}: failed (1 fetch(es) failed)" in result.stderr
    assert took < 30, took  # 4 timeouts of 1 s, not 6 attempts of 180 s
    reliability.tried(
        "crawl", "server accepts, never answers; crawl --timeout 1", 1, "run failed within 15 s"
    )


@pytest.mark.reliability
def test_the_deadline_fails_a_crawl_over_a_slow_server(db: str, reliability: Any) -> None:
    with PageServer(endless_plan(), delay=0.7) as srv:
        started = time.monotonic()
        result = invoke(
            db, "crawl", "ctgov", "--base-url", srv.base_url, *SEARCH, "--deadline", "2"
        )
        took = time.monotonic() - started
    reason = "deadline of 2 s reached: crawl stopped"
    assert result.exit_code == 1 and reason in result.stderr
    assert "Traceback" not in result.output
    run = only_run(db)
    assert (run.status, run.errors[-1]) == ("failed", reason)
    assert run.fetched >= 1 and len(held(db)) == run.fetched  # one study a page, all kept
    assert took < 30, took  # an endless crawl, stopped: the bound leaves room for a busy machine
    reliability.tried(
        "crawl", "crawl --deadline 2, a page every 0.7 s", 1, "run failed, pages kept"
    )


@pytest.mark.reliability
def test_a_backfill_against_an_unresponsive_server_fails(db: str, reliability: Any) -> None:
    with SilentServer() as srv:
        result = invoke(
            db, "backfill", HISTORY_NCT, "--base-url", srv.base_url, "--delay", "0",
            "--timeout", "1",
        )  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "within 1 s; trying again" in result.stderr
    run = only_run(db)
    assert run.status == "failed"
    assert any("timed out: no answer within 1 s" in e for e in run.errors), run.errors
    reliability.tried("crawl", "backfill --timeout 1, server never answers", 1, "run failed")


@pytest.mark.reliability
def test_the_deadline_fails_a_backfill_and_stores_nothing_half_done(
    db: str, reliability: Any
) -> None:
    built = history_versions()
    base = f"/api/int/studies/{HISTORY_NCT}/history"
    bodies = {base: version_list(built), **{f"{base}/{v.version}": v.body for v in built}}
    with PageServer(bodies=bodies, delay=0.7) as srv:
        result = invoke(
            db, "backfill", HISTORY_NCT, "--base-url", srv.base_url, "--delay", "0",
            "--deadline", "2",
        )  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "backfill stopped: deadline of 2 s reached" in result.stderr
    run = only_run(db)
    assert run.status == "failed" and run.new_versions == 0
    assert "deadline of 2 s reached" in run.errors[-1]
    reliability.tried("crawl", "backfill --deadline 2, 0.7 s an answer", 1, "failed, none stored")


@pytest.mark.parametrize("bad", ["ftp://x", "http://", "https:///api", "file:///etc/passwd"])
def test_a_base_url_that_is_not_http_with_a_host_is_a_usage_error(db: str, bad: str) -> None:
    commands = [
        ["crawl", "ctgov", "--nct", "NCT00184067", "--base-url", bad],
        ["backfill", HISTORY_NCT, "--base-url", bad],
        ["schedule", "add", "--every", "1h", "crawl", "ctgov", "--nct", "NCT00184067",
         "--base-url", bad],
    ]  # fmt: skip
    for argv in commands:
        result = invoke(db, *argv)
        assert result.exit_code == 2, (argv, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and "--base-url" in errors[0] and repr(bad) in errors[0], errors
        assert "Traceback" not in result.output
    environ = invoke(db, "crawl", "ctgov", "--nct", "NCT00184067", env={
        "TRIALWATCH_CTGOV_URL": bad})  # fmt: skip
    assert environ.exit_code == 2 and f"invalid base_url {bad!r}" in environ.stderr
    assert "Traceback" not in environ.output


def test_the_limits_are_options_of_crawl_and_backfill(db: str) -> None:
    crawl_help = " ".join(invoke(db, "crawl", "--help").stdout.split())
    for words in ("--timeout", "--deadline", "--max-pages", "default: 30 s", "default: 6 h"):
        assert words in crawl_help
    backfill_help = invoke(db, "backfill", "--help").stdout
    assert "--timeout" in backfill_help and "--deadline" in backfill_help
    for argv, message in [
        (["--timeout", "0"], "must be more than 0"),
        (["--timeout", "soon"], "is not a duration"),
        (["--deadline", "99999d"], "at most"),
        (["--max-pages", "0"], "--max-pages"),
    ]:
        result = invoke(db, "crawl", "ctgov", "--nct", "NCT00184067", *argv)
        assert result.exit_code == 2 and message in result.stderr, (argv, result.output)


# -- the progress line ---------------------------------------------------------------------


def _crawl_process(db: str, tmp_path: Path, base_url: str, stderr: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRIALWATCH_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "trialwatch.cli", "--db", db, "crawl", "ctgov"]
    argv += ["--base-url", base_url, *SEARCH]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=tmp_path)


def _read_all(fd: int, proc: subprocess.Popen[bytes], limit: float = 60) -> bytes:
    out = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed: the process is gone
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def three_pages(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    n = {None: 0, "p2": 1, "p3": 2}[token]
    return STUDIES[n * 3 : n * 3 + 3], {0: "p2", 1: "p3", 2: None}[n]


def test_the_progress_line_is_rewritten_in_place_on_a_terminal(db: str, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    with PageServer(three_pages) as srv:
        proc = _crawl_process(db, tmp_path, srv.base_url, stderr=slave)
        os.close(slave)
        shown = _read_all(master, proc).decode()
        proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0, shown
    for n, records in ((1, 3), (2, 6), (3, 9)):
        assert f"\r\x1b[K{n} page(s) fetched, {records} record(s), 0 failure(s)" in shown
    summary = shown.rsplit("\r\x1b[K", 1)[1]  # the line is cleared before the summary
    assert summary.startswith("crawl run 1: ok"), shown


def test_no_progress_line_when_stderr_is_not_a_terminal(db: str, tmp_path: Path) -> None:
    with PageServer(three_pages) as srv:
        proc = _crawl_process(db, tmp_path, srv.base_url, stderr=subprocess.PIPE)
        _, stderr = proc.communicate(timeout=60)
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text and "page(s) fetched" not in text
    lines = text.splitlines()  # one line each: the start, each record, the summary
    assert lines[0] == "crawling ctgov ..." and "crawl run 1: ok" in lines
    assert sum(1 for line in lines if ": first version" in line) == 9
