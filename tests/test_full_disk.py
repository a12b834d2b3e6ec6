"""A disk that fills up during `trialwatch import`: the import ends with one line naming what
could not be written and that the disk is full (exit status 1, no traceback), and what was
stored before is kept: the database opens and `trialwatch check` passes.

The disk is a real one, a small tmpfs, holding the database, its payload store, or both; it
fills with distinct studies made from a real payload (tests/faults.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES, fixture_file
from tests.faults import small_disk, write_copies
from tests.kill_points import Target, run_to_end
from tests.reliability import Recorder

DISK_KIB = 1536
COPIES = 300  # far more than the disk holds
SOURCE = fixture_file("ctgov_v2_NCT03064438.json")  # a real study of 62 KB


def _small_whole(path: Path) -> bool:
    status = json.loads(path.read_bytes())["protocolSection"].get("statusModule", {})
    return "overallStatus" in status and path.stat().st_size < 40_000


# Real studies imported before the disk fills: what must be kept.
FIRST = sorted(p for p in (FIXTURES / "ctgov").glob("*/ctgov_v2_NCT*.json") if _small_whole(p))


def _versions(db_file: Path) -> set[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT nct_id, record_hash FROM trial_version"))
            return {(nct, digest) for nct, digest in rows}
    finally:
        engine.dispose()


@pytest.mark.reliability
@pytest.mark.parametrize("full", ["both", "payloads", "database"])
def test_a_full_disk_ends_the_import_with_one_line_and_keeps_what_was_stored(
    full: str, tmp_path: Path, reliability: Recorder
) -> None:
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    with small_disk(tmp_path / "disk", DISK_KIB) as disk:
        db_file = (disk if full in ("both", "database") else roomy) / "trialwatch.db"
        data = (disk if full in ("both", "payloads") else roomy) / "trialwatch-data"
        target = Target(f"sqlite:///{db_file}", data)
        first = tmp_path / "first"
        first.mkdir()
        for path in FIRST:
            (first / path.name).write_bytes(path.read_bytes())
        done = run_to_end(target, "import", str(first))
        assert done.returncode == 0, done.stderr
        kept = _versions(db_file)
        assert len(kept) == len(FIRST)

        write_copies(SOURCE, tmp_path / "copies", COPIES)
        done = run_to_end(target, "import", "--batch-size", "10", str(tmp_path / "copies"))

        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        full_lines = [line for line in lines if "full" in line]
        assert len(full_lines) == 1, done.stderr[-3000:]
        assert full_lines == lines[-1:]
        said = lines[-1]
        assert "the disk is full" in said
        # Both on the disk: whichever was written first is named.
        named = {"database": [str(db_file)], "payloads": [str(data)]}.get(
            full, [str(db_file), str(data)]
        )
        assert any(name in said for name in named), said
        assert "storing them one at a time" not in done.stderr
        assert "refused" not in done.stderr

        stored = _versions(db_file)
        assert kept <= stored
        assert len(stored) < len(FIRST) + COPIES
        checked = run_to_end(target, "check")
        assert checked.returncode == 0, checked.stderr
        assert checked.stderr.strip().splitlines()[-1].startswith("check: ok")

    reliability.tried(
        "database",
        f"import until a {DISK_KIB} KiB disk holding the {full} filled up",
        1,
        "one line naming what could not be written, exit 1; what was stored kept, check passes",
    )
