"""Parsing studies on every core: a first load parses every study, and the parser, not the
database, is then what takes the time.

Worker processes are started (spawned: nothing of the parent's connections or threads is
copied) only when a batch holds enough studies to parse to pay for them, and live as long as
the batch stream. A study is parsed the same in a worker as in the process itself; a worker
that dies or a pool that cannot start leaves the parsing to the process itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from trialwatch.diffing.canonical import record_hash
from trialwatch.parsers import ParseError
from trialwatch.record import TrialRecord

# (raw bytes, the URL the parser is told, the source slug)
Job = tuple[bytes, str | None, str | None]
# The record and its hash, or why it was refused.
Parsed = tuple[TrialRecord, str] | str

MIN_JOBS = 64  # fewer studies than this are parsed in the process itself


def parse_study(job: Job) -> Parsed:
    """One study payload: its record and hash, or the one-line reason it is refused."""
    from trialwatch.payloads import parse_guarded

    raw, url, source = job
    try:
        records = parse_guarded(raw, url=url, source=source)
    except ParseError as exc:
        return str(exc)
    if len(records) != 1:
        return f"holds {len(records)} records, not one study"
    return records[0], record_hash(records[0])


class ParsePool:
    """Parses jobs in worker processes when there are enough of them."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else _cores()
        self._pool: Executor | None = None
        self._broken = self.workers < 2

    def parse(self, jobs: Sequence[Job]) -> list[Parsed]:
        if self._broken or len(jobs) < MIN_JOBS:
            return [parse_study(job) for job in jobs]
        try:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
            chunk = max(1, len(jobs) // (self.workers * 4))
            return list(self._pool.map(parse_study, jobs, chunksize=chunk))
        except (BrokenProcessPool, OSError):
            self._broken = True
            self.close()
            return [parse_study(job) for job in jobs]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _cores() -> int:
    if env := os.environ.get("TRIALWATCH_PARSE_WORKERS", "").strip():
        return int(env) if env.isdigit() else 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
