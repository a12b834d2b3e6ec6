"""Scheduled crawls: APScheduler 3 with its SQLAlchemy job store in trialwatch's own database.

A job is crawl → ingest → diff → outbox → email, through the same library functions the CLI
uses. Jobs survive restarts (they live in the database), never run twice at once
(max_instances=1, and one `schedule run` per database), and missed runs coalesce into one.
A stored job holds the crawl's options only: the scheduler that runs it passes its own
database (``serving``), so no URL or password is ever written into the job store.
Adding, listing and removing jobs edit the job store alone: ``scheduler.store``.

Beside the stored jobs, every scheduler runs the alerts job (``alerts_job``, kept in memory):
each minute it composes the digests whose time has come and sends what is due, retries
included. The outbox makes it safe to run anywhere at any time: each message goes once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

if TYPE_CHECKING:
    from trialwatch.registry.models import CrawlRun

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
JOB_FUNC = "trialwatch.scheduler:crawl_job"
# coalesce: missed runs become one; misfire_grace_time None: a late run still runs.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
# Keys that jobs stored by older versions carried and that are never used now.
STALE_KWARGS = ("db_url",)
ALERTS_JOB = "alerts"
ALERTS_STORE = "builtin"  # in memory: never listed, stored or removed with the crawl jobs
ALERTS_EVERY = 60.0  # seconds; $TRIALWATCH_ALERTS_EVERY


def make_scheduler(db: str | Engine) -> BackgroundScheduler:
    """A scheduler on the job store in ``db`` (a URL, or an engine to share)."""
    if isinstance(db, str):
        store = SQLAlchemyJobStore(url=db, tablename=JOB_TABLE)
    else:
        store = SQLAlchemyJobStore(engine=db, tablename=JOB_TABLE)
    return BackgroundScheduler(
        jobstores={"default": store, ALERTS_STORE: MemoryJobStore()},
        job_defaults=JOB_DEFAULTS,
        timezone=UTC,
    )


def add_alerts_job(scheduler: BackgroundScheduler, every: float) -> None:
    """The alerts job, first run now, then every ``every`` seconds."""
    scheduler.add_job(
        alerts_job,
        IntervalTrigger(seconds=every, timezone=UTC),
        id=ALERTS_JOB,
        name="alerts: digests whose time has come, and what is due",
        jobstore=ALERTS_STORE,
        next_run_time=datetime.now(UTC),
        replace_existing=True,
    )


def alerts_job() -> None:
    """Compose due digests and send what is due, on the served database. Says nothing when
    there was nothing to do."""
    url, before = _serving_url, _before_job
    if url is None:
        return
    if before is not None:
        try:
            before()
        except Exception as exc:
            log.error("alerts not sent this time: %s", failure_line(exc))
            return
    from trialwatch.ingest.jobs import send_alerts
    from trialwatch.registry.db import open_engine

    lines: list[str] = []
    with _active_lock:
        _active[ALERTS_JOB] = datetime.now(UTC)
    engine = open_engine(url)
    try:
        tally = send_alerts(engine, report=lines.append)
        busy = tally is None or tally.composed or tally.sent or tally.problems or tally.held
        for line in lines if busy else ():
            log.info("alerts: %s", line.removeprefix("alerts: "))
    except Exception as exc:
        log.error("alerts job failed: %s", failure_line(exc))
    finally:
        engine.dispose()
        with _active_lock:
            _active.pop(ALERTS_JOB, None)
            _active_lock.notify_all()


def plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The crawl's options as stored: plain values, and never a database URL."""
    return {k: v for k, v in options.items() if k not in STALE_KWARGS}


def scrub_stored_urls(scheduler: BackgroundScheduler) -> list[str]:
    """Rewrite jobs stored by older versions with a database URL in their arguments (a copy
    of the database would write into the original); returns their ids."""
    scrubbed = []
    for job in scheduler.get_jobs():
        if any(key in job.kwargs for key in STALE_KWARGS):
            scheduler.modify_job(job.id, kwargs=plain_options(job.kwargs))
            scrubbed.append(job.id)
    return scrubbed


# -- running a job ----------------------------------------------------------------------------

_serving_url: str | None = None
_before_job: Callable[[], None] | None = None
_active_lock = threading.Condition()
_active: dict[str, datetime] = {}  # job id -> when its run under way began


@contextmanager
def serving(url: str, *, before_job: Callable[[], None] | None = None) -> Iterator[None]:
    """Stored jobs run against ``url`` while this lasts (the database `schedule run` serves).
    ``before_job`` runs first each time; if it raises, the job is not run this time."""
    global _serving_url, _before_job
    _serving_url, _before_job = url, before_job
    try:
        yield
    finally:
        _serving_url, _before_job = None, None


def active_jobs() -> dict[str, datetime]:
    """The jobs under way in this process, and when each began."""
    with _active_lock:
        return dict(_active)


def wait_for_jobs(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the jobs under way to end; True when none is left."""
    with _active_lock:
        return _active_lock.wait_for(lambda: not _active, timeout=timeout)


def crawl_job(
    *,
    job_id: str,
    slug: str,
    nct_ids: list[str] | None = None,
    urls: list[str] | None = None,
    query: dict[str, str] | None = None,
    updated_since: str | None = None,
    base_url: str | None = None,
    delay: float | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    max_pages: int | None = None,
    db_url: str | None = None,  # stored by older versions; never used (see ``serving``)
) -> None:
    """A stored job, run by APScheduler: the crawl's options only, on the served database."""
    url, before = _serving_url, _before_job
    if url is None:
        raise RuntimeError("a stored job runs only under 'trialwatch schedule run'")
    if before is not None:
        try:
            before()
        except Exception as exc:
            log.error("job %s not run: %s", job_id, failure_line(exc))
            return
    run_crawl_job(
        url,
        job_id=job_id,
        slug=slug,
        nct_ids=nct_ids,
        urls=urls,
        query=query,
        updated_since=updated_since,
        base_url=base_url,
        delay=delay,
        timeout=timeout,
        deadline=deadline,
        max_pages=max_pages,
    )


def run_crawl_job(
    url: str,
    *,
    job_id: str,
    slug: str,
    nct_ids: list[str] | None = None,
    urls: list[str] | None = None,
    query: dict[str, str] | None = None,
    updated_since: str | None = None,
    base_url: str | None = None,
    delay: float | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    max_pages: int | None = None,
) -> None:
    """One scheduled run: crawl and ingest (changes and outbox rows together), then send.

    Nothing is raised to APScheduler, which would only log it: a run that fails for any
    reason is on record as a failed crawl_run with its reason (`trialwatch runs`), and one
    stopped on purpose as an interrupted one.
    """
    from datetime import date

    from trialwatch.registry.models import utcnow

    started = utcnow()
    args = {
        "nct_ids": nct_ids or [],
        "urls": urls or [],
        "query": query or {},
        "updated_since": updated_since,
        "base_url": base_url,
    }
    with _active_lock:
        _active[job_id] = started
    try:
        from trialwatch.ingest.jobs import crawl_and_alert

        crawl_and_alert(
            url,
            slug=slug,
            nct_ids=nct_ids or [],
            urls=urls or [],
            query=query or {},
            updated_since=date.fromisoformat(updated_since) if updated_since else None,
            base_url=base_url,
            delay=delay,
            timeout=timeout,
            deadline=deadline,
            max_pages=max_pages,
            job_id=job_id,
            report=lambda line: log.info("job %s: %s", job_id, line),
        )
    except KeyboardInterrupt as exc:  # stopped now: the crawl's child is already killed
        line = f"interrupted: {str(exc) or 'stopped'}"
        log.warning("job %s %s", job_id, line)
        _record_end(url, job_id, slug, args, started, line, status="interrupted")
    except Exception as exc:
        line = failure_line(exc)
        log.error("job %s failed: %s", job_id, line)
        log.debug("job %s failed", job_id, exc_info=True)
        _record_end(url, job_id, slug, args, started, line, status="failed")
    finally:
        with _active_lock:
            _active.pop(job_id, None)
            _active_lock.notify_all()


def _record_end(
    url: str,
    job_id: str,
    source: str,
    args: Mapping[str, Any],
    started: datetime,
    line: str,
    *,
    status: str,
) -> None:
    try:
        record_failed_run(
            url,
            job_id=job_id,
            source=source,
            args=args,
            started_at=started,
            line=line,
            status=status,
        )
    except Exception as again:  # e.g. the database itself is unreachable
        log.error("job %s: its end could not be recorded: %s", job_id, failure_line(again))


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
    status: str = "failed",
) -> CrawlRun:
    """Make sure the job's run begun at ``started_at`` is on record as ``status`` (failed or
    interrupted), ``line`` its reason; returns that CrawlRun. A row the crawl already wrote
    for the run is kept: one already so marked is left as it is, any other is marked with
    ``line`` added."""
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
                    status=status,
                    errors=[line],
                    job_id=job_id,
                )
            elif run.status != status:
                run.status = status
                run.finished_at = run.finished_at or utcnow()
                run.errors = [*run.errors, line]
            session.add(run)
        return run
    finally:
        engine.dispose()
