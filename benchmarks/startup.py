"""Time trialwatch's start-up: `trialwatch --help`, and the daily import path up to its first
file (`trialwatch --db sqlite:///... import DIR` on a database already created).

    python benchmarks/startup.py [--runs 5] [--command PATH]

Three figures: `trialwatch --help`; a whole `import` of an empty folder; and an `import` of a
folder of one file until that file is opened (the process ends there: an audit hook sees the
open). Each is the best of --runs runs (a busy machine only ever adds time), in seconds: the
wall clock, and the CPU time (user + system) the process used, which other work on the
machine disturbs less. Figures go to stdout, one per line.

With PYTHONDONTWRITEBYTECODE set, trialwatch's own modules are compiled on every run (an
editable install has no bytecode otherwise): the figures include that, and say so.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds, user + system

    def __str__(self) -> str:
        return f"{self.wall:.3f} s wall, {self.cpu:.3f} s CPU"


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def best_of(argv: list[str], runs: int, cwd: Path) -> Timing:
    """The best wall and CPU times of ``runs`` runs of ``argv`` (each its own minimum); a
    failed run stops the benchmark."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu, start = _children_cpu(), time.perf_counter()
        done = subprocess.run(argv, capture_output=True, cwd=cwd)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)}: exit status {done.returncode}\n{done.stderr.decode()}")
    return Timing(min(walls), min(cpus))


# Run by this Python: trialwatch's main, ended when it first opens a file under the folder it
# imports, after printing the clock and the CPU time the process used until then.
_UNTIL_FIRST_OPEN = """
import os, sys, time
folder = sys.argv[1]
def until_first_open(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(folder):
        os.write(1, f"{time.time()} {time.process_time()}\\n".encode())
        os._exit(0)
sys.addaudithook(until_first_open)
sys.argv = ["trialwatch", *sys.argv[2:]]
from trialwatch.cli import main
main()
"""


def best_until_first_open(folder: Path, db: list[str], runs: int, cwd: Path) -> Timing:
    """The best times from starting an import of ``folder`` to its opening the first file.
    Run in ``cwd``, not here: `python -c` imports from its working directory first."""
    argv = [sys.executable, "-c", _UNTIL_FIRST_OPEN, str(folder), *db, "import", str(folder)]
    walls, cpus = [], []
    for _ in range(runs):
        start = time.time()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
        if done.returncode != 0 or not done.stdout.strip():
            sys.exit(f"import until its first file: exit status {done.returncode}\n{done.stderr}")
        opened, cpu = done.stdout.split()[-2:]
        walls.append(float(opened) - start)
        cpus.append(float(cpu))
    return Timing(min(walls), min(cpus))


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
        here = Path(work)
        empty, one = here / "empty", here / "one"
        empty.mkdir()
        one.mkdir()
        (one / "NCT00000000.json").write_bytes(b"{}")
        db = ["--db", f"sqlite:///{here / 'startup.db'}"]
        importing = [*command, *db, "import", str(empty)]
        best_of(importing, 1, here)  # creates the schema: the daily path opens a current database
        results = {
            "trialwatch --help": best_of([*command, "--help"], args.runs, here),
            "trialwatch --db sqlite:///X import EMPTY_DIR": best_of(importing, args.runs, here),
            "trialwatch --db sqlite:///X import DIR, until its first file is opened": (
                best_until_first_open(one, db, args.runs, here)
            ),
        }
    for name, timing in results.items():
        print(f"{name}: {timing} (best of {args.runs})")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(PYTHONDONTWRITEBYTECODE is set: modules without bytecode were compiled each run)")


if __name__ == "__main__":
    main()
