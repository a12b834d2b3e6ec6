"""`trialwatch check`: a database built from real payloads passes; each kind of damage done
to it by hand is named by its code."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, Engine, text
from sqlmodel import col, select

from tests.conftest import fixture_file
from trialwatch.alerts.outbox import compose
from trialwatch.cli import cli
from trialwatch.registry.check import CODES, check_database
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage, Change, TrialVersion, utcnow
from trialwatch.snapshots import SnapshotStore

# Real payloads: two downloads of each of two trials (older first), and one more trial.
PAYLOADS = {
    "1-NCT00513591.xml": "ctgov_classic_xml_NCT00513591_redownloaded.xml",
    "1-NCT04267848.json": "ctgov_v2_NCT04267848_complex_variant.json",
    "1-NCT03934567.json": "ctgov_v2_NCT03934567.json",
    "2-NCT00513591.xml": "ctgov_classic_xml_NCT00513591.xml",
    "2-NCT04267848.json": "ctgov_v2_NCT04267848.json",
}
KINDS = ("status", "enrollment", "completion_date", "primary_completion_date", "locations")
# Damage that the check reads back with the same queries on both databases: SQLite only;
# the queries that differ (case folding, outer joins, times) also run on PostgreSQL.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass
class World:
    db: str
    engine: Engine
    store: SnapshotStore
    tmp: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", self.db, *args], catch_exceptions=False)

    def check(self, *args: str) -> tuple[Result, set[str]]:
        done = self.run("check", "--json", *args)
        codes = {p["code"] for p in json.loads(done.stdout)["problems"]}
        return done, codes

    def sql(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)

    def one(self, statement: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).one()


@pytest.fixture
def world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "in"
    folder.mkdir()
    for name, fixture in PAYLOADS.items():
        shutil.copyfile(fixture_file(fixture), folder / name)
    engine = open_engine(db_url)
    w = World(db_url, engine, SnapshotStore(tmp_path / "data" / "snapshots"), tmp_path)
    for nct in ("NCT00513591", "NCT04267848"):
        kinds = [arg for kind in KINDS for arg in ("--kind", kind)]
        added = w.run("watch", "add", "--email", f"{nct}@example.org", "--nct", nct, *kinds)
        assert added.exit_code == 0, added.output
    done = w.run("import", str(folder), "--observed-at", "2026-01-05")
    assert done.exit_code == 0, done.output
    with transaction(engine) as session:
        [first, _] = compose(session, now=utcnow(), domain="trialwatch.test")
        first.status, first.sent_at = "sent", utcnow()
        session.add(first)
    yield w
    engine.dispose()


@contextmanager
def no_foreign_keys(w: World) -> Iterator[Connection]:
    """A connection that may leave rows pointing nowhere (damage a crash or a hand edit
    could do); the engine checks foreign keys on every other connection."""
    with w.engine.connect() as conn:
        if w.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.commit()
        with conn.begin():
            yield conn
        if w.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            conn.exec_driver_sql("SET session_replication_role = origin")
        conn.commit()


def _versions(w: World, nct: str) -> list[TrialVersion]:
    with transaction(w.engine) as session:
        rows = session.exec(
            select(TrialVersion)
            .where(TrialVersion.nct_id == nct)
            .order_by(col(TrialVersion.registry_date))
        ).all()
        return list(rows)


def _a_change(w: World, nct: str = "NCT00513591") -> Change:
    with transaction(w.engine) as session:
        return session.exec(
            select(Change).where(Change.nct_id == nct).order_by(col(Change.id))
        ).first()  # type: ignore[return-value]


def test_a_consistent_database_passes(world: World) -> None:
    done = world.run("check")
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "check: ok (3 trials, 5 versions, 5 changes, 4 deliveries, 2 messages, 5 snapshots)"
    )
    deep, codes = world.check("--deep")
    assert deep.exit_code == 0 and codes == set()
    assert json.loads(deep.stdout)["ok"] is True


def test_every_code_is_stable_and_has_a_severity() -> None:
    assert set(CODES.values()) == {"error", "warning"}
    assert all(code == code.lower() and " " not in code for code in CODES)


@sqlite_only
def test_a_missing_unreadable_or_wrong_snapshot_is_named(world: World) -> None:
    old, new = _versions(world, "NCT00513591")
    assert old.snapshot and new.snapshot
    world.store.path_for(old.snapshot).unlink()
    world.store.path_for(new.snapshot).write_bytes(b"not gzip at all")
    [other] = _versions(world, "NCT03934567")
    assert other.snapshot
    world.store.path_for(other.snapshot).write_bytes(gzip.compress(b"{}"))
    done = world.run("check")
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 3, lines
    assert any(
        line.startswith("error snapshot-missing") and f"version {old.id} (NCT00513591)" in line
        for line in lines
    )
    assert any(line.startswith("error snapshot-unreadable") for line in lines)
    assert any(line.startswith("error snapshot-mismatch") for line in lines)
    assert done.stderr.strip().startswith("check: 3 error(s), 0 warning(s) (")


@sqlite_only
def test_a_version_with_no_snapshot_is_named(world: World) -> None:
    [only] = _versions(world, "NCT03934567")
    world.sql("UPDATE trial_version SET snapshot = NULL WHERE id = :id", id=only.id)
    done, codes = world.check()
    assert done.exit_code == 1 and codes == {"snapshot-none"}


@sqlite_only
def test_two_consecutive_versions_of_one_content_and_their_changes(world: World) -> None:
    old, new = _versions(world, "NCT00513591")
    world.sql(
        "UPDATE trial_version SET record_hash = :h WHERE id = :id", h=old.record_hash, id=new.id
    )
    done, codes = world.check()
    assert done.exit_code == 1
    assert codes == {"version-repeat", "change-identical"}
    _, deep = world.check("--deep")
    assert {"deep-hash"} <= deep


@sqlite_only
def test_a_change_that_skips_its_predecessor(world: World) -> None:
    change = _a_change(world)
    world.sql(
        "UPDATE change SET from_version_id = to_version_id WHERE id = :id",
        id=change.id,
    )
    done, codes = world.check()
    assert done.exit_code == 1 and codes == {"change-not-consecutive"}
    assert f"change {change.id} (NCT00513591 {change.kind})" in done.stdout


@sqlite_only
def test_a_change_stored_twice(world: World) -> None:
    change = _a_change(world)
    world.sql(
        "INSERT INTO change (trial_id, nct_id, source, kind, before, after, detail, "
        "from_version_id, to_version_id, observed_at, registry_date, grade) "
        "SELECT trial_id, nct_id, source, kind, before, after, detail, from_version_id, "
        "to_version_id, observed_at, registry_date, grade FROM change WHERE id = :id",
        id=change.id,
    )
    done, codes = world.check()
    assert done.exit_code == 1 and codes == {"change-duplicate"}
    _, deep = world.check("--deep")
    assert deep == {"change-duplicate", "deep-extra"}


@sqlite_only
def test_deep_finds_a_lost_or_altered_change(world: World) -> None:
    first = _a_change(world)
    with no_foreign_keys(world) as conn:
        conn.execute(text("DELETE FROM delivery WHERE change_id = :id"), {"id": first.id})
        conn.execute(text("DELETE FROM change WHERE id = :id"), {"id": first.id})
    done, codes = world.check()
    assert done.exit_code == 0 and codes == set()  # only a recomputation can tell
    done, codes = world.check("--deep")
    assert done.exit_code == 1 and codes == {"deep-missing"}
    assert f"compare() finds a {first.kind} change" in done.stdout
    other = _a_change(world, "NCT04267848")
    world.sql(
        "UPDATE change SET after = :after WHERE id = :id",
        after=json.dumps({"edited": "by hand"}),
        id=other.id,
    )
    _, codes = world.check("--deep")
    assert codes == {"deep-missing", "deep-extra"}


@sqlite_only
def test_a_regraded_change_is_a_warning(world: World) -> None:
    change = _a_change(world)
    world.sql("UPDATE change SET grade = NULL WHERE id = :id", id=change.id)
    done, codes = world.check("--deep")
    assert done.exit_code == 0 and codes == {"deep-described"}
    [problem] = json.loads(done.stdout)["problems"]
    assert problem["severity"] == "warning" and problem["where"].startswith(f"change {change.id} ")
    assert world.check("--deep", "--strict")[0].exit_code == 1


def test_outbox_rows_pointing_nowhere(world: World) -> None:
    with transaction(world.engine) as session:
        messages = session.exec(select(AlertMessage).order_by(col(AlertMessage.id))).all()
        sent = next(m for m in messages if m.status == "sent")
        pending = next(m for m in messages if m.status == "pending")
    with no_foreign_keys(world) as conn:
        conn.execute(text("DELETE FROM alert_message WHERE id = :id"), {"id": pending.id})
        conn.execute(text("DELETE FROM watch WHERE id = :id"), {"id": sent.watch_id})
    world.sql("UPDATE alert_message SET sent_at = NULL WHERE id = :id", id=sent.id)
    done, codes = world.check()
    assert done.exit_code == 1
    assert codes == {"delivery-orphan", "message-orphan", "message-sent-no-time"}
    assert f"points to message {pending.id}, not stored" in done.stdout
    assert f"points to watch {sent.watch_id}, not stored" in done.stdout


@sqlite_only
def test_a_delivery_filed_under_another_watchs_message(world: World) -> None:
    with transaction(world.engine) as session:
        a, b = session.exec(select(AlertMessage).order_by(col(AlertMessage.id))).all()
    world.sql(
        "UPDATE delivery SET message_pk = :other WHERE message_pk = :mine",
        other=b.id,
        mine=a.id,
    )
    done, codes = world.check()
    assert done.exit_code == 1 and codes == {"delivery-message-watch"}


def test_a_claim_never_finished_is_a_warning(world: World) -> None:
    with transaction(world.engine) as session:
        message = session.exec(select(AlertMessage).where(AlertMessage.status == "pending")).one()
        message.status, message.claimed_by = "sending", "host-a:4242"
        message.claimed_at = utcnow() - timedelta(minutes=20)
        session.add(message)
    assert world.check()[1] == set()  # a send may take a while
    with transaction(world.engine) as session:
        report = check_database(session, world.store, now=utcnow() + timedelta(hours=2))
    [problem] = report.problems
    assert (problem.code, problem.severity) == ("message-claim-stale", "warning")
    assert "host-a:4242" in problem.message


def test_duplicates_empty_trials_and_interrupted_runs(world: World) -> None:
    world.sql(
        "INSERT INTO trial (nct_id, record, record_source, first_seen_at, updated_at) "
        "VALUES ('nct00513591', '{}', 'ctgov', :t, :t)",
        t=utcnow(),
    )
    again = world.run(
        "watch", "add", "--email", "NCT00513591@example.org", "--nct", "NCT00513591",
        *[arg for kind in KINDS for arg in ("--kind", kind)],
    )  # fmt: skip
    assert again.exit_code == 0
    world.sql(
        "INSERT INTO crawl_run (source, args, started_at, status, fetched, new_versions, "
        "unchanged, not_found, rejected, errors) VALUES "
        "('ctgov', '{}', :old, 'running', 0, 0, 0, 0, 0, '[]'), "
        "('ctgov', '{}', :now, 'running', 0, 0, 0, 0, 0, '[]')",
        old=utcnow() - timedelta(days=2),
        now=utcnow(),
    )
    done, codes = world.check()
    assert codes == {"trial-duplicate", "trial-empty", "watch-duplicate", "run-interrupted"}
    assert done.stdout.count("run-interrupted") == 1  # the one just started may be running
    assert "interrupted?" in done.stdout


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    done = CliRunner().invoke(cli, ["--db", str(missing), "check"])
    assert done.exit_code == 1
    assert done.stderr.strip().startswith(f"{missing}: no such database")
    assert not missing.exists()  # a check creates nothing
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database file" * 100)
    done = CliRunner().invoke(cli, ["--db", str(broken), "check"])
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)
    [line] = done.stderr.strip().splitlines()
    assert str(broken) in line and "file is not a database" in line
    assert "Traceback" not in done.output


@sqlite_only
def test_a_scheduled_run_whose_scheduler_is_gone(world: World) -> None:
    started = utcnow() - timedelta(minutes=5)
    world.sql(
        "INSERT INTO crawl_run (source, args, started_at, status, fetched, new_versions, "
        "unchanged, not_found, rejected, errors, job_id) VALUES "
        "('ctgov', '{}', :t, 'running', 0, 0, 0, 0, 0, '[]', 'job-1')",
        t=started,
    )
    done, codes = world.check()
    assert codes == {"run-interrupted"} and "the scheduler that ran it is gone" in done.stdout
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    for pid, alive in ((os.getpid(), True), (int(dead.stdout), False)):
        world.sql("DELETE FROM scheduler_lease")
        world.sql(
            "INSERT INTO scheduler_lease (name, holder, host, pid, started_at, heartbeat_at, "
            "timeout_seconds) VALUES ('scheduler', 'h', :host, :pid, :began, :beat, 30)",
            host=socket.gethostname(),
            pid=pid,
            began=started - timedelta(hours=1),
            beat=utcnow(),
        )
        assert world.check()[1] == (set() if alive else {"run-interrupted"}), pid


def test_a_set_aside_payload_is_checked_too(world: World) -> None:
    gone = "ab" * 32
    world.sql(
        "INSERT INTO parse_failure (source, snapshot, reason, observed_at) "
        "VALUES ('ctgov', :digest, 'not a study', :t)",
        digest=gone,
        t=utcnow(),
    )
    done, codes = world.check()
    assert done.exit_code == 1 and codes == {"snapshot-missing"}
    [problem] = json.loads(done.stdout)["problems"]
    assert problem["where"] == f"snapshot {gone[:16]}"
    assert problem["message"].endswith("held by parse_failure 1")
