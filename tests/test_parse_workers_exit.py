"""The parse pool's worker processes (and multiprocessing's resource tracker) end with the
`trialwatch import` that started them, however it ends: SIGKILL, SIGTERM, or Ctrl-C at a
terminal (SIGINT to the whole process group). None is left running afterwards.

The import is given enough distinct studies for a pool (copies of a real payload, each with
its own NCT id: tests/faults.py), its children are found through /proc while it runs, and it
is signalled once they exist.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import fixture_file
from tests.faults import write_copies
from tests.kill_points import ROOT, Target
from tests.reliability import Recorder
from tests.scheduler.support import proc_stat
from trialwatch.ingest.parse_pool import MIN_JOBS

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds processes through Linux's /proc"
)

SOURCE = fixture_file("ctgov_v2_NCT03064438.json")  # a real study of 62 KB
STUDIES = 8 * MIN_JOBS
WORKERS = 2

Pid = tuple[int, str]  # a process id and its start time: the same process, not a reused id


def _children(parent: int) -> list[Pid]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields is not None and int(fields[1]) == parent:
                found.append((int(entry), fields[19]))
    return found


def _alive(process: Pid) -> bool:
    fields = proc_stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _pool_started(proc: subprocess.Popen[bytes], timeout: float = 60) -> list[Pid]:
    """The import's children once its parse workers and the resource tracker all run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        children = _children(proc.pid)
        lines = [_cmdline(pid) for pid, _start in children]
        workers = sum("spawn_main" in line for line in lines)
        if workers >= WORKERS and any("resource_tracker" in line for line in lines):
            time.sleep(1.0)  # past the workers' start-up, into their parsing
            return _children(proc.pid)
        time.sleep(0.05)
    raise AssertionError(f"the import ended or started no parse workers ({proc.poll()})")


@pytest.mark.reliability
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "Ctrl-C"])
def test_parse_workers_end_with_their_import(
    how: str, tmp_path: Path, reliability: Recorder
) -> None:
    write_copies(SOURCE, tmp_path / "studies", STUDIES)
    target = Target(f"sqlite:///{tmp_path / 'trialwatch.db'}", tmp_path / "trialwatch-data")
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as err:
        proc = subprocess.Popen(
            target.argv("import", "--batch-size", str(STUDIES), str(tmp_path / "studies")),
            cwd=ROOT,
            env=target.env() | {"TRIALWATCH_PARSE_WORKERS": str(WORKERS)},
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own group, as a command run at a terminal has
        )
    tree: list[Pid] = []
    try:
        tree = _pool_started(proc)
        if how == "SIGKILL":
            proc.send_signal(signal.SIGKILL)
        elif how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:  # the terminal sends Ctrl-C to the whole foreground group
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 5
        while any(map(_alive, tree)) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [f"{pid} {_cmdline(pid)}" for pid, start in tree if _alive((pid, start))]
        assert not left, f"left running after {how}: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, start in tree:  # only the processes this test started
            if _alive((pid, start)):
                os.kill(pid, signal.SIGKILL)
    said = errors.read_text(errors="replace")
    assert "Traceback" not in said, said[-3000:]
    reliability.tried(
        "input",
        f"{how} to an import of {STUDIES} studies while its {WORKERS} parse workers ran",
        1,
        "no worker or resource tracker left running",
    )
