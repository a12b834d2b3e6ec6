"""Queue a crawl for workers instead of crawling here: record it (a crawl_run, status
"queued") and put its start requests into Redis, all at once (MULTI/EXEC)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun, utcnow
from trialwatch.workers.queue import QueueUnavailable, RunQueue, unavailable
from trialwatch.workers.runs import QUEUED

# The sources whose crawls can be queued: the registry's API (a search, many ids).
QUEUEABLE = ("ctgov",)


@dataclass(frozen=True)
class Queued:
    run: CrawlRun
    requests: int  # start requests queued; 0 when an earlier run of the job is still queued
    where: str  # the Redis server and prefix, without a password

    def line(self) -> str:
        if not self.requests:
            return f"crawl run {self.run.id} is still queued on {self.where}: not queued again"
        return (
            f"crawl run {self.run.id}: queued, {self.requests} start request(s) on {self.where};"
            " `trialwatch worker` fetches them"
        )


def enqueue_crawl(
    engine: Engine,
    redis_url: str,
    slug: str,
    *,
    nct_ids: Sequence[str] = (),
    query: Mapping[str, str] | None = None,
    updated_since: date | None = None,
    base_url: str | None = None,
    settings: Mapping[str, Any] | None = None,
    job_id: str | None = None,
    prefix: str | None = None,
) -> Queued:
    """Queue one crawl. ValueError for bad arguments (nothing recorded); QueueUnavailable
    when Redis cannot be used (the run, if already recorded, is failed with that line).

    ``job_id`` (a scheduled job): when the job's last queued run is still in Redis, nothing
    is queued again, so a slow crawl never piles up behind its own schedule."""
    from redis.exceptions import RedisError

    from trialwatch.spiders.ctgov import CtgovSpider
    from trialwatch.spiders.redis_queue import queue_start_requests
    from trialwatch.spiders.runner import build_job

    if slug not in QUEUEABLE:
        allowed = ", ".join(QUEUEABLE)
        raise ValueError(f"only {allowed} crawls can be queued for workers, not {slug}")
    spec = json.loads(
        build_job(
            slug,
            base_url=base_url,
            nct_ids=nct_ids,
            query=query,
            updated_since=updated_since,
            settings=settings,
        )
    )
    spider = CtgovSpider(
        nct_ids=spec["nct_ids"],
        query=spec["query"],
        updated_since=spec["updated_since"],
        base_url=spec["base_url"],  # as resolved here: every worker fetches from the same host
    )
    queue = RunQueue.connect(redis_url, prefix)
    try:
        if job_id is not None and (earlier := _still_queued(engine, queue, job_id)):
            return Queued(earlier, 0, queue.where)
    except RedisError as exc:
        raise unavailable(redis_url, exc) from None
    token = uuid.uuid4().hex
    job = {k: spec[k] for k in ("slug", "nct_ids", "query", "updated_since", "base_url")}
    job["settings"] = spec.get("settings") or {}
    args = {
        "nct_ids": list(nct_ids),
        "urls": [],
        "query": dict(query or {}),
        "updated_since": updated_since.isoformat() if updated_since else None,
        "base_url": base_url,
        "queue": {"prefix": queue.prefix, "token": token},
    }
    with transaction(engine) as session:
        run = CrawlRun(
            source=slug, args=args, started_at=utcnow(), status=QUEUED, errors=[], job_id=job_id
        )
        session.add(run)
    assert run.id is not None
    try:
        if queue.holds(run.id):
            raise QueueUnavailable(
                f"redis {queue.where} already holds a run {run.id}: does another database use "
                "this prefix? Give each database its own ($TRIALWATCH_REDIS_PREFIX)"
            )
        pipe = queue.client.pipeline(transaction=True)
        pipe.hset(queue.run_key(run.id), mapping={"job": json.dumps(job), "token": token})
        count = queue_start_requests(
            pipe,
            spider,
            spider.start_requests(),
            queue_key=queue.requests_key(run.id),
            seen_key=queue.seen_key(run.id),
        )
        pipe.zadd(queue.runs_key, {str(run.id): time.time()})
        pipe.execute()
    except (RedisError, QueueUnavailable) as exc:
        failure = exc if isinstance(exc, QueueUnavailable) else unavailable(redis_url, exc)
        _failed(engine, run, str(failure))
        raise failure from None
    return Queued(run, count, queue.where)


def _still_queued(engine: Engine, queue: RunQueue, job_id: str) -> CrawlRun | None:
    with transaction(engine) as session:
        runs = session.exec(
            select(CrawlRun)
            .where(col(CrawlRun.job_id) == job_id, col(CrawlRun.status) == QUEUED)
            .order_by(col(CrawlRun.id).desc())
        ).all()
    return next((r for r in runs if r.id is not None and queue.holds(r.id)), None)


def _failed(engine: Engine, run: CrawlRun, line: str) -> None:
    with transaction(engine) as session:
        run.status = "failed"
        run.finished_at = utcnow()
        run.errors = [line]
        session.add(run)


def queue_crawl(
    engine: Engine, redis_url: str, slug: str, *, report: Callable[[str], None], **options: Any
) -> int:
    """`crawl --redis`: queue the crawl and say so; the exit status (1: Redis unusable).
    ValueError for bad arguments, as from ``enqueue_crawl``."""
    try:
        queued = enqueue_crawl(engine, redis_url, slug, **options)
    except QueueUnavailable as exc:
        report(str(exc))
        return 1
    report(queued.line())
    return 0
