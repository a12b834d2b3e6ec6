"""What the job store keeps (the crawl's options, never the database URL or its password),
jobs stored by older versions, and a `schedule run` that migrates once and quietly."""

from __future__ import annotations

import pickle
import signal
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import FIXTURES
from tests.scheduler.support import db_arg, runs, trialwatch, wait_for
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.scheduler import JOB_FUNC, JOB_TABLE, make_scheduler
from trialwatch.scheduler.store import add_crawl_job

PASSWORD = "Sekr1t-pw-that-must-not-leak"
RETIRED = {
    "slug": "retired",
    "nct_ids": ["NCT03934567"],
    "urls": [],
    "query": {},
    "updated_since": None,
    "base_url": None,
    "delay": None,
}


def _job_states(url: str) -> list[tuple[bytes, dict[str, Any]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            raw = [bytes(r[0]) for r in conn.execute(text(f"SELECT job_state FROM {JOB_TABLE}"))]
    finally:
        engine.dispose()
    return [(blob, pickle.loads(blob)) for blob in raw]


def _serve_until(db_url: str, here: Any, count: int, *extra: str) -> str:
    """Run `schedule run` until ``count`` runs are on record; its stderr."""
    proc = trialwatch(*extra, "--db", db_arg(db_url, here), "schedule", "run", cwd=here, name="run")
    try:  # (reading the runs migrates the database: not before the scheduler has)
        wait_for("the scheduler", lambda: "scheduler: serving" in proc.err())
        wait_for(f"{count} run(s)", lambda: len(runs(db_url)) >= count, timeout=90)
        proc.signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.err()
    finally:
        proc.stop()
    return proc.err()


@pytest.mark.reliability
def test_no_url_or_password_is_stored_with_a_job(db_url, tmp_path, reliability):
    url = db_url
    if make_url(db_url).get_backend_name() == "postgresql":  # trust auth: any password works
        url = make_url(db_url).set(password=PASSWORD).render_as_string(hide_password=False)
    secrets = [url, make_url(url).database or "", PASSWORD]
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        added = CliRunner().invoke(
            cli,
            ["--db", url, "schedule", "add", "--every", "1s",
             "crawl", "ctgov", "--nct", "NCT03934567", "--base-url", server.base_url,
             "--delay", "0"],
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        _serve_until(url, tmp_path / "ops", 2)  # stored again after each run
    [(blob, state)] = _job_states(url)
    assert state["kwargs"]["nct_ids"] == ["NCT03934567"] and "db_url" not in state["kwargs"]
    for secret in secrets:
        assert secret not in repr(state) and secret.encode() not in blob, secret
    assert [r.status for r in runs(db_url)][:2] == ["ok", "ok"]
    reliability.tried(
        "scheduler",
        "job store rows unpickled and searched for the database URL, name and password",
        1,
        "only the crawl's options are stored; none of them found",
    )


@contextmanager
def _copy_of(db_url: str, tmp_path: Any) -> Iterator[str]:
    """A copy of the whole database, as an operator would make one (file copy, TEMPLATE)."""
    parsed = make_url(db_url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(str(parsed.database)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copy = tmp_path / "copy" / "trialwatch.db"
        copy.parent.mkdir()
        copy.write_bytes(open(str(parsed.database), "rb").read())
        yield f"sqlite:///{copy}"
        return
    name = f"tw_copy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # a template must have no sessions: end idle ones
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": parsed.database},
            )
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.reliability
def test_a_job_stored_with_a_url_is_rewritten_and_a_copy_writes_into_itself(
    db_url, tmp_path, reliability
):
    scheduler = make_scheduler(db_url)  # a job as older versions stored it
    scheduler.start(paused=True)
    try:
        scheduler.add_job(
            JOB_FUNC,
            IntervalTrigger(seconds=1),
            kwargs={"db_url": db_url, "job_id": "legacy", **RETIRED},
            id="legacy",
            name="crawl retired",
        )
    finally:
        scheduler.shutdown(wait=False)
    with _copy_of(db_url, tmp_path) as copy:
        err = _serve_until(copy, tmp_path / "ops", 1)
        assert "job legacy: its stored database URL removed" in err
        [(_, state)] = _job_states(copy)
        assert "db_url" not in state["kwargs"] and state["kwargs"]["slug"] == "retired"
        written = runs(copy)
    assert written and all(r.job_id == "legacy" for r in written)
    assert runs(db_url) == [], "the copy wrote into the database it was copied from"
    reliability.tried(
        "scheduler",
        "a database copied with a job that stored the original's URL, then served",
        1,
        "the URL is removed from the job at start; runs land in the copy, none in the original",
    )


def _alembic_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "alembic" in line or "Context impl" in line]


def test_schedule_run_migrates_quietly(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'tw.db'}"
    add_crawl_job(db_url, options=RETIRED, every="1s")  # a database never migrated
    err = _serve_until(db_url, tmp_path / "ops", 3)
    assert _alembic_lines(err) == []


def test_schedule_run_migrates_once_and_shows_it_with_verbose(db_url, tmp_path):
    add_crawl_job(db_url, options=RETIRED, every="1s")  # a database never migrated
    err = _serve_until(db_url, tmp_path / "ops", 3, "-v")
    assert "Running upgrade" in err  # -v shows the migration log
    migrations = [line for line in _alembic_lines(err) if "Context impl" in line]
    assert len(migrations) == 1, "migrations ran more than once"
