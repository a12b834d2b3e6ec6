"""Schema revisions: ordinary commands refuse a database behind (or ahead of) this trialwatch
with one line and write nothing; `db upgrade` brings it to head, once, even when run twice at
the same moment; a new database is created at head on first use. Also the PostgreSQL URL forms,
a missing driver and an unreachable server, each as one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import fixture_file
from trialwatch.cli import cli
from trialwatch.registry.db import MIGRATIONS, SCHEMA_LOCK_KEY, alembic_config, open_engine

OLD = "0005"
NCT = "NCT03934567"
PAYLOAD = fixture_file(f"ctgov_v2_{NCT}.json")
PASSWORD = "Sekr1t-pw-that-must-not-leak"


def _head() -> str:
    # read from the scripts here, so the tests hold whatever the latest migration is
    script = ScriptDirectory(str(MIGRATIONS))
    [head] = script.get_heads()
    return head


HEAD = _head()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(folder))
    return folder


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)


def sql(url: str, statement: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def revisions(url: str) -> list[str]:
    return [r for (r,) in sql(url, "SELECT version_num FROM alembic_version")]


def migrate_to(url: str, revision: str) -> None:
    """The database as an older trialwatch left it: migrated up to ``revision`` only (on
    trialwatch's engine, so a SQLite file is in WAL mode as trialwatch keeps it)."""
    engine = open_engine(url, check_schema=False)
    cfg = alembic_config(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def behind_line(url: str) -> str:
    where = make_url(url).render_as_string(hide_password=True)
    return (
        f"{where}: the schema is at revision {OLD}, this trialwatch needs {HEAD}: "
        "run `trialwatch db upgrade`\n"
    )


def test_a_schema_behind_is_refused_until_db_upgrade(db_url, data_dir):
    migrate_to(db_url, OLD)
    for args in (("import", str(PAYLOAD)), ("show", NCT), ("reparse",), ("check",)):
        result = run(db_url, *args)
        assert (result.exit_code, result.stdout) == (1, ""), args
        assert result.stderr == behind_line(db_url), args
    assert revisions(db_url) == [OLD]
    assert sql(db_url, "SELECT count(*) FROM trial") == [(0,)]
    assert not data_dir.exists()

    upgraded = run(db_url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stderr.endswith(f": upgraded from {OLD} to {HEAD}\n")
    assert revisions(db_url) == [HEAD]
    assert run(db_url, "import", str(PAYLOAD)).exit_code == 0
    shown = run(db_url, "show", NCT, "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["nct_id"] == NCT

    again = run(db_url, "db", "upgrade")
    assert again.exit_code == 0 and again.stderr.endswith(f": already at {HEAD}\n")
    assert revisions(db_url) == [HEAD]
    assert sql(db_url, "SELECT count(*) FROM trial") == [(1,)]


def test_db_status_says_where_the_schema_stands(db_url):
    empty = run(db_url, "db", "status", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout)["status"] == "empty"
    assert "alembic_version" not in _tables(db_url)

    migrate_to(db_url, OLD)
    behind = run(db_url, "db", "status")
    assert behind.exit_code == 1
    assert f"revision {OLD}, behind: this trialwatch needs {HEAD}" in behind.stdout
    as_json = json.loads(run(db_url, "db", "status", "--json").stdout)
    assert (as_json["revision"], as_json["head"], as_json["status"]) == ([OLD], HEAD, "behind")
    assert revisions(db_url) == [OLD]  # status changes nothing

    assert run(db_url, "db", "upgrade").exit_code == 0
    current = run(db_url, "db", "status")
    assert current.exit_code == 0 and f"revision {HEAD}, current" in current.stdout


def _tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_head_on_first_use(db_url):
    result = run(db_url, "import", str(PAYLOAD))
    assert result.exit_code == 0, result.stderr
    assert revisions(db_url) == [HEAD]
    assert run(db_url, "show", NCT).exit_code == 0


def test_db_upgrade_creates_a_new_database_then_has_nothing_to_do(db_url):
    created = run(db_url, "db", "upgrade")
    assert created.exit_code == 0 and created.stderr.endswith(f": created the schema at {HEAD}\n")
    again = run(db_url, "db", "upgrade")
    assert again.exit_code == 0 and again.stderr.endswith(f": already at {HEAD}\n")
    assert revisions(db_url) == [HEAD]


def test_a_schema_ahead_is_refused_with_its_own_line(db_url):
    engine = open_engine(db_url)
    engine.dispose()
    sql(db_url, "UPDATE alembic_version SET version_num = '9999_future'")
    for args in (("show", NCT), ("db", "upgrade")):
        result = run(db_url, *args)
        assert result.exit_code == 1, args
        [line] = result.stderr.splitlines()
        assert "revision 9999_future, which this trialwatch does not know" in line
        assert f"it knows up to {HEAD}" in line
    assert run(db_url, "db", "status").exit_code == 1
    assert revisions(db_url) == ["9999_future"]


def test_tables_without_a_revision_are_not_taken_for_an_empty_database(db_url):
    sql(db_url, "CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)")
    refused = run(db_url, "show", NCT)
    assert refused.exit_code == 1
    assert "has tables (someone_elses) but no trialwatch schema revision" in refused.stderr
    assert "alembic_version" not in _tables(db_url)
    assert run(db_url, "db", "upgrade").exit_code == 0
    assert revisions(db_url) == [HEAD] and "someone_elses" in _tables(db_url)


def test_the_scheduler_refuses_a_schema_behind(db_url):
    migrate_to(db_url, OLD)
    before = signal.getsignal(signal.SIGTERM)
    result = run(db_url, "schedule", "run")
    assert (result.exit_code, result.stderr) == (1, behind_line(db_url))
    assert signal.getsignal(signal.SIGTERM) is before
    assert revisions(db_url) == [OLD]


def _hold_schema_lock(url: str) -> tuple[Callable[[int], bool], Callable[[], None]]:
    """Take the lock `db upgrade` takes; (how many are waiting for it >= n?, release)."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(str(make_url(url).database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        # SQLite does not show who waits for its lock: give the processes time to get there
        started = time.monotonic()
        return (lambda _n: time.monotonic() - started > 4), lambda: holder.execute("COMMIT")
    engine = create_engine(url)
    conn = engine.connect()
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
    conn.commit()

    def waiting(n: int) -> bool:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar()
        conn.commit()
        return (found or 0) >= n

    def release() -> None:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
        conn.close()
        engine.dispose()

    return waiting, release


def test_two_upgrades_at_once_both_succeed_and_migrate_once(db_url, tmp_path, data_dir):
    migrate_to(db_url, OLD)
    waiting, release = _hold_schema_lock(db_url)
    argv = [sys.executable, "-m", "trialwatch.cli", "--db", db_url, "db", "upgrade"]
    env = {**os.environ, "TRIALWATCH_DATA_DIR": str(data_dir)}
    procs = [
        subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while not waiting(2):
            assert time.monotonic() < deadline, "the upgrades never waited for the lock"
            assert all(p.poll() is None for p in procs), "an upgrade ran while the lock was held"
            time.sleep(0.1)
        assert all(p.poll() is None for p in procs)
        assert revisions(db_url) == [OLD]
    finally:
        release()
    outputs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(line.split(": ", 1)[1] for out in outputs for line in out.splitlines())
    assert said == [f"already at {HEAD}", f"upgraded from {OLD} to {HEAD}"], outputs
    assert revisions(db_url) == [HEAD]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_url_forms_all_use_psycopg_3(db_url):
    rest = db_url.split("://", 1)[1]
    assert db_url.startswith("postgresql+psycopg://")
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        url = f"{scheme}://{rest}"
        engine = open_engine(url)
        try:
            assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        finally:
            engine.dispose()
        upgraded = run(url, "db", "upgrade")
        assert upgraded.exit_code == 0 and upgraded.stderr.endswith(f"already at {HEAD}\n")
        assert run(url, "import", str(PAYLOAD)).exit_code == 0
    assert revisions(db_url) == [HEAD]


def test_a_missing_driver_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        url = f"{scheme}://bob:{PASSWORD}@127.0.0.1:5432/test"
        for args in (("show", NCT), ("db", "upgrade")):
            result = run(url, *args)
            assert result.exit_code == 1, result.output
            [line] = result.stderr.splitlines()
            assert "pip install 'trialwatch[postgres]'" in line
            assert "bob:***@127.0.0.1:5432/test" in line and PASSWORD not in line


def test_an_unreachable_server_is_one_line_naming_the_host():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:{port}/test"
    for args in (("show", NCT), ("db", "upgrade"), ("db", "status"), ("schedule", "list")):
        result = run(url, *args)
        assert result.exit_code == 1, args
        [line] = result.stderr.splitlines()
        assert line.startswith(
            f"postgresql+psycopg://bob:***@127.0.0.1:{port}/test: cannot connect"
        )
        assert PASSWORD not in result.output
