"""Time trialwatch's start-up: `trialwatch --help`, and the daily import path up to its first
file (`trialwatch --db sqlite:///... import <empty folder>` on a database already created).

    python benchmarks/startup.py [--runs 5] [--command PATH]

Each figure is the best of --runs runs (a busy machine only ever adds time), in seconds,
wall clock, of the whole process. Figures go to stdout, one per line.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def best_of(argv: list[str], runs: int) -> float:
    """The shortest wall time of ``runs`` runs of ``argv``; a failed run stops the benchmark."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)}: exit status {done.returncode}\n{done.stderr.decode()}")
        best = min(best, elapsed)
    return best


def default_command() -> list[str]:
    """The console script beside this Python (a venv's), else `python -m trialwatch.cli`."""
    script = Path(sys.executable).with_name("trialwatch")
    if script.exists():
        return [str(script)]
    found = shutil.which("trialwatch")
    return [found] if found else [sys.executable, "-m", "trialwatch.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (best taken)")
    parser.add_argument("--command", help="the trialwatch executable (default: the venv's)")
    args = parser.parse_args()
    command = [args.command] if args.command else default_command()
    with tempfile.TemporaryDirectory(prefix="trialwatch-startup-") as work:
        folder = Path(work, "empty")
        folder.mkdir()
        db = ["--db", f"sqlite:///{Path(work, 'startup.db')}"]
        importing = [*command, *db, "import", str(folder)]
        best_of(importing, 1)  # creates the schema: the daily path opens a current database
        results = {
            "trialwatch --help": best_of([*command, "--help"], args.runs),
            "trialwatch --db sqlite:///X import EMPTY_DIR": best_of(importing, args.runs),
        }
    for name, seconds in results.items():
        print(f"{name}: {seconds:.3f} s (best of {args.runs})")


if __name__ == "__main__":
    main()
