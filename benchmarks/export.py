"""The export's memory check: the same export of 10,000 and of 200,000 changes, in each
format, with the peak memory and the time of each run.

    python benchmarks/export.py [--rows 10000,200000] [--formats csv,jsonl,parquet]
                                [--work DIR] [--json]

The rows are synthetic: the analyst test database (tests/analyst_data.py, built from real
recorded payloads) is built once, then its changes are copied in bulk SQL, each copy with a
new id and a new NCT id, until the change table holds the number of rows asked for. Copies,
not new data: the point is how memory grows with the number of rows. The one change over
16 KB (every location of a large trial, 290 KB) is left out of the copies so that 200,000
rows stay a few hundred MB on disk.

Each export runs in a subprocess (`python -m trialwatch.cli export changes ...`); its peak
resident memory is the child's ru_maxrss from wait4. A table goes to stdout, progress to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

TEMPLATE_LIMIT = 16_384  # bytes of before + after + detail: larger changes are not copied
FIRST_COPY_NCT = 90_000_000  # copies get NCT90000001, NCT90000002, ... (one per copy round)


def build_base(work: Path) -> Path:
    """The analyst database, built once in ``work``."""
    from tests.analyst_data import build

    db = work / "base" / "trialwatch.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        build(f"sqlite:///{db}", db.parent / "trialwatch-data")
    return db


def fill(base: Path, target: Path, rows: int) -> int:
    """A copy of ``base`` whose change table holds ``rows`` rows: the base's changes, then
    bulk copies of its changes (under TEMPLATE_LIMIT bytes) with new ids and NCT ids."""
    shutil.copyfile(base, target)
    conn = sqlite3.connect(target)
    try:
        have = conn.execute("SELECT count(*) FROM change").fetchone()[0]
        size = "length(before) + length(after) + length(detail)"
        template = conn.execute(
            f"SELECT count(*) FROM change WHERE COALESCE({size}, 0) < ?", (TEMPLATE_LIMIT,)
        ).fetchone()[0]
        missing = max(rows - have, 0)
        rounds = -(-missing // template)
        conn.execute(
            f"""
            INSERT INTO change (trial_id, nct_id, source, kind, before, after, detail,
                                from_version_id, to_version_id, observed_at, registry_date,
                                grade)
            WITH RECURSIVE copy(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM copy WHERE n < ?)
            SELECT c.trial_id, printf('NCT%08d', ? + copy.n), c.source, c.kind, c.before,
                   c.after, c.detail, c.from_version_id, c.to_version_id, c.observed_at,
                   c.registry_date, c.grade
            FROM copy CROSS JOIN change AS c
            WHERE COALESCE({size}, 0) < ?
            ORDER BY copy.n, c.id
            LIMIT ?
            """,
            (rounds, FIRST_COPY_NCT, TEMPLATE_LIMIT, missing),
        )
        conn.commit()
        return int(conn.execute("SELECT count(*) FROM change").fetchone()[0])
    finally:
        conn.close()


def measure(db: Path, fmt: str, out: Path) -> dict[str, Any]:
    """One export in a child process: seconds, peak RSS (MiB), file size (MiB)."""
    argv = [sys.executable, "-m", "trialwatch.cli", "--db", str(db)]
    argv += ["export", "changes", "--format", fmt, "-o", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE)
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"export failed ({child.returncode}): {stderr.decode()[-500:]}")
    summary = stderr.decode().strip().splitlines()[-1]
    return {
        "format": fmt,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "file_mib": round(out.stat().st_size / 2**20, 1),
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="10000,200000", help="comma-separated row counts")
    parser.add_argument("--formats", default="csv,jsonl,parquet")
    parser.add_argument("--work", type=Path, help="keep the databases and files here")
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    args = parser.parse_args()
    counts = [int(n) for n in args.rows.split(",")]
    formats = args.formats.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="tw-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print("building the analyst database ...", file=sys.stderr)
        base = build_base(work)
        results = []
        for rows in counts:
            db = work / f"changes-{rows}.db"
            started = time.perf_counter()
            held = fill(base, db, rows)
            print(
                f"{held:,} changes in {db.name} ({time.perf_counter() - started:.1f} s)",
                file=sys.stderr,
            )
            for fmt in formats:
                result = {"rows": held, **measure(db, fmt, work / f"changes-{rows}.{fmt}")}
                print(f"  {result['summary']}", file=sys.stderr)
                results.append(result)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| rows | format | seconds | peak RSS (MiB) | file (MiB) |")
    print("|---:|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['format']} | {r['seconds']} | {r['peak_rss_mib']} "
            f"| {r['file_mib']} |"
        )


if __name__ == "__main__":
    main()
