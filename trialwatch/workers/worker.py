"""A worker: takes the crawls queued in Redis and fetches them into the database.

It looks for the oldest queued run with requests waiting, joins it, and runs a crawl of its
own for it (``trialwatch.ingest.crawling.run_crawl``, in a crawl child like any other) whose
scheduler is the run's shared queue in Redis (``spiders.redis_queue``): the child takes
requests from the queue one at a time, ingests what it fetches through the normal pipeline,
puts what its callbacks yield back into the queue, and ends when the queue is empty. The
worker then adds its part to the queued run's row, leaves the run, and looks again.

It ends after ``idle_exit`` seconds without work (if given). The first Ctrl-C or SIGTERM
lets the request under way finish (the child is told through Redis to take nothing more),
the second stops now: the child is killed, its part recorded as interrupted.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from redis.exceptions import RedisError

from trialwatch.ingest.crawling import run_crawl
from trialwatch.ingest.jobs import pipeline_for, send_alerts
from trialwatch.registry.db import open_engine
from trialwatch.spiders.components import seconds_text
from trialwatch.spiders.redis_queue import worker_settings
from trialwatch.workers.queue import Claim, RunQueue
from trialwatch.workers.runs import add_error, add_part, check_run, finish_run, new_runs

Report = Callable[[str], None]

POLL_SECONDS = 0.5  # how often an idle worker looks for work
BEAT_SECONDS = 5.0  # how often it says it is alive (queue.HEARTBEAT_TTL: when it counts as gone)


def one_line(exc: BaseException) -> str:
    said = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {said}"[:500] if said else type(exc).__name__


class Worker:
    def __init__(
        self, queue: RunQueue, db_url: str, *, idle_exit: float | None, report: Report
    ) -> None:
        self.queue = queue
        self.idle_exit = idle_exit
        self.report = report
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.engine = open_engine(db_url)
        self.pipeline = pipeline_for(self.engine, report)
        self.signum = 0
        self.forced = False  # stopped now (a second signal), not after the request under way
        self._in_crawl = False
        self._stop = threading.Event()  # a stop was asked for
        self._wake = threading.Event()  # the heartbeat has something to say now
        self._done = threading.Event()
        self._skip: set[int] = set()  # runs another database holds

    # -- the loop ---------------------------------------------------------------------------

    def serve(self) -> int:
        """Work until idle for ``idle_exit`` seconds or stopped; the exit status (0, or 128 +
        the signal's number when stopped now). RedisError when Redis is lost."""
        self.queue.beat(self.name, self._about())
        beat = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)
        beat.start()
        how = f"after {seconds_text(self.idle_exit)} without work" if self.idle_exit else "never"
        self.report(
            f"worker {self.name}: taking crawls from {self.queue.where}; ends {how}, "
            "or on Ctrl-C / SIGTERM"
        )
        try:
            with self._signals():
                self._loop()
        except KeyboardInterrupt:
            self.forced = True
        finally:
            self._done.set()
            self._wake.set()
            beat.join(timeout=5)
            try:
                self.queue.forget(self.name)
            except RedisError:
                pass  # its heartbeat expires by itself
        if self.forced:
            self.report(f"worker {self.name}: stopped now")
            return 128 + (self.signum or signal.SIGINT)
        if self._stop.is_set():
            self.report(f"worker {self.name}: stopped")
        return 0

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            claim = self.queue.claim(self.name, skip=sorted(self._skip))
            if claim is None:
                idle = time.monotonic() - idle_since
                if self.idle_exit is not None and idle >= self.idle_exit:
                    self.report(
                        f"worker {self.name}: no work for {seconds_text(self.idle_exit)}: exiting"
                    )
                    return
                self._stop.wait(POLL_SECONDS)
                continue
            if claim.kind == "done":
                self._finished(claim)
            else:
                self._work(claim)
            idle_since = time.monotonic()

    def _work(self, claim: Claim) -> None:
        run_id = claim.run_id
        why_not = check_run(self.engine, run_id, claim.token)
        if why_not is not None:
            self._skip.add(run_id)
            self.queue.leave(self.name, run_id)
            self.report(
                f"run {run_id}: left to other workers: {why_not} (does another database "
                f"use prefix {self.queue.prefix}?)"
            )
            return
        job = claim.job
        settings = {
            **(job.get("settings") or {}),
            **worker_settings(
                self.queue.url,
                queue_key=self.queue.requests_key(run_id),
                seen_key=self.queue.seen_key(run_id),
                stop_key=self.queue.stop_key(self.name),
            ),
        }
        self.report(f"run {run_id}: fetching ({self.queue.pending(run_id)} request(s) waiting)")
        self.pipeline.report = lambda line: self.report(f"run {run_id}: {line}")
        outcome = ""
        stopped: KeyboardInterrupt | None = None
        with new_runs() as parts:
            self._in_crawl = True
            try:
                since = job.get("updated_since")
                part, _ = run_crawl(
                    self.pipeline,
                    str(job.get("slug")),
                    base_url=job.get("base_url"),
                    nct_ids=job.get("nct_ids") or (),
                    query=job.get("query") or None,
                    updated_since=date.fromisoformat(since) if since else None,
                    settings=settings,
                )
                outcome = "failed" if part.status == "failed" else ""
            except KeyboardInterrupt as exc:  # stopped now: the child is already killed
                outcome, stopped = "interrupted", exc
            except Exception as exc:  # the child died, or a job this version cannot read
                outcome = "failed"
                self.report(f"run {run_id}: {one_line(exc)}")
                if not parts:
                    add_error(self.engine, run_id, f"worker {self.name}: {one_line(exc)}")
            finally:
                self._in_crawl = False
        for part_id in parts:
            row = add_part(self.engine, run_id, part_id, self.name)
            if row is not None:
                self.report(
                    f"run {run_id}: this worker's part (crawl run {row.id}, {row.status}): "
                    f"fetched {row.fetched}, {row.new_versions} new version(s), "
                    f"{row.unchanged} unchanged, {row.not_found} not found, "
                    f"{row.rejected} rejected"
                )
        end = self.queue.leave(self.name, run_id, outcome)
        if end is not None:
            self._finished(end)
        if stopped is not None:
            raise stopped

    def _finished(self, claim: Claim) -> None:
        run = finish_run(self.engine, claim.run_id, claim.info)
        if run is None:
            return
        ended_badly = run.status in ("failed", "interrupted") and run.errors
        why = f" ({run.errors[-1]})" if ended_badly else ""
        self.report(
            f"run {run.id}: {run.status}{why}: fetched {run.fetched}, {run.new_versions} new "
            f"version(s), {run.unchanged} unchanged, {run.not_found} not found, "
            f"{run.rejected} rejected (all workers)"
        )
        if run.job_id is not None:  # a scheduled crawl: its alerts go out now, as in-process
            send_alerts(self.engine, report=self.report)

    # -- heartbeat and signals ----------------------------------------------------------------

    def _about(self) -> str:
        return f"pid {os.getpid()} on {socket.gethostname()}"

    def _beat(self) -> None:
        told = False
        while not self._done.is_set():
            try:
                if self._stop.is_set() and not told:
                    self.queue.ask_stop(self.name)  # the crawl child takes nothing more
                    told = True
                self.queue.beat(self.name, self._about())
            except RedisError:
                pass  # the main loop meets the same error and says it
            self._wake.wait(BEAT_SECONDS)
            self._wake.clear()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signum = signum
        if not self._stop.is_set():
            self._stop.set()
            self._wake.set()
            if self._in_crawl:
                self.report(
                    f"worker {self.name}: stopping once the request under way is done "
                    "(again to stop now)"
                )
            return
        self.forced = True
        if self._in_crawl:
            raise KeyboardInterrupt(f"stopped by signal {signum}")

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in before:
            signal.signal(s, self._on_signal)
        try:
            yield
        finally:
            for s, handler in before.items():
                signal.signal(s, handler)
