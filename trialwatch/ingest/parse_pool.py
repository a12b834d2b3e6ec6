"""Parsing studies on every core: a first load parses every study, and the parser, not the
database, is then what takes the time.

Worker processes are started (spawned: nothing of the parent's connections or threads is
copied) only when a batch holds enough studies to parse to pay for them, and live as long as
the batch stream, never longer than the process that started them: however it ends (SIGKILL
included) they end with it, and a Ctrl-C is left to it. A study is parsed the same in a
worker as in the process itself; a worker that dies or a pool that cannot start leaves the
parsing to the process itself.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from trialwatch.diffing.canonical import record_hash
from trialwatch.ingest.payloads import parse_guarded
from trialwatch.parsers import ParseError
from trialwatch.record import TrialRecord
from trialwatch.registry.first import FirstVersion, first_version
from trialwatch.snapshots import SnapshotStore

# (raw bytes, the URL the parser is told, the source slug, whether it is a first version,
# the file store's folder its payload goes to then, if the database keeps payloads in files)
Job = tuple[bytes, str | None, str | None, bool, str | None]
# The record and its hash; a first version ready to insert; or why it was refused.
Parsed = tuple[TrialRecord, str] | FirstVersion | str

MIN_JOBS = 64  # fewer studies than this are parsed in the process itself
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def parse_record(raw: bytes, url: str | None, source: str | None) -> tuple[TrialRecord, str] | str:
    """One study payload: its record and hash, or the one-line reason it is refused."""
    try:
        records = parse_guarded(raw, url=url, source=source)
    except ParseError as exc:
        return str(exc)
    if len(records) != 1:
        return f"holds {len(records)} records, not one study"
    return records[0], record_hash(records[0])


def parse_study(job: Job) -> Parsed:
    """`parse_record`, a trial's first version made into the rows to insert (which cross
    between processes at a fraction of a record's cost) and its payload kept in the file
    store (content-addressed, so written before the commit that names it, as the writer
    would; a first load's file writes are then spread over the workers)."""
    raw, url, source, first, folder = job
    found = parse_record(raw, url, source)
    if not first or isinstance(found, str) or found[0].nct_id is None:
        return found
    item = first_version(found[0], found[1], raw)
    if folder is not None:
        if folder not in _STORES:
            _STORES[folder] = SnapshotStore(folder)
        store = _STORES[folder]
        store.put_packed([(item.snapshot, item.size, item.packed)])
        item.packed, item.stored = b"", True
    return item


_STORES: dict[str, SnapshotStore] = {}  # a worker's file stores, each folder made once


class ParsePool:
    """Parses jobs in worker processes when there are enough of them."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else _cores()
        self._pool: Executor | None = None
        self._broken = self.workers < 2

    def parse(self, jobs: Sequence[Job]) -> list[Parsed]:
        return list(self.submit(jobs))

    def submit(self, jobs: Sequence[Job]) -> Iterator[Parsed]:
        """The jobs' results, in order, as they come: in workers, parsing goes on while the
        caller does other work (writes the batch before); else parsed now."""
        if self._broken or len(jobs) < MIN_JOBS:
            return iter([parse_study(job) for job in jobs])
        try:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=context,
                    initializer=_follow_parent,
                    initargs=(os.getpid(),),
                )
            chunk = max(1, min(32, len(jobs) // (self.workers * 4)))
            # Held only once the pool is made: multiprocessing unblocks SIGINT after it starts
            # its resource tracker, which making the pool does.
            with _interrupts_held(), _bare_main():  # workers start as jobs are handed out
                results = self._pool.map(parse_study, jobs, chunksize=chunk)
            return self._guarded(results, jobs)
        except (BrokenProcessPool, OSError):
            return self._in_process(jobs)

    def _guarded(self, results: Iterator[Parsed], jobs: Sequence[Job]) -> Iterator[Parsed]:
        done = 0
        try:
            for result in results:
                done += 1
                yield result
        except (BrokenProcessPool, OSError):  # a worker died: the rest parsed here
            yield from self._in_process(jobs[done:])

    def _in_process(self, jobs: Sequence[Job]) -> Iterator[Parsed]:
        self._broken = True
        self.close()
        return iter([parse_study(job) for job in jobs])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


@contextmanager
def _bare_main() -> Iterator[None]:
    """A worker spawned meanwhile imports no main module: it would import the whole command
    line (the console script's), seconds of CPU per worker for nothing it parses with."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT blocked in this thread meanwhile: a worker started now starts with it blocked
    (the mask outlives exec), so a Ctrl-C during its start-up is no traceback of its own."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _follow_parent(parent: int) -> None:
    """In each worker: die when the process that started it dies, however it dies (else it,
    and multiprocessing's resource tracker that waits for it, would run on forever), and
    leave a Ctrl-C at the terminal to that process, which finishes its batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:  # no parent-death signal: watch for being handed to another parent
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _cores() -> int:
    if env := os.environ.get("TRIALWATCH_PARSE_WORKERS", "").strip():
        return int(env) if env.isdigit() else 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
