"""`trialwatch schedule run`: serve one database's schedule until told to stop.

One scheduler per database, enforced by the database (``registry.lease``). The first SIGTERM
or SIGINT lets the job under way finish; a second stops it now: its crawl child is killed with
its process group and its run is recorded as interrupted. Runs that a scheduler which died
left `running` are marked interrupted by the next one to start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.lease import Holder, Lease, LeaseHeld, LeaseLost
from trialwatch.registry.models import CrawlRun, utcnow
from trialwatch.scheduler import (
    ALERTS_EVERY,
    active_jobs,
    add_alerts_job,
    failure_line,
    make_scheduler,
    scrub_stored_urls,
    serving,
    wait_for_jobs,
)
from trialwatch.spiders.runner import interrupt_crawls

log = logging.getLogger(__name__)

Report = Callable[[str], None]
DEFAULT_LEASE_TIMEOUT = 60.0
GRACE = 5.0  # after stopping now: how long a job gets to record its own end


def alerts_every() -> float:
    """Seconds between runs of the alerts job: $TRIALWATCH_ALERTS_EVERY, else a minute."""
    given = os.environ.get("TRIALWATCH_ALERTS_EVERY", "").strip()
    try:
        every = float(given) if given else ALERTS_EVERY
    except ValueError:
        every = ALERTS_EVERY
    return every if every > 0 else ALERTS_EVERY


class SchedulerBusy(RuntimeError):
    """Another live `schedule run` serves this database."""


@dataclass
class Stop:
    """What the signals (or a lost lease) asked for.

    Plain flags, polled: a signal handler that took a lock (``Event.set``) could deadlock
    against the main thread it interrupted, and one that printed could re-enter its I/O.
    """

    signals: list[str] = field(default_factory=list)
    requested: bool = False  # stop after the job under way
    now: bool = False  # stop now
    reason: str = ""
    status: int = 0

    def signal(self, signum: int, _frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        self.signals.append(name)
        if self.requested:
            first = self.signals[0]
            self.stop_now(
                f"a second {name}" if name == first else f"{name} after {first}", 128 + signum
            )
        self.requested = True

    def stop_now(self, reason: str, status: int) -> None:
        if not self.now:
            self.reason, self.status = reason, status
            self.now = True
        self.requested = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking when a stop is asked for; True if one was."""
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.requested


def run_forever(
    url: str,
    *,
    report: Report,
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
    wait: bool = False,
    stop: Stop | None = None,
) -> int:
    """Serve the stored jobs until SIGINT/SIGTERM (or ``stop``); returns the exit status.

    SchedulerBusy when another live scheduler serves the database (unless ``wait``: then
    wait until it is gone and take over).
    """
    # An empty database is created here; a schema behind is refused (`trialwatch db upgrade`),
    # before any signal handler is put in place.
    engine = open_engine(url)
    stop = stop or Stop()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop.signal)
    try:
        lease = Lease(engine, timeout=lease_timeout)
        got, taken_from = _take_lease(lease, report=report, wait=wait, stop=stop)
        if not got:
            report("scheduler: stopped while waiting")
            return 0
        try:
            return _serve(url, engine, lease, taken_from, report=report, stop=stop)
        finally:
            lease.release()
    finally:
        engine.dispose()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _take_lease(
    lease: Lease, *, report: Report, wait: bool, stop: Stop
) -> tuple[bool, Holder | None]:
    """(True, the holder taken over from, if any), or (False, None): stopped while waiting."""
    announced = False
    while True:
        try:
            return True, lease.acquire()
        except LeaseHeld as exc:
            if not wait:
                raise SchedulerBusy(f"scheduler: {exc}; one per database") from None
            if not announced:
                report(f"scheduler: waiting to take over: {exc}")
                announced = True
        except OperationalError as exc:  # busy or unreachable: no answer either way yet
            if not wait:
                raise
            log.warning("scheduler: the lease cannot be read now: %s", failure_line(exc))
        if stop.wait(lease.interval):
            return False, None


def _serve(
    url: str,
    engine: Engine,
    lease: Lease,
    taken_from: Holder | None,
    *,
    report: Report,
    stop: Stop,
) -> int:
    me = lease.me
    owner = "its scheduler"
    if taken_from is not None:
        owner = f"its scheduler (pid {taken_from.pid} on {taken_from.host})"
        report(
            f"scheduler: took over from holder {taken_from.holder} (pid {taken_from.pid} on "
            f"{taken_from.host}), silent since {taken_from.heartbeat_at:%Y-%m-%dT%H:%M:%SZ}"
        )
    orphans = mark_interrupted(engine, f"interrupted: {owner} stopped before it finished")
    if orphans:
        report(f"scheduler: {orphans} run(s) left running by a stopped scheduler: interrupted")

    def before_job() -> None:  # fencing: a scheduler that lost its lease starts nothing
        if stop.requested:
            raise RuntimeError("the scheduler is stopping")
        try:
            lease.renew()
        except LeaseLost as exc:
            stop.stop_now(f"lost the lease: {exc}", 1)
            raise

    scheduler = make_scheduler(engine)
    heartbeat = _Heartbeat(lease, stop)
    with serving(url, before_job=before_job):
        scheduler.start(paused=True)
        for job_id in scrub_stored_urls(scheduler):
            report(f"job {job_id}: its stored database URL removed (jobs use the served one)")
        crawls = len(scheduler.get_jobs(jobstore="default"))
        add_alerts_job(scheduler, alerts_every())
        heartbeat.start()
        scheduler.resume()
        report(
            f"scheduler: serving {crawls} job(s) and the alerts job as holder {me.holder} "
            f"(pid {me.pid} on {me.host}); Ctrl-C or SIGTERM stops after the job under way, "
            "a second one stops now"
        )
        try:
            _wait_for_stop(stop, report)
        finally:
            scheduler.shutdown(wait=False)  # nothing new starts; the job under way goes on
        status = _finish(engine, lease, stop, report)
        heartbeat.stop()
    report("scheduler: stopped" if status == 0 else f"scheduler: stopped now ({stop.reason})")
    return status


def _wait_for_stop(stop: Stop, report: Report) -> None:
    while not stop.wait(0.5):
        pass
    if stop.now:
        return
    under_way = active_jobs()
    if under_way:
        report(
            f"scheduler: {stop.signals[-1]}: stopping after the job under way "
            f"({', '.join(sorted(under_way))}); send it again to stop now"
        )
    else:
        report(f"scheduler: {stop.signals[-1]}: stopping (no job under way)")


def _finish(engine: Engine, lease: Lease, stop: Stop, report: Report) -> int:
    while not wait_for_jobs(0.1):
        if stop.now:
            break
    if not stop.now:
        return 0
    under_way = active_jobs()
    if not under_way:
        return stop.status
    killed = interrupt_crawls(stop.reason)
    report(
        f"scheduler: stopping now ({stop.reason}): job(s) {', '.join(sorted(under_way))} "
        f"interrupted, {killed} crawl process(es) killed"
    )
    if wait_for_jobs(GRACE):
        return stop.status
    # A job stuck outside its crawl (the database, the mail server): record it, then go.
    # Every write is its own transaction, and an email is marked sent only once accepted.
    try:
        mark_interrupted(engine, f"interrupted: {stop.reason}", job_ids=list(under_way))
    except Exception as exc:
        report(f"scheduler: could not record the interrupted run(s): {failure_line(exc)}")
    lease.release()
    report(f"scheduler: stopped now ({stop.reason})")
    sys.stderr.flush()
    os._exit(stop.status)


def mark_interrupted(engine: Engine, reason: str, *, job_ids: list[str] | None = None) -> int:
    """Mark scheduled runs still `running` (of ``job_ids``, else all) as interrupted.

    Called by a scheduler that holds the lease: no other scheduler is alive to own them.
    """
    query = select(CrawlRun).where(col(CrawlRun.status) == "running")
    query = query.where(col(CrawlRun.job_id).is_not(None))
    if job_ids is not None:
        query = query.where(col(CrawlRun.job_id).in_(job_ids))
    with transaction(engine) as session:
        runs = list(session.exec(query).all())
        for run in runs:
            run.status = "interrupted"
            run.finished_at = utcnow()
            run.errors = [*run.errors, reason]
            session.add(run)
    return len(runs)


class _Heartbeat(threading.Thread):
    """Renews the lease every ``lease.interval`` seconds; a lost lease stops the scheduler now."""

    def __init__(self, lease: Lease, stop: Stop) -> None:
        super().__init__(name="scheduler-heartbeat", daemon=True)
        self.lease = lease
        self.scheduler_stop = stop
        self._done = threading.Event()

    def run(self) -> None:
        failing = False
        while not self._done.wait(self.lease.interval):
            try:
                self.lease.renew()
                failing = False
            except LeaseLost as exc:
                self.scheduler_stop.stop_now(f"lost the lease: {exc}", 1)
                return
            except Exception as exc:  # busy or unreachable: not lost yet, try again
                if not failing:
                    log.warning("scheduler: heartbeat not written: %s", failure_line(exc))
                failing = True

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=10)
