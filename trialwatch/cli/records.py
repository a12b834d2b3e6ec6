"""Commands that read the history: show, history, discrepancies."""

from __future__ import annotations

import sys
from typing import Any

import click

from trialwatch.cli.util import Context, check_nct, err, parse_time, print_json, reads_only
from trialwatch.registry.db import transaction
from trialwatch.registry.merge import source_priority
from trialwatch.registry.queries import history, record_as_of


@click.command()
@click.argument("nct", callback=lambda _c, _p, v: check_nct(v))
@click.option(
    "--as-of",
    metavar="DATE",
    help="What the registry said that day (by the registry's own dates; sites by first seen).",
)
@click.option(
    "--known-at",
    metavar="ISO8601",
    help="What trialwatch held at that moment (by when versions were first seen; a date "
    "means its end). Nothing learnt later is shown.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON with DESIGN.md field names.")
@click.pass_obj
@reads_only
def show(obj: Context, nct: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Show a trial's merged record: now, as the registry had it on a day, or as trialwatch
    knew it at a moment.

    \b
    trialwatch show NCT04280705
    trialwatch show NCT04280705 --as-of 2020-03-15 --json
    trialwatch show NCT04280705 --known-at 2026-11-01T12:00:00Z
    """
    day = parse_time(as_of).date() if as_of else None
    moment = parse_time(known_at, end_of_day=True) if known_at else None
    with transaction(obj.engine) as session:
        record = record_as_of(session, nct, day, source_priority(), known_at=moment)
    if record is None:
        when = f" as of {day.isoformat()}" if day else ""
        when += f" as known at {moment.isoformat()}" if moment else ""
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
@reads_only
def history_(obj: Context, nct: str, as_json: bool) -> None:
    """List a trial's versions, each origin in the registry's order: registry version
    number(s), registry date, payload format, first and last seen, and the change kinds each
    version brought with their grades.

    A grade is how much a change matters: editorial (meaning kept), minor (detail added or
    clarified) or major (anything added, removed or with a number, date or status changed).
    """
    with transaction(obj.engine) as session:
        rows = history(session, nct)
    if rows is None:
        err(f"{nct}: not held")
        sys.exit(1)
    if as_json:
        print_json(rows)
        return
    click.echo(
        f"{'origin':<10} {'version':<8} {'registry':<10}  {'format':<14} "
        f"{'first seen':<19}  {'last seen':<19}  changes"
    )
    previous = None
    for row in rows:
        numbers = row["registry_versions"] or (
            [row["registry_version"]] if row["registry_version"] else []
        )
        number = ",".join(str(n) for n in numbers) or "-"
        first = row["source"] != previous
        previous = row["source"]
        graded = [f"{k} [{g}]" for k, g in zip(row["changes"], row["grades"], strict=True)]
        kinds = ", ".join(graded) or ("first version" if first else "no typed change")
        click.echo(
            f"{row['source']:<10} {number:<8} {row['registry_date'] or '-':<10}  "
            f"{row['format']:<14} {row['first_seen_at'][:19]}  {row['last_seen_at'][:19]}  "
            f"{kinds}"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@reads_only
def discrepancies(obj: Context, as_json: bool) -> None:
    """List open disagreements between a republishing site and the registry (status and
    end dates): both values, both sources, and since when. With none open, one line on
    stderr says so (and --json prints an empty array)."""
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
    if not data:
        err("no open discrepancies")
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
