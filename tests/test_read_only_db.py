"""A database that cannot be written: each command that writes ends with one line saying the
database is read-only (exit status 1, no traceback), and the database is left as it was.

Root ignores file modes, so the database is made read-only for real: its folder seen through
a read-only bind mount, or the file (and its folder) made immutable with chattr +i.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import fixture_file
from tests.faults import immutable, read_only_view
from tests.kill_points import Target, run_to_end
from tests.reliability import Recorder

STUDY = fixture_file("ctgov_v2_NCT00184067.json")
OTHER = fixture_file("ctgov_v2_NCT00973089.json")
WRITERS = {
    "import": ("import", str(OTHER)),
    "reparse": ("reparse",),
    "watch add": ("watch", "add", "--email", "a@example.org", "--nct", "NCT00184067"),
    "crawl": ("crawl", "ctgov", "--nct", "NCT00184067", "--base-url", "http://127.0.0.1:9"),
}


@contextmanager
def _read_only(how: str, folder: Path, tmp_path: Path) -> Iterator[Path]:
    """The folder holding the database, as the commands see it: read-only by ``how``."""
    if how == "mounted read-only":
        with read_only_view(folder, tmp_path / "view") as view:
            yield view
    elif how == "file and folder immutable":
        with immutable(folder / "trialwatch.db", folder):
            yield folder
    else:  # the file alone: SQLite opens it, and only a write fails
        with immutable(folder / "trialwatch.db"):
            yield folder


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.reliability
@pytest.mark.parametrize(
    "how", ["mounted read-only", "file and folder immutable", "file immutable"]
)
def test_a_read_only_database_gets_one_line_from_every_command_that_writes(
    how: str, tmp_path: Path, reliability: Recorder
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    data = tmp_path / "payloads" / "trialwatch-data"  # writable: the database is the fault
    made = Target(f"sqlite:///{folder / 'trialwatch.db'}", data)
    done = run_to_end(made, "import", str(STUDY))
    assert done.returncode == 0, done.stderr
    before = _digest(folder / "trialwatch.db")

    with _read_only(how, folder, tmp_path) as seen:
        db_file = seen / "trialwatch.db"
        target = Target(f"sqlite:///{db_file}", data)
        for name, args in WRITERS.items():
            done = run_to_end(target, *args, timeout=60)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 1, f"{name}: {done.stderr}"
            assert "Traceback" not in done.stderr, f"{name}: {done.stderr[-3000:]}"
            said = [line for line in lines if "read-only" in line]
            assert said == lines[-1:], f"{name}: {done.stderr[-3000:]}"
            assert str(db_file) in said[0] and "the database is read-only" in said[0], said
            assert len(lines) <= 2, f"{name}: {done.stderr}"  # a crawl says it began

    assert _digest(folder / "trialwatch.db") == before
    reliability.tried(
        "database",
        f"import, reparse, watch add and crawl on a SQLite database {how}",
        len(WRITERS),
        "one line naming the database as read-only, exit 1; the file unchanged",
    )
