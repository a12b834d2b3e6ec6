"""Run the fault and attack tests and write docs/reliability.md from what they tried.

python scripts/reliability.py            # all of them (PostgreSQL too when it answers)
python scripts/reliability.py -k alerts  # extra arguments go to pytest
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
INTRO = """# Reliability: faults and attacks tried, and what held

Each row is one fault or attack test of the suite: what it did, how many times, on which
database, and what held. Regenerate with `python scripts/reliability.py` (it runs those tests
and rewrites this file); a test that fails writes no row and fails the run.
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "trials.jsonl"
        env = {**os.environ, "TRIALWATCH_RELIABILITY_REPORT": str(report)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "reliability", *sys.argv[1:]]
        done = subprocess.run(cmd, cwd=ROOT, env=env)
        rows = (
            [json.loads(line) for line in report.read_text().splitlines()]
            if report.exists()
            else []
        )
    by_area: dict[str, list[dict[str, str]]] = defaultdict(list)
    merged: dict[tuple[str, str, str, str], dict[str, object]] = {}
    for row in rows:
        key = (row["area"], row["attack"], row["result"], row["database"])
        if key in merged:
            merged[key]["times"] = int(merged[key]["times"]) + int(row["times"])  # type: ignore[call-overload]
        else:
            merged[key] = dict(row)
    for row in merged.values():
        by_area[str(row["area"])].append(row)  # type: ignore[arg-type]
    lines = [
        INTRO,
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, pytest exit {done.returncode}.\n",
    ]
    for area in sorted(by_area):
        lines += [
            f"## {area}\n",
            "| attack or fault | tried | database | result | test |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(by_area[area], key=lambda r: (str(r["attack"]), str(r["database"]))):
            test = str(r["test"]).split("::")[0]
            cells = [r["attack"], r["times"], r["database"] or "-", r["result"], f"`{test}`"]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"{DOC.relative_to(ROOT)}: {len(merged)} rows from {len(rows)} trials", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
