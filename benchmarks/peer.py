"""The peer: git-history (PyPI `git-history`, Simon Willison's), which turns the commits of a
JSON file into item versions in SQLite. Each day's array of studies is committed to a git
repository, then git-history reads the new commit, once plain (every record gets a version
each day, since versionHolder moves) and once with `--ignore derivedSection` (only real edits
make versions). git-history skips commits it has already read, so each run times one day."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

from benchmarks.measure import Ran, run_measured

MODES = {"plain": (), "ignore": ("--ignore", "derivedSection")}
LABELS = {"plain": "git-history", "ignore": "git-history --ignore derivedSection"}


def find_git_history() -> str | None:
    """The git-history command beside this Python, else on PATH; None when not installed."""
    beside = Path(sys.executable).parent / "git-history"
    if beside.is_file():
        return str(beside)
    return shutil.which("git-history")


class Peer:
    def __init__(self, exe: str, work: Path) -> None:
        self.exe = exe
        self.work = work
        self.repo = work / "peer-repo"
        self.logs = work / "logs"
        shutil.rmtree(self.repo, ignore_errors=True)
        for mode in MODES:
            self.db(mode).unlink(missing_ok=True)
        self.repo.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")

    def db(self, mode: str) -> Path:
        return self.work / f"peer-{mode}.db"

    def _git(self, *args: str, when: date | None = None) -> None:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        }
        if when is not None:
            stamp = f"{when.isoformat()}T06:00:00+0000"
            env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
            cwd=self.repo,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def commit(self, array: Path, day: int, when: date) -> None:
        """The day's snapshot as the new content of studies.json (not timed)."""
        shutil.copyfile(array, self.repo / "studies.json")
        self._git("add", "studies.json")
        self._git("commit", "-q", "-m", f"day {day}", when=when)

    def run(self, mode: str, day: int) -> Ran:
        argv = [
            self.exe,
            "file",
            str(self.db(mode)),
            str(self.repo / "studies.json"),
            "--repo",
            str(self.repo),
            "--id",
            "nct_id",
            *MODES[mode],
        ]
        return run_measured(argv, logs=self.logs, name=f"day-{day:02d}-peer-{mode}", cwd=self.work)

    def db_bytes(self, mode: str) -> int:
        db = self.db(mode)
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())

    def versions(self, mode: str) -> int:
        """Item versions git-history holds so far (table item_version, its default name)."""
        with closing(sqlite3.connect(self.db(mode))) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM item_version").fetchone()[0])
            except sqlite3.OperationalError:  # no table yet
                return 0
