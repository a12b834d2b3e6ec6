"""trialwatch: a versioned, typed history of clinical trial records, and what changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from trialwatch.cli_util import (
    Context,
    check_nct,
    crawl_options,
    err,
    input_files,
    parse_time,
    print_json,
)
from trialwatch.jobs import crawl_settings, tally_line
from trialwatch.kinds import CHANGE_KINDS
from trialwatch.pipeline import Tally
from trialwatch.registry.db import transaction
from trialwatch.registry.merge import source_priority
from trialwatch.registry.models import utcnow
from trialwatch.registry.queries import change_dict, history, list_changes, record_as_of


def _summarise(tally: Tally) -> None:
    err(tally_line(tally))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="URL",
    help="Database URL or SQLite file. Default: $TRIALWATCH_DATABASE_URL, else ./trialwatch.db.",
)
@click.version_option(package_name="trialwatch")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Keep a versioned history of clinical trial records and say what changed.

    Raw payloads are kept under $TRIALWATCH_DATA_DIR (default: a folder beside the database).
    """
    ctx.obj = Context(db)


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--observed-at", metavar="ISO8601", help="When these payloads were fetched (default: now)."
)
@click.option("--source", metavar="SLUG", help="Source slug to file the records under.")
@click.option("--url", metavar="URL", help="The URL the payload came from.")
@click.pass_obj
def import_(
    obj: Context,
    paths: tuple[Path, ...],
    observed_at: str | None,
    source: str | None,
    url: str | None,
) -> None:
    """Load saved payloads: API v2 studies or search pages, record-history versions,
    classic XML, or a site's saved page (give --source SLUG and --url URL, e.g.
    --source veeva). A folder means every file below it. Exit status 1 if any input was
    rejected."""
    moment = parse_time(observed_at) if observed_at else utcnow()
    pipeline = obj.pipeline()
    tally = Tally()
    for path in input_files(paths):
        try:
            body = path.read_bytes()
        except OSError as exc:
            tally.reject(f"{path}: cannot read: {exc.strerror}")
            err(tally.problems[-1])
            continue
        pipeline.ingest_body(
            body, name=str(path), observed_at=moment, tally=tally, url=url, source=source
        )
    _summarise(tally)
    sys.exit(1 if tally.rejected else 0)


def _sources() -> list[str]:
    from trialwatch.spiders.runner import SPIDERS

    return sorted(SPIDERS)


@cli.command()
@click.argument("slug", type=click.Choice(_sources()))
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="An NCT id (repeatable).")
@click.option(
    "--nct-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of NCT ids, one per line.",
)
@click.option("--url", "urls", multiple=True, metavar="URL", help="A page to fetch (sites).")
@click.option(
    "--query",
    "queries",
    multiple=True,
    metavar="PARAM=VALUE",
    help="ctgov search: query.* / filter.* API parameters (repeatable), or a phrase.",
)
@click.option("--updated-since", metavar="DATE", help="ctgov: only records updated since DATE.")
@click.option(
    "--base-url",
    metavar="URL",
    help="A mirror of the source (default: $TRIALWATCH_<SLUG>_URL, else the real site).",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    help="Seconds between requests to one site (default: 1 for ctgov, 3-5 for the sites); "
    "0 also turns AutoThrottle off.",
)
@click.pass_obj
def crawl(
    obj: Context,
    slug: str,
    ncts: tuple[str, ...],
    nct_file: Path | None,
    urls: tuple[str, ...],
    queries: tuple[str, ...],
    updated_since: str | None,
    base_url: str | None,
    delay: float | None,
) -> None:
    """Fetch records from a source and store each new version.

    \b
    trialwatch crawl ctgov --nct NCT05828225
    trialwatch crawl ctgov --query query.cond=lymphoma --query filter.overallStatus=RECRUITING
    trialwatch crawl ctgov --updated-since 2026-11-01
    trialwatch crawl veeva --url https://ctv.veeva.com/study/...
    """
    options = crawl_options(slug, ncts, nct_file, urls, queries, updated_since, base_url, delay)
    err(f"crawling {slug} ...")
    try:
        run, tally = obj.pipeline().crawl(
            slug,
            base_url=base_url,
            nct_ids=options["nct_ids"],
            urls=options["urls"],
            query=options["query"],
            updated_since=parse_time(updated_since).date() if updated_since else None,
            settings=crawl_settings(delay),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    err(f"crawl run {run.id}: {run.status}")
    _summarise(tally)
    if tally.rejected:
        err(f"{tally.rejected} page(s) or record(s) set aside (not understood or refused)")
    sys.exit(1 if tally.rejected else 0)


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("captured"),
    show_default=True,
    help="Where to write one fixture folder per page.",
)
def capture(urls: tuple[str, ...], out: Path) -> None:
    """Save live pages as test fixtures: the body as received (after HTTP decompression),
    plus meta.json with its URL, time, status and headers (cookies left out)."""
    from trialwatch.capture import capture as capture_pages

    try:
        folders = capture_pages(list(urls), out_dir=out)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for folder in folders:
        click.echo(str(folder))
    missing = len(urls) - len(folders)
    if missing:
        err(f"{missing} page(s) not saved (no response; see the lines above)")
    sys.exit(1 if missing else 0)


@cli.command()
@click.argument("nct", callback=lambda _c, _p, v: check_nct(v))
@click.option(
    "--as-of", metavar="ISO8601", help="The record as it stood then (a date means its end)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON with DESIGN.md field names.")
@click.pass_obj
def show(obj: Context, nct: str, as_of: str | None, as_json: bool) -> None:
    """Show a trial's merged record, now or as it stood at a time."""
    moment = parse_time(as_of, end_of_day=True) if as_of else None
    with transaction(obj.engine) as session:
        record = record_as_of(session, nct, moment, source_priority())
    if record is None:
        when = f" as of {moment.isoformat()}" if moment else ""
        err(f"{nct}: not held{when}")
        sys.exit(1)
    if as_json:
        print_json(record)
        return
    from trialwatch.show_text import render_record

    click.echo(render_record(record))


@cli.command("history")
@click.argument("nct", callback=lambda _c, _p, v: check_nct(v))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def history_(obj: Context, nct: str, as_json: bool) -> None:
    """List a trial's stored versions and the change kinds each brought."""
    with transaction(obj.engine) as session:
        rows = history(session, nct)
    if rows is None:
        err(f"{nct}: not held")
        sys.exit(1)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        kinds = ", ".join(row["changes"]) or ("first version" if row is rows[0] else "-")
        click.echo(f"{row['first_seen_at']}  {row['last_seen_at']}  {row['source']:<14} {kinds}")


@cli.command()
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(CHANGE_KINDS),
    help="Only this kind (repeatable).",
)
@click.option("--since", metavar="ISO8601", help="Only changes observed at or after this time.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def changes(
    obj: Context, ncts: tuple[str, ...], kinds: tuple[str, ...], since: str | None, as_json: bool
) -> None:
    """List typed changes between consecutive versions, oldest first."""
    from trialwatch.diffing.changes import Change
    from trialwatch.diffing.render import details, summary

    ids = [check_nct(n) for n in ncts]
    moment = parse_time(since) if since else None
    with transaction(obj.engine) as session:
        rows = list_changes(session, nct_ids=ids, kinds=kinds, since=moment)
        data = [change_dict(c) for c in rows]
    if as_json:
        print_json(data)
        return
    for item in data:
        found = Change(item["kind"], item["before"], item["after"], item["detail"])
        click.echo(
            f"{item['observed_at'][:19]}  {item['nct_id']}  {item['source']:<8} {summary(found)}"
        )
        for line in details(found):
            click.echo(f"{'':>35}{line}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def discrepancies(obj: Context, as_json: bool) -> None:
    """List open disagreements between a republishing site and the registry (status and
    end dates): both values, both sources, and since when."""
    from trialwatch.registry.discrepancies import open_discrepancies

    with transaction(obj.engine) as session:
        data = [
            {
                "nct_id": d.nct_id,
                "field": d.field,
                "registry_source": d.registry_source,
                "registry_value": d.registry_value,
                "site_source": d.site_source,
                "site_value": d.site_value,
                "since": d.opened_at.isoformat(),
            }
            for d in open_discrepancies(session)
        ]
    if as_json:
        print_json(data)
        return

    def shown(value: Any) -> str:
        return value["date"] if isinstance(value, dict) else str(value)

    for d in data:
        click.echo(
            f"{d['nct_id']}  {d['field']}: {d['registry_source']} says "
            f"{shown(d['registry_value'])}, {d['site_source']} says {shown(d['site_value'])} "
            f"(since {d['since'][:10]})"
        )


@cli.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database and data in this folder.",
)
def demo(keep: Path | None) -> None:
    """Offline first look: crawl recorded responses twice from a local server and show
    what changed between the two crawls."""
    from trialwatch.demo import run_demo

    sys.exit(run_demo(keep))


def main() -> None:
    from trialwatch.config import ConfigError

    try:
        cli(prog_name="trialwatch")
    except ConfigError as exc:  # a bad config file is a usage error: one line, no traceback
        click.echo(f"trialwatch: {exc}", err=True)
        sys.exit(2)


def _register() -> None:
    from trialwatch.cli_alerts import alerts, runs, schedule, watch

    for command in (watch, alerts, schedule, runs):
        cli.add_command(command)


_register()


if __name__ == "__main__":
    main()
