"""`trialwatch demo`, as a new user runs it: exit 0, two crawls, then a backfilled history
read version by version and as of a day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_shows_a_backfilled_history(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "What changed between the two crawls:" in out
    assert "status: ACTIVE_NOT_RECRUITING → COMPLETED" in out
    assert "The registry's history of NCT04280705, version by version:" in out
    assert "status: NOT_YET_RECRUITING → RECRUITING" in out
    assert "On 2020-04-15 the registry said: RECRUITING" in out
    assert "NCT03934567: no history" in done.stderr

    db = str(keep / "trialwatch.db")
    shown = subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "--db", db, "history", "NCT04280705", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    versions = json.loads(shown.stdout)
    assert [v["registry_versions"] for v in versions] == [[0], [1], [2], [3, 4], [5]]
    dates = [v["registry_date"] for v in versions]
    assert dates == sorted(dates)
    assert [v["grades"] for v in versions][1:3] == [["major", "major"], ["major"]]
    # The grades are shown, and an editorial confirmation is told apart from what matters.
    assert "[editorial] completion_date: 2025-10-30 (ESTIMATED) → 2025-10-30 (ACTUAL)" in out
    assert "~ inclusion: Life expectancy ≥ 3 months → Life expectancy ≥ 6 months [major]" in out

    # Every command finds the demo's raw payloads from --db alone: reparse re-reads them all.
    again = subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "--db", db, "reparse"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert "0 problem(s)" in again.stderr and "not in" not in again.stderr
