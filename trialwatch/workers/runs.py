"""A queued run in the database: its crawl_run row (status "queued" until its end), each
worker's part added to it, and its end.

Every part is a crawl of its own (``trialwatch.ingest.crawling.run_crawl``, a crawl_run row marked
``part_of`` the queued run in its args); its counts and errors are added to the queued run's
as soon as the part ends, so the queued run's counts are the sum of its parts'. A part that
fetched nothing (the worker came as the last request was taken) leaves no row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, update
from sqlmodel import col

from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun, utcnow

QUEUED = "queued"
COUNTS = ("fetched", "new_versions", "unchanged", "not_found", "rejected")


def check_run(engine: Engine, run_id: int, token: str) -> str | None:
    """None when this database holds queued run ``run_id`` with ``token``; else why not."""
    with transaction(engine) as session:
        run = session.get(CrawlRun, run_id)
    if run is None:
        return f"run {run_id} is not in this database"
    queue = (run.args or {}).get("queue")
    if not isinstance(queue, dict) or queue.get("token") != token:
        return f"crawl_run {run_id} of this database is not the queued run {run_id}"
    if run.status != QUEUED:
        return f"run {run_id} is {run.status} here, not queued"
    return None


@contextmanager
def new_runs() -> Iterator[list[int]]:
    """The ids of the crawl_run rows inserted in this process meanwhile: a part's row, which
    ``run_crawl`` writes itself (and keeps when it raises)."""
    ids: list[int] = []

    def inserted(_mapper: Any, _conn: Any, target: CrawlRun) -> None:
        if target.id is not None:
            ids.append(target.id)

    event.listen(CrawlRun, "after_insert", inserted)
    try:
        yield ids
    finally:
        event.remove(CrawlRun, "after_insert", inserted)


def add_part(engine: Engine, run_id: int, part_id: int, worker: str) -> CrawlRun | None:
    """Add a part's counts and errors to queued run ``run_id`` and mark the part as one;
    returns the part (None when it did nothing: its row is deleted)."""
    with transaction(engine) as session:
        part = session.get(CrawlRun, part_id)
    if part is None:
        return None
    idle = part.status == "ok" and not part.errors and not any(getattr(part, c) for c in COUNTS)
    with transaction(engine) as session:
        # The write first: it takes the row's lock (PostgreSQL) or the database's (SQLite),
        # so the errors read below are the latest and two workers never lose a count.
        session.execute(
            update(CrawlRun)
            .where(col(CrawlRun.id) == run_id)
            .values({c: getattr(CrawlRun, c) + getattr(part, c) for c in COUNTS})
        )
        run = session.get(CrawlRun, run_id)
        if run is not None and part.errors:
            run.errors = [*run.errors, *(f"worker {worker}: {e}" for e in part.errors)]
            session.add(run)
        row = session.get(CrawlRun, part_id)
        if row is not None and idle:
            session.delete(row)
        elif row is not None:
            row.args = {**row.args, "part_of": run_id, "worker": worker}
            session.add(row)
    return None if idle else part


def add_error(engine: Engine, run_id: int, line: str) -> None:
    """A line on the queued run's errors (a part that could not even start)."""
    with transaction(engine) as session:
        session.execute(
            update(CrawlRun).where(col(CrawlRun.id) == run_id).values(fetched=CrawlRun.fetched)
        )
        run = session.get(CrawlRun, run_id)
        if run is not None:
            run.errors = [*run.errors, line]
            session.add(run)


def finish_run(engine: Engine, run_id: int, info: Mapping[str, str]) -> CrawlRun | None:
    """Record the end of queued run ``run_id`` from what Redis kept about it: failed when a
    part failed or a worker went silent on it (what it held may not have been fetched),
    interrupted when a worker was stopped in the middle, partial when pages were set aside,
    else ok. None if this database does not hold it queued (with the token Redis kept)."""
    lost = sorted(k.removeprefix("lost:") for k in info if k.startswith("lost:"))
    failed = int(info.get("failed") or 0)
    interrupted = int(info.get("interrupted") or 0)
    with transaction(engine) as session:
        done = session.execute(
            update(CrawlRun)
            .where(col(CrawlRun.id) == run_id, col(CrawlRun.status) == QUEUED)
            .values(finished_at=utcnow())
        )
        if not getattr(done, "rowcount", 0):
            return None
        run = session.get(CrawlRun, run_id)
        queue = (run.args or {}).get("queue") if run is not None else None
        if run is None or not isinstance(queue, dict) or queue.get("token") != info.get("token"):
            session.rollback()  # another database's run of the same number: not this one
            return None
        errors = list(run.errors)
        errors += [
            f"worker {w} went silent while on this run: the request it held may not have "
            "been fetched"
            for w in lost
        ]
        if failed or lost:
            run.status = "failed"
        elif interrupted:
            run.status = "interrupted"
            errors.append(f"interrupted: {interrupted} worker(s) stopped in the middle of it")
        else:
            run.status = "partial" if run.rejected else "ok"
        run.errors = errors
        session.add(run)
    return run
