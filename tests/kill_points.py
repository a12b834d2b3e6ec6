"""Kill a real `trialwatch` process at random points, then compare what it left behind.

A command is run once to the end to learn how long it takes; then, on another database, it is
started and SIGKILLed (its whole process group: a crash takes its children too) after each of
a series of delays drawn between 0 and that duration, and finally run to the end. The
delays come from a seeded generator, so a failing series can be run again as it was
(``TRIALWATCH_KILL_SEED`` picks another series).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change, Delivery, Trial, TrialVersion, Watch

SEED = int(os.environ.get("TRIALWATCH_KILL_SEED", "20261122"))
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Target:
    """One database and its payload store, as a child process sees them."""

    db: str
    data: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, TRIALWATCH_DATA_DIR=str(self.data), PYTHONUNBUFFERED="1")
        for name in [n for n in env if n.startswith("TRIALWATCH_SMTP_")]:
            env.pop(name)
        config = self.data.parent / "empty-config.toml"  # no stray settings reach the child
        config.parent.mkdir(parents=True, exist_ok=True)
        config.touch()
        env["TRIALWATCH_CONFIG"] = str(config)
        return env | self.extra_env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "trialwatch.cli", "--db", self.db, *args]


@dataclass
class Finished:
    returncode: int
    stderr: str
    seconds: float


def run_to_end(target: Target, *args: str, timeout: float = 120) -> Finished:
    started = time.monotonic()
    done = subprocess.run(
        target.argv(*args),
        cwd=ROOT,
        env=target.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    return Finished(done.returncode, done.stderr, time.monotonic() - started)


def run_and_kill(target: Target, *args: str, after: float) -> bool:
    """Start the command and SIGKILL its process group ``after`` seconds in; False if it
    had already finished by then."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            target.argv(*args),
            cwd=ROOT,
            env=target.env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own group: the kill reaches a crawl's child too
        )
        try:
            proc.wait(timeout=after)
            return False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return True


def delays(duration: float, count: int, seed: int = SEED) -> list[float]:
    """Seeded random points of a run, earliest first: each killed run first redoes what
    the runs before it finished, so a later point reaches further into work not yet done
    (in random order, once the work is done, the remaining kills would all hit reruns)."""
    rng = random.Random(seed)
    return sorted(round(rng.uniform(0, duration), 3) for _ in range(count))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def final_state(db: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a run leaves that must not depend on how often it was interrupted: trials,
    versions (by content hash), changes (by kind and values, between which contents),
    deliveries (which watch, which change). Row ids and clock times are left out."""
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            trials = session.exec(select(Trial)).all()
            versions = session.exec(select(TrialVersion)).all()
            content = {v.id: (v.record_hash, v.registry_date, v.registry_version) for v in versions}
            changes = session.exec(select(Change)).all()
            watches = {w.id: (w.email, _dump(w.nct_ids)) for w in session.exec(select(Watch))}
            by_change = {c.id: (c.nct_id, c.kind, _dump(c.before), _dump(c.after)) for c in changes}
            deliveries = session.exec(select(Delivery)).all()
            return {
                "trials": sorted(
                    (t.nct_id, t.record_source, _dump(t.record), _dump(t.field_sources))
                    for t in trials
                ),
                "versions": sorted(
                    (
                        v.nct_id,
                        v.source,
                        v.format,
                        v.record_hash,
                        v.snapshot or "",
                        v.registry_date or "",
                        v.registry_version or "",
                    )
                    for v in versions
                ),
                "changes": sorted(
                    (
                        c.nct_id,
                        c.source,
                        c.kind,
                        _dump(c.before),
                        _dump(c.after),
                        c.grade or "",
                        _dump(content.get(c.from_version_id)),
                        _dump(content.get(c.to_version_id)),
                    )
                    for c in changes
                ),
                "deliveries": sorted(
                    (*watches[d.watch_id], *by_change[d.change_id]) for d in deliveries
                ),
            }
    finally:
        engine.dispose()


def copy_sqlite(source: Target, dest: Target) -> None:
    """Give ``dest`` what ``source`` holds now (SQLite: the file and the payload store), so
    a set-up runs once for both."""
    src, dst = make_url(source.db).database, make_url(dest.db).database
    assert src and dst, "copy_sqlite needs two SQLite files"
    for suffix in ("", "-wal"):
        if Path(src + suffix).exists():
            shutil.copyfile(src + suffix, dst + suffix)
    shutil.copytree(source.data, dest.data, dirs_exist_ok=True)


@contextmanager
def another_database(db_url: str, folder: Path) -> Iterator[str]:
    """A second fresh database of the same kind as ``db_url`` (the uninterrupted run's)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / 'uninterrupted.db'}"
        return
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Series:
    """What a series of kills did. ``progress`` counts the work done so far (versions
    stored, messages sent); from it each kill is sorted by where it landed."""

    delays: list[float]
    total: int = 0  # the work an uninterrupted run does
    killed: int = 0  # kills that landed before the command ended by itself
    progress: list[int] = field(default_factory=list)  # after each kill

    def landed(self) -> dict[str, int]:
        """How many kills came before their run did any new work (while starting, or while
        redoing what earlier runs did), in the middle of it, or once all was done."""
        found = {"before new work": 0, "mid-way": 0, "after the work": 0}
        done = 0
        for now in self.progress:
            if now >= self.total:
                found["after the work" if done >= self.total else "mid-way"] += 1
            else:
                found["mid-way" if now > done else "before new work"] += 1
            done = now
        return found

    def describe(self) -> str:
        return f"seed {SEED}, delays {self.delays}, progress after each kill {self.progress}"


def kill_series(
    target: Target,
    args: tuple[str, ...],
    duration: float,
    count: int,
    *,
    progress: Callable[[str], int],
    total: int,
) -> Series:
    """Kill the command ``count`` times at seeded random points of ``duration``;
    ``progress(db)`` counts the work done, ``total`` of it in an uninterrupted run."""
    series = Series(delays(duration, count), total=total)
    for delay in series.delays:
        series.killed += run_and_kill(target, *args, after=delay)
        series.progress.append(progress(target.db))
    return series


def count_rows(db: str, sql: str) -> int:
    engine = create_engine(db)  # no migration: the schema is there, and this runs often
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def count_versions(db: str) -> int:
    return count_rows(db, "SELECT count(*) FROM trial_version")


def count_sent(db: str) -> int:
    return count_rows(db, "SELECT count(*) FROM alert_message WHERE status = 'sent'")
