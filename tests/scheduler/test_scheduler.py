"""`trialwatch schedule`: jobs kept in the database, run by a real `schedule run` process
against a loopback server replaying recorded responses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun
from trialwatch.scheduler import make_scheduler, run_crawl_job, serving
from trialwatch.scheduler.store import add_crawl_job, parse_every


def test_durations():
    assert parse_every("30s") == timedelta(seconds=30)
    assert parse_every("15m") == timedelta(minutes=15)
    assert parse_every("6h") == timedelta(hours=6)
    assert parse_every("1d") == timedelta(days=1)
    assert parse_every("366d") == timedelta(days=366)
    for bad in ("", "0s", "5w", "1.5h", "h", "-1m", "367d", "999999999999d", "9" * 40 + "s"):
        with pytest.raises(ValueError, match="duration"):
            parse_every(bad)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_SMTP_HOST", raising=False)
    return {"db": f"sqlite:///{tmp_path / 'tw.db'}", "tmp": tmp_path}


def _cli(db: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)


def test_add_list_remove(env):
    db = env["db"]
    added = _cli(db, "schedule", "add", "--every", "6h", "crawl", "ctgov", "--nct", "NCT03934567")
    assert added.exit_code == 0, added.output
    job_id = added.stdout.split()[0]
    listed = _cli(db, "schedule", "list", "--json")
    [job] = json.loads(listed.stdout)
    assert job["id"] == job_id and "NCT03934567" in job["name"] and "6:00:00" in job["trigger"]
    cron = _cli(
        db,
        "schedule",
        "add",
        "--cron",
        "0 6 * * 1-5",
        "crawl",
        "ctgov",
        "--query",
        "query.cond=lymphoma",
    )
    assert cron.exit_code == 0, cron.output
    assert len(json.loads(_cli(db, "schedule", "list", "--json").stdout)) == 2
    assert _cli(db, "schedule", "remove", job_id).exit_code == 0
    assert _cli(db, "schedule", "remove", job_id).exit_code == 1
    assert len(json.loads(_cli(db, "schedule", "list", "--json").stdout)) == 1
    # usage errors: no trigger, bad duration, bad cron, not a crawl, bad crawl options
    assert _cli(db, "schedule", "add", "crawl", "ctgov", "--nct", "NCT03934567").exit_code == 2
    assert (
        _cli(
            db, "schedule", "add", "--every", "5w", "crawl", "ctgov", "--nct", "NCT03934567"
        ).exit_code
        == 2
    )
    assert (
        _cli(
            db, "schedule", "add", "--cron", "61 * * * *", "crawl", "ctgov", "--nct", "NCT03934567"
        ).exit_code
        == 2
    )
    assert _cli(db, "schedule", "add", "--every", "1h", "import", "x").exit_code == 2
    assert (
        _cli(db, "schedule", "add", "--every", "1h", "crawl", "ctgov", "--nct", "NCT1").exit_code
        == 2
    )
    # a site spider takes page URLs, not NCT ids: refused when scheduled, not at the first run
    refused = _cli(db, "schedule", "add", "--every", "1h", "crawl", "veeva", "--nct", "NCT03934567")
    assert refused.exit_code == 2 and "--url" in refused.output


def _start(db: str, data: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, TRIALWATCH_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    env.pop("TRIALWATCH_SMTP_HOST", None)
    return subprocess.Popen(
        [sys.executable, "-m", "trialwatch.cli", "--db", db, "schedule", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _runs(db: str) -> list[CrawlRun]:
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            return list(session.exec(select(CrawlRun).order_by(col(CrawlRun.id))).all())
    finally:
        engine.dispose()


def _wait_for(db: str, count: int, timeout: float = 60) -> list[CrawlRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [r for r in _runs(db) if r.finished_at is not None]
        if len(done) >= count:
            return done
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} finished runs after {timeout} s")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stderr


def test_jobs_run_survive_a_restart_and_never_overlap(env):
    db, data = env["db"], env["tmp"] / "data"
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        # Each run takes about 1.5 s (two requests 1.5 s apart) and is due every second,
        # so an overlapping second instance would be started if it were allowed.
        added = _cli(
            db,
            "schedule",
            "add",
            "--every",
            "1s",
            "crawl",
            "ctgov",
            "--nct",
            "NCT00184067",
            "--nct",
            "NCT03934567",
            "--base-url",
            server.base_url,
            "--delay",
            "1.5",
        )
        assert added.exit_code == 0, added.output
        job_id = added.stdout.split()[0]

        first = _start(db, data)
        try:
            _wait_for(db, 2)
            second = _start(db, data)  # a second runner on the same database is refused
            assert second.wait(timeout=60) == 1
            assert "another" in second.stderr.read()
        finally:
            stopped = _stop(first)
        assert "stopped" in stopped
        assert all(r.finished_at is not None for r in _runs(db)), "a run was left half-done"

        # restarted: the job is still there and runs again
        assert job_id in _cli(db, "schedule", "list").stdout
        before = len(_runs(db))
        again = _start(db, data)
        try:
            _wait_for(db, before + 1)
        finally:
            _stop(again)

    runs = [r for r in _runs(db) if r.job_id == job_id]
    assert len(runs) >= 3
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert later.started_at >= earlier.finished_at, "a job overlapped itself"
    assert runs[0].new_versions == 2 and all(r.unchanged == 2 for r in runs[1:])
    listed = json.loads(_cli(db, "runs", "--json").stdout)
    assert {r["job_id"] for r in listed} == {job_id}
    assert all(r["status"] == "ok" for r in listed)


# -- failures and defaults ------------------------------------------------------------------

NCT = "NCT03934567"
RETIRED = {
    "slug": "retired",  # a source that no longer exists: the job itself cannot start
    "nct_ids": [NCT],
    "urls": [],
    "query": {},
    "updated_since": None,
    "base_url": None,
    "delay": None,
}


def _listed(db: str) -> list[dict]:
    return json.loads(_cli(db, "runs", "--json").stdout)


def test_a_job_that_cannot_start_is_a_failed_run_with_its_reason(env, db_url, caplog):
    db = db_url
    run_crawl_job(db, job_id="gone", **RETIRED)  # nothing raised to the scheduler
    run_crawl_job(db, job_id="odd", slug="ctgov", nct_ids=[NCT], delay="fast")
    gone, odd = _runs(db)
    assert (gone.job_id, gone.source, gone.status) == ("gone", "retired", "failed")
    assert gone.errors == [
        "ValueError: unknown source 'retired': known sources are "
        "centerwatch, clinicaltrialexchange, ctgov, trialpage, veeva"
    ]
    assert gone.args["nct_ids"] == [NCT]
    assert gone.finished_at is not None and gone.finished_at >= gone.started_at
    assert (odd.job_id, odd.status) == ("odd", "failed")
    [reason] = odd.errors
    assert reason.startswith("TypeError: ") and "\n" not in reason
    assert f"job gone failed: {gone.errors[0]}" in caplog.text
    listed = {r["job_id"]: r for r in _listed(db)}
    assert listed["gone"]["status"] == "failed" and listed["gone"]["errors"] == gone.errors
    assert listed["odd"]["errors"] == odd.errors
    assert gone.errors[0] in _cli(db, "runs").stdout


def test_a_crawl_that_dies_is_recorded_once(env, db_url):
    db = db_url
    # Accepted when stored, refused by the spider in the crawl's child process.
    run_crawl_job(db, job_id="mirror", slug="ctgov", nct_ids=[NCT], base_url="ftp://mirror")
    [run] = _runs(db)
    assert (run.job_id, run.status) == ("mirror", "failed") and run.finished_at is not None
    assert any("invalid base_url 'ftp://mirror'" in e for e in run.errors), run.errors


def test_a_failing_job_run_by_the_scheduler_is_recorded(env):
    db, data = env["db"], env["tmp"] / "data"
    job_id = add_crawl_job(db, options=RETIRED, every="1s")["id"]
    runner = _start(db, data)
    try:
        _wait_for(db, 1)
    finally:
        stderr = _stop(runner)
    runs = _runs(db)
    reason = "ValueError: unknown source 'retired'"
    assert runs and all(r.job_id == job_id and r.status == "failed" for r in runs)
    assert all(len(r.errors) == 1 and r.errors[0].startswith(reason) for r in runs)
    assert f"job {job_id} failed: {reason}" in stderr
    assert "Traceback" not in stderr
    listed = _listed(db)
    assert listed and all(r["status"] == "failed" for r in listed)
    assert listed[0]["errors"][0].startswith(reason)


def test_a_job_scheduled_without_delay_runs_with_the_spiders_default(env):
    db = env["db"]
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        added = _cli(
            db, "schedule", "add", "--every", "1h",
            "crawl", "ctgov", "--nct", NCT, "--base-url", server.base_url,
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        job_id = added.stdout.split()[0]
        scheduler = make_scheduler(db)
        scheduler.start(paused=True)
        try:
            job = scheduler.get_job(job_id)
        finally:
            scheduler.shutdown(wait=False)
        assert job.kwargs["delay"] is None
        assert "db_url" not in job.kwargs  # the scheduler passes its own database
        with serving(db):  # the stored job, run once as the scheduler would
            job.func(*job.args, **job.kwargs)
        assert len(server.requests_to(f"/api/v2/studies/{NCT}")) == 1
    [run] = _runs(db)
    assert (run.job_id, run.status, run.new_versions, run.errors) == (job_id, "ok", 1, [])
    [listed] = _listed(db)
    assert (listed["job_id"], listed["status"]) == (job_id, "ok")


@pytest.mark.reliability
def test_an_absurd_or_malformed_schedule_is_one_line_and_a_usage_error(env, reliability):
    db = env["db"]
    bad = [
        ("--every", "999999999999d"),
        ("--every", "99999999999999999999999999s"),
        ("--every", "367d"),
        ("--every", "0s"),
        ("--every", "-1h"),
        ("--every", "1.5h"),
        ("--every", ""),
        ("--cron", "0 0 31 2 *"),  # a date that never comes
        ("--cron", "*/0 * * * *"),
        ("--cron", "61 * * * *"),
        ("--cron", "* * * *"),
        ("--cron", ""),
    ]
    for option, value in bad:
        result = CliRunner().invoke(
            cli, ["--db", db, "schedule", "add", option, value, "crawl", "ctgov", "--nct", NCT]
        )
        assert result.exit_code == 2, (value, result.output)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"schedule add: {option} {value!r}"), line
    assert json.loads(_cli(db, "schedule", "list", "--json").stdout) == []
    reliability.tried(
        "input",
        "`schedule add` with absurd or malformed --every and --cron values",
        len(bad),
        "each one line naming the value, exit 2, nothing stored",
    )
