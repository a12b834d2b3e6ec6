"""Commands that read the history: show, history, changes, discrepancies."""

from __future__ import annotations

import sys
from typing import Any

import click

from trialwatch.cli.util import Context, check_nct, err, parse_time, print_json
from trialwatch.kinds import CHANGE_KINDS
from trialwatch.registry.db import transaction
from trialwatch.registry.merge import source_priority
from trialwatch.registry.queries import change_dict, history, list_changes, record_as_of


@click.command()
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
    from trialwatch.cli.show_text import render_record

    click.echo(render_record(record))


@click.command("history")
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


@click.command()
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


@click.command()
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
