"""The stored schedule, read and written directly: what `schedule add`, `list` and `remove`
do. No scheduler is started for them, so they never run a job nor take a due one as run: a job
missed while no `schedule run` served it stays due (and is listed as overdue) until one does.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from trialwatch.scheduler import JOB_DEFAULTS, JOB_FUNC, JOB_TABLE, failure_line, plain_options

_EVERY = re.compile(r"^\s*(\d{1,12})\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST = timedelta(days=366)  # rarer than yearly is a --cron line, not an interval
_UNREADABLE = {"name": None, "trigger": None, "next_run_time": None, "overdue": False}


def parse_every(text: str) -> timedelta:
    """ "30s", "15m", "6h", "1d" → a timedelta, from 1 s to 366 days."""
    match = _EVERY.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 6h or 1d")
    seconds = int(match[1]) * _SECONDS[match[2]]
    if seconds == 0:
        raise ValueError(f"{text!r}: a duration must be at least 1s")
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{text!r}: a duration must be at most {LONGEST.days}d (or use --cron)")
    return timedelta(seconds=seconds)


@contextmanager
def _job_store(url: str) -> Iterator[tuple[BackgroundScheduler, SQLAlchemyJobStore]]:
    """The job store alone, to read and write directly. No scheduler is started here: one
    that started would, when it stopped, take each due job as run (its next run moved on, the
    missed run lost) and log a traceback for it."""
    from trialwatch.registry.db import open_engine

    # trialwatch's own engine: on SQLite it waits for a running scheduler's writes
    store = SQLAlchemyJobStore(engine=open_engine(url, check_schema=False), tablename=JOB_TABLE)
    owner = BackgroundScheduler(timezone=UTC)  # never started: jobs only need its time zone
    try:
        store.start(owner, "default")
        yield owner, store
    finally:
        store.shutdown()


def add_crawl_job(
    url: str, *, options: Mapping[str, Any], every: str | None = None, cron: str | None = None
) -> dict[str, Any]:
    """Store a crawl job; ``options`` are the crawl command's (slug, nct_ids, query, ...)."""
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of --every and --cron")
    if every is not None:
        try:
            trigger: Any = IntervalTrigger(seconds=parse_every(every).total_seconds(), timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"--every {exc}") from None
    else:
        try:
            trigger = CronTrigger.from_crontab(str(cron), timezone=UTC)
        except Exception as exc:  # APScheduler refuses a line in its own words
            said = str(exc).strip().splitlines() or [type(exc).__name__]
            raise ValueError(f"--cron {cron!r}: {said[0]}") from None
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
            raise ValueError(f"--cron {cron!r}: that date never comes (e.g. 31 February)")
    job_id = uuid.uuid4().hex[:12]
    name = f"crawl {options['slug']} " + " ".join(_describe(options))
    with _job_store(url) as (owner, store):
        job = Job(
            owner,
            id=job_id,
            func=JOB_FUNC,
            trigger=trigger,
            executor="default",
            args=(),
            kwargs={"job_id": job_id, **plain_options(options)},
            name=name.strip(),
            next_run_time=trigger.get_next_fire_time(None, datetime.now(UTC)),
            **JOB_DEFAULTS,
        )
        store.add_job(job)
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
        # missed while no scheduler served it: the next `schedule run` runs it at once
        "overdue": next_run is not None and next_run <= datetime.now(UTC),
        "unreadable": None,
    }


def list_jobs(url: str) -> list[dict[str, Any]]:
    """The stored jobs, soonest first. A row that cannot be read back (damaged, or stored by
    another APScheduler version) is listed as unreadable and kept: APScheduler's own listing
    would delete it."""
    with _job_store(url) as (_, store):
        table = store.jobs_t
        with store.engine.connect() as conn:
            ids = conn.scalars(
                select(table.c.id).order_by(table.c.next_run_time.is_(None), table.c.next_run_time)
            ).all()
        jobs = []
        for job_id in ids:
            try:
                job = store.lookup_job(job_id)
            except Exception as exc:
                jobs.append(dict(_UNREADABLE, id=job_id, unreadable=failure_line(exc)))
                continue
            if job is not None:  # None: removed meanwhile
                jobs.append(_job_dict(job))
        return jobs


def remove_job(url: str, job_id: str) -> bool:
    with _job_store(url) as (_, store):
        try:
            store.remove_job(job_id)
        except JobLookupError:
            return False
        return True
