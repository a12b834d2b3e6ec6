"""Scheduled crawls: APScheduler 3 with its SQLAlchemy job store in trialwatch's own database.

A job is crawl → ingest → diff → outbox → email, through the same library functions the CLI
uses. Jobs survive restarts (they live in the database), never run twice at once
(max_instances=1, and one `schedule run` per database), and missed runs coalesce into one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from trialwatch.registry.models import CrawlRun

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
JOB_FUNC = "trialwatch.scheduler:crawl_job"
# coalesce: missed runs become one; misfire_grace_time None: a late run still runs.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

Report = Callable[[str], None]


class SchedulerBusy(RuntimeError):
    """Another `schedule run` already serves this database."""


def parse_every(text: str) -> timedelta:
    """ "30s", "15m", "6h", "1d" → a timedelta."""
    match = _EVERY.match(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 6h or 1d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def make_scheduler(url: str) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(url=url, tablename=JOB_TABLE)
    return BackgroundScheduler(
        jobstores={"default": store}, job_defaults=JOB_DEFAULTS, timezone=UTC
    )


@contextmanager
def _paused(url: str) -> Iterator[BackgroundScheduler]:
    """A scheduler that reads and writes the job store but runs nothing."""
    scheduler = make_scheduler(url)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def add_crawl_job(
    url: str, *, options: Mapping[str, Any], every: str | None = None, cron: str | None = None
) -> dict[str, Any]:
    """Store a crawl job; ``options`` are the crawl command's (slug, nct_ids, query, ...)."""
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of --every and --cron")
    if every is not None:
        trigger: Any = IntervalTrigger(seconds=parse_every(every).total_seconds(), timezone=UTC)
    else:
        try:
            trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"--cron {cron!r}: {exc}") from None
    job_id = uuid.uuid4().hex[:12]
    name = f"crawl {options['slug']} " + " ".join(_describe(options))
    with _paused(url) as scheduler:
        job = scheduler.add_job(
            JOB_FUNC,
            trigger,
            kwargs={"db_url": url, "job_id": job_id, **options},
            id=job_id,
            name=name.strip(),
            replace_existing=False,
        )
        return _job_dict(job)


def _describe(options: Mapping[str, Any]) -> list[str]:
    words = [f"--nct {n}" for n in options.get("nct_ids") or []]
    words += [f"--url {u}" for u in options.get("urls") or []]
    words += [f"--query {k}={v}" for k, v in sorted((options.get("query") or {}).items())]
    if options.get("updated_since"):
        words.append(f"--updated-since {options['updated_since']}")
    return words


def _job_dict(job: Any) -> dict[str, Any]:
    next_run = getattr(job, "next_run_time", None)
    return {
        "id": job.id,
        "name": job.name,
        "trigger": str(job.trigger),
        "next_run_time": next_run.isoformat() if next_run else None,
    }


def list_jobs(url: str) -> list[dict[str, Any]]:
    with _paused(url) as scheduler:
        return [_job_dict(job) for job in scheduler.get_jobs()]


def remove_job(url: str, job_id: str) -> bool:
    with _paused(url) as scheduler:
        if scheduler.get_job(job_id) is None:
            return False
        scheduler.remove_job(job_id)
        return True


def crawl_job(
    *,
    db_url: str,
    job_id: str,
    slug: str,
    nct_ids: list[str] | None = None,
    urls: list[str] | None = None,
    query: dict[str, str] | None = None,
    updated_since: str | None = None,
    base_url: str | None = None,
    delay: float | None = None,
) -> None:
    """One scheduled run: crawl and ingest (changes and outbox rows together), then send.

    Nothing is raised to APScheduler, which would only log it: a run that fails for any
    reason is on record as a failed crawl_run with its reason (`trialwatch runs`).
    """
    from datetime import date

    from trialwatch.registry.models import utcnow

    started = utcnow()
    try:
        from trialwatch.jobs import crawl_and_alert

        crawl_and_alert(
            db_url,
            slug=slug,
            nct_ids=nct_ids or [],
            urls=urls or [],
            query=query or {},
            updated_since=date.fromisoformat(updated_since) if updated_since else None,
            base_url=base_url,
            delay=delay,
            job_id=job_id,
            report=lambda line: log.info("job %s: %s", job_id, line),
        )
    except Exception as exc:
        line = failure_line(exc)
        log.error("job %s failed: %s", job_id, line)
        log.debug("job %s failed", job_id, exc_info=True)
        args = {
            "nct_ids": nct_ids or [],
            "urls": urls or [],
            "query": query or {},
            "updated_since": updated_since,
            "base_url": base_url,
        }
        try:
            record_failed_run(
                db_url, job_id=job_id, source=slug, args=args, started_at=started, line=line
            )
        except Exception as again:  # e.g. the database itself is unreachable
            log.error("job %s: its failure could not be recorded: %s", job_id, failure_line(again))


def failure_line(exc: BaseException) -> str:
    """An exception as one line: "ExceptionType: the first line of its message"."""
    lines = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return line[:1000]


def record_failed_run(
    url: str,
    *,
    job_id: str,
    source: str,
    args: Mapping[str, Any],
    started_at: datetime,
    line: str,
) -> CrawlRun:
    """Make sure the job's run begun at ``started_at`` is on record as failed, ``line`` its
    reason; returns that CrawlRun. A row the crawl already wrote for the run is kept: one
    marked failed is left as it is, any other is marked failed with ``line`` added."""
    from sqlmodel import col, select

    from trialwatch.registry.db import open_engine, transaction
    from trialwatch.registry.models import CrawlRun, utcnow

    engine = open_engine(url)
    try:
        with transaction(engine) as session:
            run = session.exec(
                select(CrawlRun)
                .where(col(CrawlRun.job_id) == job_id, col(CrawlRun.started_at) >= started_at)
                .order_by(col(CrawlRun.id).desc())
            ).first()
            if run is None:
                # Stored job arguments are plain values, but a damaged job must still be told.
                plain = json.loads(json.dumps(dict(args), default=str))
                run = CrawlRun(
                    source=source[:64],
                    args=plain,
                    started_at=started_at,
                    finished_at=utcnow(),
                    status="failed",
                    errors=[line],
                    job_id=job_id,
                )
            elif run.status != "failed":
                run.status = "failed"
                run.finished_at = run.finished_at or utcnow()
                run.errors = [*run.errors, line]
            session.add(run)
        return run
    finally:
        engine.dispose()


@contextmanager
def _single_runner(lock_path: Path) -> Iterator[None]:
    """One `schedule run` per database: a second one would run every job twice."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerBusy(
                f"another 'trialwatch schedule run' holds {lock_path}; one per database"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_forever(
    url: str, *, lock_path: Path, report: Report, stop: threading.Event | None = None
) -> None:
    """Run the stored jobs until SIGINT/SIGTERM (or ``stop``); the job under way finishes
    first, and every write it makes is its own transaction, so nothing is left half-done."""
    stop = stop or threading.Event()
    with _single_runner(lock_path):
        scheduler = make_scheduler(url)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda _s, _f: stop.set())
        scheduler.start()
        jobs = scheduler.get_jobs()
        report(f"scheduler: running {len(jobs)} job(s); stop with Ctrl-C or SIGTERM")
        try:
            stop.wait()
            report("scheduler: stopping after the job under way, if any")
        finally:
            scheduler.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        report("scheduler: stopped")
