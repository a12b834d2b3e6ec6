"""Commands for unattended work: crawls on a schedule, and the runs they leave."""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click
from sqlmodel import col, select

from trialwatch.cli.util import Context, err, print_json, reads_only
from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun


@click.group()
def schedule() -> None:
    """Crawls on a schedule (kept in the database; run them with `schedule run`)."""


@schedule.command(
    "add", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--every", metavar="DURATION", help="30s, 15m, 6h, 1d ... (from 1s to 366d).")
@click.option("--cron", metavar="EXPR", help='A crontab line in UTC, e.g. "0 6 * * 1-5".')
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def schedule_add(
    ctx: click.Context, every: str | None, cron: str | None, command: tuple[str, ...]
) -> None:
    """Schedule a crawl: `schedule add --every 6h crawl ctgov --nct NCT03934567`.

    The job keeps the crawl's options only; whichever database `schedule run` serves is the
    one it writes to (no database URL or password is stored with it).
    """
    from trialwatch.cli.util import crawl_options
    from trialwatch.scheduler.store import add_crawl_job
    from trialwatch.spiders.runner import build_job

    if not command or command[0] != "crawl":
        raise click.UsageError("only a crawl can be scheduled: ... crawl SOURCE [crawl options]")
    crawl = ctx.find_root().command.get_command(ctx, "crawl")  # type: ignore[attr-defined]
    assert crawl is not None
    with crawl.make_context("crawl", list(command[1:]), parent=ctx) as sub:
        p = sub.params
        options = crawl_options(
            p["slug"],
            p["ncts"],
            p["nct_file"],
            p["urls"],
            p["queries"],
            p["updated_since"],
            p["base_url"],
            p["delay"],
            search_url=p["search_url"],
        )
    try:
        build_job(
            options["slug"],
            base_url=options["base_url"],
            nct_ids=options["nct_ids"],
            urls=options["urls"],
            query=options["query"],
            updated_since=date.fromisoformat(since)
            if (since := options["updated_since"])
            else None,
        )  # checked now, not at the first run
        job = add_crawl_job(ctx.obj.url, options=options, every=every, cron=cron)
    except ValueError as exc:  # a usage error, said in one line
        err(f"schedule add: {exc}")
        sys.exit(2)
    click.echo(f"{job['id']}  {job['name']}  ({job['trigger']}; next {job['next_run_time']})")


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def schedule_list(obj: Context, as_json: bool) -> None:
    """List scheduled jobs (none: one line on stderr, and --json prints [])."""
    from trialwatch.scheduler.store import list_jobs

    jobs = list_jobs(obj.url)
    if not jobs:
        err("no scheduled jobs")
    if as_json:
        print_json(jobs)
        return
    for job in jobs:
        if job["unreadable"]:
            click.echo(f"{job['id']}  unreadable, kept as stored: {job['unreadable']}")
            continue
        when = f"next {job['next_run_time']}"
        if job["overdue"]:  # missed while no `schedule run` served it; the next one runs it
            when = f"overdue since {job['next_run_time']}"
        click.echo(f"{job['id']}  {job['name']}  ({job['trigger']}; {when})")


@schedule.command("remove")
@click.argument("job_id")
@click.pass_obj
def schedule_remove(obj: Context, job_id: str) -> None:
    """Remove a scheduled job."""
    from trialwatch.scheduler.store import remove_job

    if not remove_job(obj.url, job_id):
        err(f"job {job_id}: no such job")
        sys.exit(1)
    err(f"job {job_id}: removed")


@schedule.command("run")
@click.option(
    "--lease-timeout",
    type=click.FloatRange(min=0.5, max=3600),
    default=60,
    show_default=True,
    envvar="TRIALWATCH_LEASE_TIMEOUT",
    metavar="SECONDS",
    help="A scheduler silent this long is taken for dead and taken over "
    "(its heartbeat is every few seconds). Env: TRIALWATCH_LEASE_TIMEOUT.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="If another scheduler serves this database, wait and take over when it is gone "
    "(a standby) instead of exiting 1.",
)
@click.pass_context
def schedule_run(ctx: click.Context, lease_timeout: float, wait: bool) -> None:
    """Run the scheduled jobs in the foreground.

    \b
    One scheduler per database, whichever folder or machine it runs from: a second one
    says who serves it (since when) and exits 1, unless --wait.
    Ctrl-C or SIGTERM: the job under way finishes, then the scheduler stops (exit 0).
    A second Ctrl-C or SIGTERM stops now: the crawl is killed and its run recorded as
    interrupted (exit 128 + the signal's number). Runs left running by a scheduler that
    was killed are marked interrupted when the next one starts.
    """
    import logging

    from sqlalchemy.exc import SQLAlchemyError

    from trialwatch.scheduler import failure_line
    from trialwatch.scheduler.runner import SchedulerBusy, run_forever

    obj: Context = ctx.obj
    verbose = bool(ctx.find_root().params.get("verbose"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not verbose:
        for noisy in ("apscheduler", "trialwatch.spiders"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        status = run_forever(obj.url, report=err, lease_timeout=lease_timeout, wait=wait)
    except SchedulerBusy as exc:
        err(str(exc))
        sys.exit(1)
    except SQLAlchemyError as exc:  # unreachable, refused, locked: one line, no traceback
        reason = getattr(exc, "orig", None) or exc
        err(f"scheduler: cannot use the database: {failure_line(reason)}")
        sys.exit(1)
    sys.exit(status)


@click.command()
@click.option("--limit", type=int, default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@reads_only
def runs(obj: Context, limit: int, as_json: bool) -> None:
    """List crawl runs: when, what, counts and errors.

    A run's status: running, ok, partial (some pages set aside), failed or interrupted
    (stopped by Ctrl-C or a signal, or its scheduler died); the last two with the reason.
    With none, one line on stderr says so (and --json prints an empty array).
    """
    with transaction(obj.engine) as session:
        rows = session.exec(select(CrawlRun).order_by(col(CrawlRun.id).desc()).limit(limit)).all()
        data: list[dict[str, Any]] = [
            {
                "id": r.id,
                "source": r.source,
                "job_id": r.job_id,
                "args": r.args,
                "status": r.status,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "fetched": r.fetched,
                "new_versions": r.new_versions,
                "unchanged": r.unchanged,
                "not_found": r.not_found,
                "rejected": r.rejected,
                "errors": r.errors,
            }
            for r in rows
        ]
    if not data and limit:
        err("no crawl runs")
    if as_json:
        print_json(data)
        return
    for d in data:
        click.echo(
            f"{d['id']:>5}  {d['started_at'][:19]}  {d['source']:<8} {d['status']:<11} "
            f"fetched {d['fetched']}, new {d['new_versions']}, unchanged {d['unchanged']}, "
            f"not found {d['not_found']}, rejected {d['rejected']}"
            + (f"  (job {d['job_id']})" if d["job_id"] else "")
        )
        if d["status"] in ("failed", "interrupted") and d["errors"]:  # why, without --json
            click.echo(f"       {d['errors'][-1]}")
