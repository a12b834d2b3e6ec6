"""`trialwatch check`: is the database consistent with itself and with the payload store?"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from trialwatch.cli.util import Context, err, print_json, reads_only
from trialwatch.registry.check import CheckReport, check_database
from trialwatch.registry.db import transaction

_COUNTED = ("trials", "versions", "changes", "deliveries", "messages", "snapshots")


def _summary(report: CheckReport, strict: bool) -> str:
    counts = ", ".join(f"{report.counts.get(name, 0)} {name}" for name in _COUNTED)
    errors, warnings = len(report.errors), len(report.warnings)
    if errors or (strict and warnings):
        return f"check: {errors} error(s), {warnings} warning(s) ({counts})"
    if warnings:
        return f"check: ok, {warnings} warning(s) ({counts})"
    return f"check: ok ({counts})"


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and problems as JSON.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also re-hash every version's content and recompute the changes between each pair "
    "of consecutive versions, and report where they differ from what is stored (slower).",
)
@click.option("--strict", is_flag=True, help="Warnings fail the check too (exit status 1).")
@click.pass_obj
@reads_only
def check(obj: Context, as_json: bool, deep: bool, strict: bool) -> None:
    """Check the database and the raw payload store; print one line per problem.

    \b
    Each line on stdout: severity, code, where, and what is wrong, e.g.
      error snapshot-missing snapshot 3f1c...: no file ...; held by version 12 (NCT...)
    The summary goes to stderr: "check: ok (N trials, M versions, ...)".

    \b
    What is checked (codes in brackets):
      raw payloads: each version's is in the store and its bytes hash to its name
        [snapshot-none, snapshot-missing, snapshot-unreadable, snapshot-mismatch]
      timelines: no two consecutive versions with one content, no content twice in one
        slot, an order that rests on the registry's clock
        [version-repeat, version-duplicate, version-misfiled, order-tie*, order-clock*]
      changes: each links a version to the one before it in its timeline, none between
        versions of the same content, none twice
        [change-not-consecutive, change-identical, change-duplicate, change-orphan,
        change-misfiled, change-date]; with --deep also
        [deep-hash, deep-missing, deep-extra, deep-described*, deep-unreadable]
      findings (--deep): the stored integrity findings are those the versions show
        [deep-finding-missing, deep-finding-extra]
      outbox: deliveries point to stored changes or findings, watches and messages; sent messages
        say when; no message claimed for sending for over an hour
        [delivery-orphan, delivery-message-watch, message-orphan, message-sent-no-time,
        message-claim-stale*]
      duplicates: trials by NCT id, identical active watches
        [trial-duplicate, trial-empty, watch-duplicate*]
      crawl runs still "running" a day after they began, or whose scheduler is gone
        [run-interrupted*]
    Codes marked * are warnings: listed, but the check passes unless --strict.

    Exit status 0 when there is no error, 1 when there is (or the database cannot be read).
    Nothing is written, apart from the schema upgrade every command makes on opening.
    """
    store = obj.store()
    try:
        with transaction(obj.engine) as session:
            report = check_database(session, store, deep=deep)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err(f"check: cannot read the database: {first}")
        sys.exit(1)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    if as_json:
        print_json(
            {
                "ok": not failed,
                "counts": report.counts,
                "problems": [p.as_dict() for p in report.problems],
            }
        )
    else:
        for problem in report.problems:
            click.echo(problem.line())
    err(_summary(report, strict))
    sys.exit(1 if failed else 0)
