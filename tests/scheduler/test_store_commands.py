"""`schedule add`, `list` and `remove` only read or write the job store: a job overdue because
no scheduler was serving stays as it was stored (still overdue) until `schedule run` runs it,
once, and a row that cannot be read back is listed, not deleted. Each command is a real
`trialwatch` process, so whatever it logs is on its stderr."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from tests.registry_server import command
from tests.scheduler.support import STUDY, db_arg, runs, trialwatch, wait_for
from trialwatch.demo.replay import ReplayServer
from trialwatch.scheduler import JOB_TABLE

Row = tuple[float | None, bytes]
NOISE = ("Traceback", "cannot schedule new futures", "Error submitting job", "apscheduler")


def _cli(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``trialwatch --db DB ARGS`` as a user would run it, with nothing from the environment."""
    cwd.mkdir(parents=True, exist_ok=True)
    return command(db_url, cwd, *args, env={"TRIALWATCH_DATA_DIR": str(cwd / "data")})


def _clean(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The result, once it exited 0 with nothing of APScheduler's on stderr."""
    assert result.returncode == 0, result.stderr
    for word in NOISE:
        assert word not in result.stderr, result.stderr
    return result


def _rows(db_url: str) -> dict[str, Row]:
    """The job store's rows as stored: id -> (next_run_time, pickled job state)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text(f"SELECT id, next_run_time, job_state FROM {JOB_TABLE}"))
            return {r[0]: (r[1], bytes(r[2])) for r in found}
    finally:
        engine.dispose()


def _make_overdue(db_url: str, job_id: str, by: timedelta) -> datetime:
    """Move the job's next run ``by`` into the past through the job store's own API, as a
    scheduler that stopped before that time leaves it; returns the new next run time."""
    store = SQLAlchemyJobStore(url=db_url, tablename=JOB_TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")  # never started: no executor
    try:
        job = store.lookup_job(job_id)
        job._modify(next_run_time=datetime.now(UTC) - by)
        store.update_job(job)
        return job.next_run_time
    finally:
        store.shutdown()


def _add(db_url: str, every: str, cwd: Path, *crawl: str) -> str:
    added = _clean(_cli(db_url, "schedule", "add", "--every", every, "crawl", *crawl, cwd=cwd))
    return added.stdout.split()[0]


def test_list_and_add_on_a_new_database(db_url, tmp_path):
    here = tmp_path / "ops"
    assert _clean(_cli(db_url, "schedule", "list", cwd=here)).stdout == ""
    assert json.loads(_clean(_cli(db_url, "schedule", "list", "--json", cwd=here)).stdout) == []
    job_id = _add(db_url, "6h", here, "ctgov", "--nct", STUDY)
    [job] = json.loads(_clean(_cli(db_url, "schedule", "list", "--json", cwd=here)).stdout)
    assert job["id"] == job_id and job["overdue"] is False
    assert datetime.fromisoformat(job["next_run_time"]) > datetime.now(UTC)


@pytest.mark.reliability
def test_commands_leave_an_overdue_job_as_stored(db_url, tmp_path, reliability):
    here = tmp_path / "ops"
    overdue = _add(db_url, "1h", here, "ctgov", "--nct", STUDY)
    when = _make_overdue(db_url, overdue, timedelta(hours=3))
    stored = _rows(db_url)[overdue]

    other = _add(db_url, "6h", here, "ctgov", "--nct", "NCT04207047")
    assert _rows(db_url)[overdue] == stored
    listed = _clean(_cli(db_url, "schedule", "list", cwd=here)).stdout.splitlines()
    [line] = [line for line in listed if line.startswith(overdue)]
    assert "overdue" in line and when.isoformat() in line, line
    assert not any("overdue" in line for line in listed if line.startswith(other))
    jobs = json.loads(_clean(_cli(db_url, "schedule", "list", "--json", cwd=here)).stdout)
    assert {j["id"]: j["overdue"] for j in jobs} == {overdue: True, other: False}
    assert _rows(db_url)[overdue] == stored
    removed = _clean(_cli(db_url, "schedule", "remove", other, cwd=here))
    assert f"job {other}: removed" in removed.stderr

    assert _rows(db_url) == {overdue: stored}
    reliability.tried(
        "scheduler",
        "`schedule add`, `list`, `remove` with a job overdue (its scheduler was down)",
        4,
        "exit 0, nothing logged; the overdue job's stored row unchanged, listed as overdue",
    )


@pytest.mark.reliability
def test_list_leaves_an_unreadable_job_as_stored(db_url, tmp_path, reliability):
    here = tmp_path / "ops"
    job_id = _add(db_url, "6h", here, "ctgov", "--nct", STUDY)
    engine = create_engine(db_url)
    try:  # a damaged row, or one written by another version of APScheduler
        with engine.begin() as conn:
            conn.execute(
                text(f"INSERT INTO {JOB_TABLE} (id, next_run_time, job_state) VALUES (:i, :t, :s)"),
                {"i": "damaged", "t": 1.0, "s": b"not a pickle"},
            )
    finally:
        engine.dispose()
    stored = _rows(db_url)

    listed = _clean(_cli(db_url, "schedule", "list", cwd=here)).stdout
    assert any(line.startswith(job_id) for line in listed.splitlines()), listed
    [line] = [line for line in listed.splitlines() if line.startswith("damaged")]
    assert "unreadable" in line, line
    jobs = json.loads(_clean(_cli(db_url, "schedule", "list", "--json", cwd=here)).stdout)
    assert {j["id"]: bool(j["unreadable"]) for j in jobs} == {"damaged": True, job_id: False}
    assert _rows(db_url) == stored
    _clean(_cli(db_url, "schedule", "remove", "damaged", cwd=here))
    assert list(_rows(db_url)) == [job_id]
    reliability.tried(
        "scheduler",
        "`schedule list` with a job row that cannot be read back",
        2,
        "exit 0, nothing logged; listed as unreadable and kept until `schedule remove`",
    )


@pytest.mark.reliability
def test_schedule_run_runs_an_overdue_job_once(db_url, tmp_path, reliability):
    here = tmp_path / "ops"
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        job_id = _add(
            db_url, "1h", here, "ctgov", "--nct", STUDY, "--base-url", server.base_url,
            "--delay", "0",
        )  # fmt: skip
        _make_overdue(db_url, job_id, timedelta(hours=3, minutes=30))  # three runs missed
        _clean(_cli(db_url, "schedule", "list", cwd=here))  # must not use up the missed run
        proc = trialwatch("--db", db_arg(db_url, here), "schedule", "run", cwd=here, name="run")
        try:
            wait_for("the scheduler", lambda: "scheduler: serving" in proc.err())
            wait_for("the overdue run", lambda: [r for r in runs(db_url) if r.finished_at], 60)
            time.sleep(3)  # time for a second run to begin, were the missed runs not one
            proc.signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, proc.err()
        finally:
            proc.stop()
    done = runs(db_url)
    assert [(r.job_id, r.status) for r in done] == [(job_id, "ok")], proc.err()
    next_run, _ = _rows(db_url)[job_id]
    assert next_run is not None and next_run > datetime.now(UTC).timestamp()
    reliability.tried(
        "scheduler",
        "a job three runs overdue, listed, then served by `schedule run`",
        1,
        "run once (the missed runs coalesced), its next run in the future",
    )
