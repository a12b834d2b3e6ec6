"""Measuring: the floor (read, parse and hash a day's files in-process), a subprocess timed
and waited for with wait4 (its peak memory covers the descendants it waited for, such as a
crawl's spider process), and the size of a database and its raw payload store."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"

# Variables that would point trialwatch somewhere other than the benchmark's database.
_UNSET = ("TRIALWATCH_DATABASE_URL", "TRIALWATCH_CONFIG", "TRIALWATCH_CTGOV_URL")


@dataclass
class Ran:
    seconds: float
    peak_bytes: int  # ru_maxrss of the process and the descendants it waited for
    returncode: int
    stdout: Path
    stderr: Path

    def tail(self, lines: int = 5) -> str:
        text = self.stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would redirect trialwatch, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(extra or {})
    return env


def find_trialwatch(given: str | None) -> str:
    """The trialwatch command to drive: the one given, else beside this Python, else on PATH."""
    if given:
        return given
    beside = Path(sys.executable).parent / "trialwatch"
    found = str(beside) if beside.is_file() else shutil.which("trialwatch")
    if found is None:
        raise ValueError("no trialwatch command beside this Python or on PATH (give --trialwatch)")
    return found


def floor(studies: Path) -> tuple[int, float]:
    """Read, parse (orjson) and sha256 every study file of a day, in-process; the faster of
    two passes (the first may warm the page cache for both)."""
    best, count = float("inf"), 0
    for _ in range(2):
        start = time.perf_counter()
        count = 0
        with os.scandir(studies) as entries:
            names = sorted(e.path for e in entries if e.is_file())
        for name in names:
            with open(name, "rb") as fh:
                body = fh.read()
            orjson.loads(body)
            hashlib.sha256(body).digest()
            count += 1
        best = min(best, time.perf_counter() - start)
    return count, best


def run_measured(
    argv: Sequence[str], *, logs: Path, name: str, cwd: Path, env: Mapping[str, str] | None = None
) -> Ran:
    """Run argv to the end with stdout and stderr in logs/<name>.out and .err."""
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    full = clean_env(env)
    with out.open("wb") as fo, err.open("wb") as fe:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=fo, stderr=fe, cwd=cwd, env=full)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return Ran(seconds, usage.ru_maxrss * 1024, proc.returncode, out, err)


def tree_bytes(path: Path) -> int:
    """Apparent size of every file below `path` (0 when it does not exist)."""
    total = 0
    if not path.exists():
        return 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # a temporary file that went away
                continue
    return total


class Database:
    """Where a benchmark database lives: its URL, its raw store (TRIALWATCH_DATA_DIR) and
    their sizes."""

    url: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        return {"TRIALWATCH_DATA_DIR": str(self.data_dir)}

    def db_bytes(self) -> int:
        raise NotImplementedError

    def raw_bytes(self) -> int:
        return tree_bytes(self.data_dir)

    def clone(self, name: str) -> Database:
        raise NotImplementedError

    def drop(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


class SqliteDatabase(Database):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.data_dir = path.with_name(path.stem + "-data")  # trialwatch's own default
        self.drop()

    def _files(self) -> list[Path]:
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._files()[:2] if p.exists())

    def clone(self, name: str) -> SqliteDatabase:
        twin = SqliteDatabase(self.path.with_name(name + self.path.suffix))
        for src, dst in zip(self._files(), twin._files(), strict=True):
            if src.exists():
                shutil.copy2(src, dst)
        if self.data_dir.exists():
            shutil.copytree(self.data_dir, twin.data_dir)
        return twin

    def drop(self) -> None:
        for path in self._files():
            path.unlink(missing_ok=True)
        super().drop()


def _connect(dbname: str):  # type: ignore[no-untyped-def]
    """An autocommit connection, or ValueError saying in one line why there is none."""
    try:
        import psycopg
    except ImportError:
        raise ValueError("--db postgres needs psycopg: pip install '.[postgres]'") from None
    dsn = PG_SERVER.replace("+psycopg", "") + "/" + dbname
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"PostgreSQL at {PG_SERVER}/{dbname}: {said}") from None


class PostgresDatabase(Database):
    """A fresh database tw_bench_<random> on the local server, dropped by drop()."""

    def __init__(self, work: Path, name: str | None = None, template: str | None = None) -> None:
        self.name = name or f"tw_bench_{secrets.token_hex(4)}"
        self.url = f"{PG_SERVER}/{self.name}"
        self.data_dir = work / f"{self.name}-data"
        super().drop()
        with _connect("postgres") as conn:
            extra = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{self.name}"{extra}')

    def db_bytes(self) -> int:
        with _connect(self.name) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def clone(self, name: str) -> PostgresDatabase:
        twin = PostgresDatabase(self.data_dir.parent, f"{self.name}_{name}", template=self.name)
        if self.data_dir.exists():
            shutil.copytree(self.data_dir, twin.data_dir)
        return twin

    def drop(self) -> None:
        with _connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        super().drop()


def source_state() -> str:
    """The checkout's commit, and whether trialwatch/ differs from it (read-only git)."""
    root = str(Path(__file__).resolve().parent.parent)
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "trialwatch"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"
    return head + (" with uncommitted changes" if dirty else "")
