"""A crawl's child process: started in its own process group, killed with that group on the
way out, and (on Linux) killed by the kernel when its parent dies.

Its own group means a Ctrl-C at the terminal reaches only the parent, which decides: a
scheduler lets the job under way finish, a crawl run by hand stops it. A SIGKILLed parent
leaves no orphan crawl behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CrawlInterrupted(KeyboardInterrupt):
    """The crawl was stopped on purpose (Ctrl-C, SIGTERM, a scheduler told to stop now),
    not by a failure: its run is recorded as interrupted."""


PARENT_ENV = "TRIALWATCH_CRAWL_PARENT"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# Crawl children alive in this process, by pid, and those stopped on purpose.
_live_lock = threading.Lock()
_live: set[int] = set()
_stopped: dict[int, str] = {}


def interrupt_crawls(reason: str) -> int:
    """Kill every crawl child of this process now, with its process group; each one's
    ``run_job`` then raises CrawlInterrupted(reason). Returns how many there were."""
    with _live_lock:  # held while killing: a pid cannot be reaped (and reused) meanwhile
        for pid in _live:
            _stopped[pid] = reason
            _kill_group(pid)
        return len(_live)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the child leads its own group: pgid == pid
    except ProcessLookupError:
        pass


def child_env() -> dict[str, str]:
    # The child must import this package even when it is not installed (e.g. a source checkout).
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())
    return env


def start_child(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` with pipes on stdin, stdout and stderr, in its own process group. The
    pipes are binary: stdout carries raw bodies (``framing``); the caller decodes the rest."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        process_group=0,
    )
    with _live_lock:
        _live.add(proc.pid)
    return proc


def kill_child(proc: subprocess.Popen[bytes]) -> None:
    """On the way out (an error, Ctrl-C): kill the child's whole group and reap it."""
    with _live_lock:
        _live.discard(proc.pid)
        _stopped.pop(proc.pid, None)
        _kill_group(proc.pid)
    proc.wait()


def finish_child(proc: subprocess.Popen[bytes]) -> tuple[int, str | None]:
    """Reap a child whose output has ended: its exit status, and why it was stopped on
    purpose by ``interrupt_crawls`` (None when it was not)."""
    with _live_lock:
        _live.discard(proc.pid)
        stopped = _stopped.pop(proc.pid, None)
    return proc.wait(), stopped


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """A crawl run by hand (main thread, SIGTERM left at its default) that gets SIGTERM stops
    like one interrupted with Ctrl-C: the child is killed and the run recorded, not lost."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(_signum: int, _frame: object) -> None:
        raise CrawlInterrupted("SIGTERM")

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def die_with_parent() -> None:
    """In the child: end when the process that started it dies, however it dies."""
    parent = os.environ.get(PARENT_ENV, "")
    if not parent.isdigit():
        return  # run by hand: no parent to follow
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:  # no parent-death signal here: watch for being handed to another parent
        threading.Thread(target=_watch_parent, args=(int(parent),), daemon=True).start()
    if os.getppid() != int(parent):  # it died before the line above took effect
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
