"""Stopping: the first SIGTERM or Ctrl-C lets the crawl under way finish, a second stops it now,
a killed scheduler leaves no crawl behind, and every run ends on record as what it was.

Real `trialwatch` processes, real signals, a crawl against a slow registry on loopback."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.scheduler.support import (
    STUDY,
    Proc,
    SlowRegistry,
    alive,
    crawl_children,
    db_arg,
    kill_quietly,
    runs,
    slow_registry,
    trialwatch,
    wait_for,
)
from trialwatch.cli import cli
from trialwatch.scheduler.store import add_crawl_job


def _add_crawl(db_url: str, base_url: str) -> str:
    options = {
        "slug": "ctgov",
        "nct_ids": [STUDY],
        "urls": [],
        "query": {},
        "updated_since": None,
        "base_url": base_url,
        "delay": 0,
    }
    return add_crawl_job(db_url, options=options, every="1s")["id"]


def _crawl_under_way(proc: Proc, registry: SlowRegistry) -> int:
    """Wait until the scheduler's crawl has asked the registry; returns the crawl's pid."""
    wait_for("the crawl's request", registry.study_requests, timeout=60)
    [child] = wait_for("the crawl process", lambda: crawl_children(proc.pid), timeout=10)
    return child


def _scheduler(db_url: str, here: Path) -> Proc:
    # its own session, as at a terminal, so a Ctrl-C can go to its whole process group
    return trialwatch(
        "--db", db_arg(db_url, here), "schedule", "run", cwd=here, name="run", own_group=True
    )


def _send(proc: Proc, how: str) -> None:
    if how == "Ctrl-C":  # the terminal signals the foreground group, not one process
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.signal(signal.SIGTERM)


@pytest.mark.reliability
@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_one_signal_lets_the_crawl_under_way_finish(tmp_path, reliability, how):
    db_url = f"sqlite:///{tmp_path / 'tw.db'}"
    with slow_registry(delay=3) as registry:
        job_id = _add_crawl(db_url, registry.base_url)
        proc = _scheduler(db_url, tmp_path / "ops")
        child = None
        try:
            child = _crawl_under_way(proc, registry)
            _send(proc, how)
            assert proc.wait(timeout=60) == 0, proc.err()
        finally:
            proc.stop()
            kill_quietly(child)
        assert registry.study_requests() == 1  # nothing new started after the signal
    err = proc.err()
    assert f"stopping after the job under way ({job_id})" in err
    assert "scheduler: stopped" in err and "Traceback" not in err
    [run] = runs(db_url)
    assert (run.job_id, run.status, run.new_versions, run.errors) == (job_id, "ok", 1, [])
    assert not alive(child)
    reliability.tried(
        "scheduler",
        f"{how} once while a crawl waits on a slow server",
        1,
        "the crawl finishes (it never sees the signal), its run is ok, nothing new starts, exit 0",
    )


def _twice(db_url: str, tmp_path: Path, how: str) -> tuple[float, str]:
    """Signal a scheduler twice during a crawl; how long the second took to stop it, and why
    its run was interrupted."""
    with slow_registry(delay=60) as registry:
        job_id = _add_crawl(db_url, registry.base_url)
        proc = _scheduler(db_url, tmp_path / "ops")
        child = None
        try:
            child = _crawl_under_way(proc, registry)
            _send(proc, how)
            wait_for("the first signal said", lambda: "stopping after" in proc.err(), 10)
            sent = time.monotonic()
            _send(proc, how)
            status = proc.wait(timeout=30)
            took = time.monotonic() - sent
        finally:
            proc.stop()
            kill_quietly(child)
    err = proc.err()
    assert status == 128 + (signal.SIGINT if how == "Ctrl-C" else signal.SIGTERM), err
    assert took < 20, f"stopping now took {took:.1f} s"
    assert "stopping now" in err and "Traceback" not in err
    assert not alive(child), "the crawl process outlived the scheduler"
    [run] = runs(db_url)
    assert (run.job_id, run.status) == (job_id, "interrupted")
    assert run.finished_at is not None and "interrupted" in run.errors[-1]
    listed = CliRunner().invoke(cli, ["--db", db_url, "runs"])
    assert "interrupted" in listed.stdout and run.errors[-1] in listed.stdout
    return took, run.errors[-1]


@pytest.mark.reliability
def test_a_second_sigterm_stops_now(db_url, tmp_path, reliability):
    took, reason = _twice(db_url, tmp_path, "SIGTERM")
    reliability.tried(
        "scheduler",
        "SIGTERM twice during a crawl waiting on a slow server",
        1,
        f"stopped in {took:.1f} s, run interrupted ({reason}), crawl process gone",
    )


@pytest.mark.reliability
def test_a_second_ctrl_c_stops_now(tmp_path, reliability):
    took, reason = _twice(f"sqlite:///{tmp_path / 'tw.db'}", tmp_path, "Ctrl-C")
    reliability.tried(
        "scheduler",
        "Ctrl-C twice (SIGINT to the terminal's process group) during a crawl",
        1,
        f"stopped in {took:.1f} s, run interrupted ({reason}), crawl process gone",
    )


@pytest.mark.reliability
def test_a_killed_scheduler_leaves_no_crawl_and_its_run_ends_interrupted(
    db_url, tmp_path, reliability
):
    with slow_registry(delay=60) as registry:
        job_id = _add_crawl(db_url, registry.base_url)
        here = tmp_path / "ops"
        db = db_arg(db_url, here)
        proc = trialwatch("--db", db, "schedule", "run", cwd=here, name="killed")
        child = None
        try:
            child = _crawl_under_way(proc, registry)
            proc.signal(signal.SIGKILL)
            proc.wait(timeout=10)
            gone = wait_for("the crawl to die with it", lambda: not alive(child), timeout=10)
        finally:
            proc.stop()
            kill_quietly(child)
        assert gone
        [left] = runs(db_url)
        assert left.status == "running"  # nobody could say otherwise yet
        removed = CliRunner().invoke(cli, ["--db", db_url, "schedule", "remove", job_id])
        assert removed.exit_code == 0, removed.output
        again = trialwatch("--db", db, "schedule", "run", cwd=here, name="again")
        try:
            wait_for("the next start", lambda: "serving" in again.err(), timeout=60)
            again.signal(signal.SIGTERM)
            assert again.wait(timeout=30) == 0, again.err()
        finally:
            again.stop()
    [run] = runs(db_url)
    assert (run.id, run.status) == (left.id, "interrupted")
    assert run.finished_at is not None
    assert f"pid {proc.pid}" in run.errors[-1], run.errors
    assert "1 run(s) left running" in again.err()
    reliability.tried(
        "scheduler",
        "SIGKILL of `schedule run` during a crawl",
        1,
        "the crawl process dies with it; the next start marks the run interrupted",
    )


@pytest.mark.reliability
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_crawl_run_by_hand_and_interrupted_is_recorded(tmp_path, reliability, sig):
    db_file = tmp_path / "tw.db"
    here = tmp_path / "desk"
    with slow_registry(delay=60) as registry:
        # its own session, as at a terminal: a Ctrl-C goes to the whole foreground group
        proc = trialwatch(
            "--db",
            str(db_file),
            "crawl",
            "ctgov",
            "--nct",
            STUDY,
            "--base-url",
            registry.base_url,
            "--delay",
            "0",
            cwd=here,
            name="crawl",
            own_group=True,
        )
        child = None
        try:
            child = _crawl_under_way(proc, registry)
            os.killpg(proc.pid, sig)
            status = proc.wait(timeout=30)
        finally:
            proc.stop()
            kill_quietly(child)
    assert status == 1, proc.err()
    assert "Traceback" not in proc.err()
    assert not alive(child), "the crawl process outlived the command"
    [run] = runs(f"sqlite:///{db_file}")
    reason = "interrupted: Ctrl-C" if sig == signal.SIGINT else "interrupted: SIGTERM"
    assert (run.status, run.errors) == ("interrupted", [reason])
    listed = json.loads(CliRunner().invoke(cli, ["--db", str(db_file), "runs", "--json"]).stdout)
    assert listed[0]["status"] == "interrupted"
    reliability.tried(
        "crawl",
        f"`crawl` run by hand, {sig.name} while it waits on a slow server",
        1,
        "run recorded interrupted with the reason, crawl process gone, no traceback",
    )
