"""trialwatch: a versioned, typed history of clinical trial records, and what changed.

The commands' modules are imported only when a command runs (``trialwatch.cli.lazy``): most
pull in SQLAlchemy, the parsers or Scrapy, which `trialwatch --help` needs none of.
"""

from __future__ import annotations

import sys

import click

from trialwatch.cli.errors import OneLineDatabaseErrors
from trialwatch.cli.lazy import Lazy

# name -> (module under trialwatch.cli, the command in it, the first sentence of its help);
# tests/test_lazy_cli.py checks every entry against the command it names.
COMMANDS: dict[str, Lazy] = {
    "alerts": Lazy(
        "alerts",
        "alerts",
        "The outbox of alerts: send what is pending, list what was sent, retry what is held.",
    ),
    "audit": Lazy(
        "audit",
        "audit",
        "Registry integrity findings, computed afresh from each trial's stored registry "
        "versions: what meta-research looks for in a trial's history.",
    ),
    "backfill": Lazy(
        "backfill",
        "backfill",
        "Fetch each trial's whole registry history (every version the registry keeps) and"
        " store each version in its place in the trial's timeline.",
    ),
    "capture": Lazy(
        "ingest",
        "capture",
        "Save live pages as test fixtures: the body as received (after HTTP "
        "decompression), plus meta.json with its URL, time, status and headers (cookies "
        "left out).",
    ),
    "changes": Lazy(
        "changes",
        "changes",
        "List typed changes between consecutive versions, oldest first: when trialwatch "
        "saw each, the registry's date of the version that brought it, the trial, the "
        "origin and the grade.",
    ),
    "check": Lazy(
        "check",
        "check",
        "Check the database and the raw payload store; print one line per problem.",
    ),
    "crawl": Lazy(
        "ingest",
        "crawl",
        "Fetch records from a source and store each new version.",
    ),
    "db": Lazy(
        "db",
        "db",
        "The database's schema: which revision it is at, and upgrading it.",
    ),
    "demo": Lazy(
        "demo",
        "demo",
        "Offline first look: crawl recorded responses twice from a local server and show "
        "what changed between the two crawls.",
    ),
    "discrepancies": Lazy(
        "records",
        "discrepancies",
        "List open disagreements between a republishing site and the registry (status and"
        " end dates): both values, both sources, and since when.",
    ),
    "export": Lazy(
        "export",
        "export",
        "Export trials (the merged record, one row each), versions (every version, with "
        "its validity on both clocks) or changes (one row per typed change) for analysis.",
    ),
    "history": Lazy(
        "records",
        "history_",
        "List a trial's versions, each origin in the registry's order: registry version "
        "number(s), registry date, payload format, first and last seen, and the change "
        "kinds each version brought with their grades.",
    ),
    "import": Lazy(
        "ingest",
        "import_",
        "Load saved payloads: API v2 studies or search pages, record-history versions, "
        "classic XML, or a site's saved page (give --source SLUG and --url URL, e.g.",
    ),
    "reparse": Lazy(
        "reparse",
        "reparse",
        "Re-read stored raw payloads with the current parsers and recompute each "
        "version's content and the changes between versions, with their grades.",
    ),
    "runs": Lazy(
        "schedule",
        "runs",
        "List crawl runs: when, what, counts and errors.",
    ),
    "schedule": Lazy(
        "schedule",
        "schedule",
        "Crawls on a schedule (kept in the database; run them with `schedule run`).",
    ),
    "serve": Lazy(
        "serve",
        "serve",
        "Serve a read-only web page over the database: search trials, each trial's status"
        " and primary completion timeline, its versions side by side, and the change "
        "feed.",
    ),
    "show": Lazy(
        "records",
        "show",
        "Show a trial's merged record: now, as the registry had it on a day, or as "
        "trialwatch knew it at a moment.",
    ),
    "stats": Lazy(
        "stats",
        "stats",
        "Count the changes: by kind, by grade, by month, status transitions, and how far "
        "primary completion dates moved.",
    ),
    "watch": Lazy(
        "watch",
        "watch",
        "Say which trials, and which kinds of change, should be sent to whom: by email, or to "
        "Slack, Teams, Discord, ntfy, a webhook or any other Apprise URL.",
    ),
    "worker": Lazy(
        "worker",
        "worker",
        "Fetch the crawls queued with `crawl ctgov ...",
    ),
}


@click.group(
    cls=OneLineDatabaseErrors,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    from trialwatch.cli.util import Context  # here: only a command that runs needs it

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


if __name__ == "__main__":
    main()
