"""One scheduler per database, enforced by the database: real `trialwatch schedule run`
processes started from different folders, killed, stopped and resumed."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert

from tests.scheduler.support import db_arg, runs, trialwatch, wait_for
from trialwatch.registry.db import open_engine
from trialwatch.registry.lease import TABLE, Lease, LeaseHeld
from trialwatch.registry.models import utcnow
from trialwatch.scheduler.store import add_crawl_job

RETIRED = {  # fails at once, every second: a run on record each time a scheduler runs it
    "slug": "retired",
    "nct_ids": ["NCT03934567"],
    "urls": [],
    "query": {},
    "updated_since": None,
    "base_url": None,
    "delay": None,
}


def _serving(proc) -> bool:  # type: ignore[no-untyped-def]
    return "scheduler: serving" in proc.err()


@pytest.mark.reliability
def test_two_schedulers_on_one_database_from_two_folders(db_url, tmp_path, reliability):
    job_id = add_crawl_job(db_url, options=RETIRED, every="1s")["id"]
    first_dir, second_dir = tmp_path / "ops-a", tmp_path / "elsewhere" / "ops-b"
    first = trialwatch(
        "--db", db_arg(db_url, first_dir), "schedule", "run", cwd=first_dir, name="first"
    )
    try:
        wait_for("the first scheduler", lambda: _serving(first))
        wait_for("a run by the first", lambda: runs(db_url))
        second = trialwatch(
            "--db", db_arg(db_url, second_dir), "schedule", "run", cwd=second_dir, name="second"
        )
        try:
            assert second.wait(timeout=60) == 1
        finally:
            second.stop()
        assert first.popen.poll() is None, "the first scheduler stopped"
        first.signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0, first.err()
    finally:
        first.stop()
    [line] = second.err().splitlines()  # one line, no traceback
    assert line.startswith("scheduler: another 'trialwatch schedule run' serves this database")
    assert f"pid {first.pid} on " in line and " since 20" in line
    assert "job " not in second.err()  # it ran nothing
    done = runs(db_url)
    assert done and all(r.job_id == job_id and r.status == "failed" for r in done)
    reliability.tried(
        "scheduler",
        "two `schedule run` on one database from two folders",
        1,
        "the second exits 1 naming the first (pid, host, since when); only the first runs jobs",
    )


@pytest.mark.reliability
def test_a_standby_takes_over_when_the_holder_is_killed(db_url, tmp_path, reliability):
    add_crawl_job(db_url, options=RETIRED, every="1s")
    here_a, here_b = tmp_path / "a", tmp_path / "b"
    timeout = ("--lease-timeout", "3")
    holder = trialwatch(
        "--db", db_arg(db_url, here_a), "schedule", "run", *timeout, cwd=here_a, name="holder"
    )
    standby = None
    try:
        wait_for("the holder", lambda: _serving(holder))
        standby = trialwatch(
            "--db", db_arg(db_url, here_b), "schedule", "run", "--wait", *timeout,
            cwd=here_b, name="standby",
        )  # fmt: skip
        wait_for("the standby waiting", lambda: "waiting to take over" in standby.err())
        holder.signal(signal.SIGKILL)
        killed = time.monotonic()
        holder.wait(timeout=10)
        wait_for("the takeover", lambda: _serving(standby), timeout=30)
        took = time.monotonic() - killed
        before = len(runs(db_url))
        wait_for("a job run by the standby", lambda: len(runs(db_url)) > before, timeout=30)
        standby.signal(signal.SIGTERM)
        assert standby.wait(timeout=60) == 0, standby.err()
    finally:
        holder.stop()
        if standby is not None:
            standby.stop()
    assert "took over from holder" in standby.err() and f"pid {holder.pid}" in standby.err()
    assert took < 3 + 5, f"takeover took {took:.1f} s"
    reliability.tried(
        "scheduler",
        "SIGKILL the holder while a standby (`schedule run --wait`) waits",
        1,
        f"the standby took over in {took:.1f} s (lease timeout 3 s) and ran the jobs",
    )


@pytest.mark.reliability
def test_a_hung_holder_is_taken_over_after_the_timeout_and_stands_down(
    db_url, tmp_path, reliability
):
    add_crawl_job(db_url, options=RETIRED, every="1h")  # nothing writes while it hangs
    here_a, here_b = tmp_path / "a", tmp_path / "b"
    timeout = 3.0
    args = ("schedule", "run", "--lease-timeout", str(timeout))
    hung = trialwatch("--db", db_arg(db_url, here_a), *args, cwd=here_a, name="hung")
    standby = None
    try:
        wait_for("the holder", lambda: _serving(hung))
        standby = trialwatch("--db", db_arg(db_url, here_b), *args, "--wait", cwd=here_b, name="b")
        wait_for("the standby waiting", lambda: "waiting to take over" in standby.err())
        hung.signal(signal.SIGSTOP)
        stopped = time.monotonic()
        wait_for("the takeover", lambda: _serving(standby), timeout=timeout + 30)
        took = time.monotonic() - stopped
        hung.signal(signal.SIGCONT)
        assert hung.wait(timeout=30) == 1, hung.err()
        assert standby.popen.poll() is None, standby.err()
        standby.signal(signal.SIGTERM)
        assert standby.wait(timeout=60) == 0, standby.err()
    finally:
        hung.popen.send_signal(signal.SIGCONT)
        hung.stop()
        if standby is not None:
            standby.stop()
    interval = min(5.0, timeout / 4)  # its last heartbeat was at most this long before
    assert timeout - interval - 0.2 <= took < timeout + 15, f"took over after {took:.1f} s"
    assert "lost the lease" in hung.err() and "Traceback" not in hung.err()
    reliability.tried(
        "scheduler",
        "SIGSTOP the holder (hung), a standby waits, then SIGCONT",
        1,
        f"taken over {took:.1f} s after it hung (timeout {timeout:g} s); "
        "once resumed it saw the lease lost and exited 1",
    )


@pytest.mark.reliability
def test_a_silent_holder_on_another_machine_is_taken_over_only_after_its_timeout(
    db_url, tmp_path, reliability
):
    engine = open_engine(db_url)
    postgres = engine.dialect.name == "postgresql"

    def last_heard(ago: float) -> None:  # the other machine's last heartbeat, `ago` s ago
        with engine.begin() as conn:
            conn.execute(delete(TABLE))
            conn.execute(
                insert(TABLE).values(
                    name="scheduler",
                    holder="f0e1d2c3b4a59687",
                    host="other-machine.example",
                    pid=4242,
                    started_at=utcnow() - timedelta(hours=1),
                    heartbeat_at=utcnow() - timedelta(seconds=ago),
                    timeout_seconds=30.0,
                )
            )

    try:
        if not postgres:  # SQLite: the row is the lock; only its age says the holder is gone
            last_heard(0)
            here = tmp_path / "ops"
            refused = trialwatch(
                "--db", db_arg(db_url, here), "schedule", "run", cwd=here, name="refused"
            )
            try:
                assert refused.wait(timeout=60) == 1
            finally:
                refused.stop()
            [line] = refused.err().splitlines()
            assert "pid 4242 on other-machine.example" in line and "since" in line
            last_heard(25)
            with pytest.raises(LeaseHeld, match="other-machine.example"):
                Lease(engine, timeout=30).acquire()
        last_heard(35 if not postgres else 0)
        # PostgreSQL: no session holds the lock, so whoever wrote the row is gone already
        lease = Lease(engine, timeout=30)
        taken = lease.acquire()
        lease.release()
        assert taken is not None and taken.host == "other-machine.example"
    finally:
        engine.dispose()
    reliability.tried(
        "scheduler",
        "a lease row from another machine that stopped renewing",
        1,
        "refused (naming it) 0 s and 25 s after its last heartbeat; taken over after its 30 s"
        if not postgres
        else "taken over at once: no session holds the advisory lock",
    )


def _race(leases: list[Lease]) -> tuple[list[Lease], list[str]]:
    """All of ``leases`` try to acquire at the same instant: the winners, and what the
    others were told."""
    start = threading.Barrier(len(leases))
    won: list[Lease] = []
    refused: list[str] = []

    def contend(lease: Lease) -> None:
        start.wait()
        try:
            lease.acquire()
            won.append(lease)
        except LeaseHeld as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, refused


@pytest.mark.reliability
def test_contenders_starting_at_once_get_one_holder(db_url, reliability):
    contenders, rounds = 8, 5
    open_engine(db_url).dispose()  # migrated once, before the race
    engines = [open_engine(db_url) for _ in range(contenders)]
    try:
        for _ in range(rounds):
            won, refused = _race([Lease(engine, timeout=30) for engine in engines])
            assert len(won) == 1 and len(refused) == contenders - 1, (won, refused)
            assert all(won[0].me.holder in line for line in refused)
            won[0].release()
    finally:
        for engine in engines:
            engine.dispose()
    reliability.tried(
        "scheduler",
        f"{contenders} schedulers take the lease at the same instant",
        rounds,
        "exactly one holder each time; the others are told who it is",
    )
