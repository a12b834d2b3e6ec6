"""Another process holds SQLite's write lock (a second connection inside BEGIN IMMEDIATE):
`trialwatch import` says once, on stderr, that it is waiting on another writer's lock and goes
on when the lock is released; when the wait runs out it ends with one line saying the
database is locked by another writer (exit status 1, no traceback), having stored nothing."""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import fixture_file
from tests.kill_points import ROOT, Target, run_to_end
from tests.reliability import Recorder

FIRST = fixture_file("ctgov_v2_NCT00184067.json")
LATER = [fixture_file(f"ctgov_v2_{nct}.json") for nct in ("NCT00973089", "NCT03418623")]
NOTICE = "waiting on another writer's lock"


@contextmanager
def _write_lock_held(db_file: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(db_file), isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def _count(db_file: Path) -> int:
    conn = sqlite3.connect(str(db_file))
    try:
        return int(conn.execute("SELECT count(*) FROM trial_version").fetchone()[0])
    finally:
        conn.close()


def _made(tmp_path: Path) -> tuple[Target, Path]:
    db_file = tmp_path / "trialwatch.db"
    target = Target(f"sqlite:///{db_file}", tmp_path / "trialwatch-data")
    done = run_to_end(target, "import", str(FIRST))
    assert done.returncode == 0, done.stderr
    return target, db_file


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.mark.reliability
def test_an_import_waits_for_another_writers_lock_says_so_once_and_goes_on(
    tmp_path: Path, reliability: Recorder
) -> None:
    target, db_file = _made(tmp_path)
    with _write_lock_held(db_file) as holder:
        proc = subprocess.Popen(
            target.argv("import", *map(str, LATER)),
            cwd=ROOT,
            env=target.env() | {"TRIALWATCH_LOCK_WAIT": "120"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        said: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_lines, args=(proc.stderr, said), daemon=True)
        reader.start()
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any(NOTICE in line for line in seen) and time.monotonic() < deadline:
            try:
                seen.append(said.get(timeout=0.5))
            except queue.Empty:
                if proc.poll() is not None:
                    break
        try:
            assert any(NOTICE in line for line in seen), "".join(seen)
            time.sleep(1.5)  # the import keeps waiting meanwhile
            assert proc.poll() is None, "".join(seen)
            assert _count(db_file) == 1
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        holder.execute("ROLLBACK")
    proc.wait(timeout=60)
    reader.join(timeout=10)
    while not said.empty():
        seen.append(said.get())
    stderr = "".join(seen)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.count(NOTICE) == 1, stderr
    assert _count(db_file) == 1 + len(LATER)
    reliability.tried(
        "database",
        "import while another connection held SQLite's write lock, released after a while",
        1,
        "said once that it waits on another writer's lock, then stored everything",
    )


@pytest.mark.reliability
def test_an_import_whose_wait_for_the_lock_runs_out_says_so_in_one_line(
    tmp_path: Path, reliability: Recorder
) -> None:
    target, db_file = _made(tmp_path)
    target.extra_env["TRIALWATCH_LOCK_WAIT"] = "3"
    with _write_lock_held(db_file):
        started = time.monotonic()
        done = run_to_end(target, "import", *map(str, LATER), timeout=90)
        took = time.monotonic() - started
        waited = run_to_end(
            target, "watch", "add", "--email", "a@example.org", "--nct", "NCT00184067"
        )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 2 and NOTICE in lines[0], done.stderr[-3000:]
    assert lines[1].startswith(f"sqlite:///{db_file}: the database is locked by another writer")
    assert took < 30
    assert _count(db_file) == 1
    # A command that writes in one transaction, not in batches, says the same in one line.
    said = waited.stderr.strip().splitlines()
    assert waited.returncode == 1 and len(said) == 1, waited.stderr[-3000:]
    assert said[0].startswith(f"sqlite:///{db_file}: the database is locked by another writer")
    checked = run_to_end(target, "check")
    assert checked.returncode == 0, checked.stderr
    reliability.tried(
        "database",
        "import and watch add while another connection kept SQLite's write lock past the wait",
        2,
        "one line: the database is locked by another writer, exit 1; nothing stored, check ok",
    )
