"""`trialwatch worker`: fetch crawls queued in Redis into the database."""

from __future__ import annotations

import sys

import click

from trialwatch.cli.util import Context, err
from trialwatch.registry.db import database_url


@click.command()
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    envvar="TRIALWATCH_REDIS_URL",
    help="The Redis server crawls are queued on, e.g. redis://queue-host:6379/0 "
    "(default: $TRIALWATCH_REDIS_URL). Keys start with $TRIALWATCH_REDIS_PREFIX "
    "(default: trialwatch).",
)
@click.option(
    "--db",
    metavar="URL",
    help="Database URL or SQLite file to write to (default: trialwatch's own --db, "
    "$TRIALWATCH_DATABASE_URL, else ./trialwatch.db): the one the crawls were queued from.",
)
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Exit (status 0) after this many seconds without work. Default: wait for work.",
)
@click.pass_obj
def worker(obj: Context, redis_url: str | None, db: str | None, idle_exit: float | None) -> None:
    """Fetch the crawls queued with `crawl ctgov ... --redis URL` into the database.

    \b
    trialwatch worker --redis redis://queue-host:6379/0 --db postgresql+psycopg://...

    Start as many as you like, on one machine or several: each takes one request at a time
    from the run's queue in Redis, ingests what it fetches, and queues what follows (the next
    search page, a redirect, a retry) for whichever worker is free; nothing is fetched twice
    in one run. Each worker's part is a crawl run of its own (`trialwatch runs`), added to the
    queued run, which ends ok, partial or failed when its queue is empty and no worker is on
    it. Ctrl-C or SIGTERM: the request under way finishes, then the worker stops (exit 0);
    a second one stops it now (exit 128 + the signal's number).
    """
    if not redis_url:
        raise click.UsageError("give --redis URL (or set TRIALWATCH_REDIS_URL)")
    try:
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        from trialwatch.workers.queue import QueueUnavailable, RunQueue, unavailable
        from trialwatch.workers.worker import Worker, one_line
    except ImportError as exc:
        err(f"worker: needs the redis extra: pip install 'trialwatch[redis]' ({exc})")
        sys.exit(1)
    try:
        queue = RunQueue.connect(redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except QueueUnavailable as exc:
        err(f"worker: {exc}")
        sys.exit(1)
    try:
        status = Worker(
            queue, database_url(db) if db else obj.url, idle_exit=idle_exit, report=err
        ).serve()
    except RedisError as exc:  # Redis went away while working
        err(f"worker: {unavailable(redis_url, exc)}")
        sys.exit(1)
    except SQLAlchemyError as exc:
        err(f"worker: the database: {one_line(getattr(exc, 'orig', None) or exc)}")
        sys.exit(1)
    sys.exit(status)
