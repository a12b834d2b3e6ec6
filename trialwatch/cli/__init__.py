"""trialwatch: a versioned, typed history of clinical trial records, and what changed."""

from __future__ import annotations

import sys

import click

from trialwatch.cli.db import OneLineDatabaseErrors
from trialwatch.cli.util import Context


@click.group(cls=OneLineDatabaseErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="URL",
    help="Database URL or SQLite file. Default: $TRIALWATCH_DATABASE_URL, else ./trialwatch.db.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    callback=lambda _ctx, _param, on: _show_log() if on else None,
    help="Show the log on stderr: migrations, the scheduler, each crawl's own output.",
)
@click.version_option(package_name="trialwatch")
@click.pass_context
def cli(ctx: click.Context, db: str | None, verbose: bool) -> None:
    """Keep a versioned history of clinical trial records and say what changed.

    Raw payloads are kept under $TRIALWATCH_DATA_DIR (default: a folder beside the database).
    """
    ctx.obj = Context(db)
    ctx.call_on_close(ctx.obj.close)


def _show_log() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("alembic", "trialwatch"):  # a level set here is one nothing quietens
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("trialwatch.spiders").setLevel(logging.DEBUG)


def main() -> None:
    from trialwatch.config import ConfigError

    try:
        cli(prog_name="trialwatch")
    except ConfigError as exc:  # a bad config file is a usage error: one line, no traceback
        click.echo(f"trialwatch: {exc}", err=True)
        sys.exit(2)


def _register() -> None:
    from trialwatch.cli.alerts import alerts, watch
    from trialwatch.cli.backfill import backfill
    from trialwatch.cli.changes import changes
    from trialwatch.cli.check import check
    from trialwatch.cli.db import db
    from trialwatch.cli.demo import demo
    from trialwatch.cli.export import export
    from trialwatch.cli.ingest import capture, crawl, import_
    from trialwatch.cli.records import discrepancies, history_, show
    from trialwatch.cli.reparse import reparse
    from trialwatch.cli.schedule import runs, schedule
    from trialwatch.cli.serve import serve
    from trialwatch.cli.stats import stats
    from trialwatch.cli.worker import worker

    for command in (import_, crawl, capture, show, history_, changes, discrepancies, demo):
        cli.add_command(command)
    for command in (reparse, backfill, watch, alerts, schedule, runs, check, db):
        cli.add_command(command)
    cli.add_command(worker)
    cli.add_command(stats)
    cli.add_command(serve)
    cli.add_command(export)


_register()


if __name__ == "__main__":
    main()
