"""`trialwatch changes`: typed changes by trial, kind, time, grade, origin, delay, phase and
sponsor."""

from __future__ import annotations

from typing import Any

import click

from trialwatch.cli.filters import (
    OneLineUsage,
    asked,
    change_filters,
    filter_options,
    nothing_matches,
)
from trialwatch.cli.util import Context, err, print_json, reads_only
from trialwatch.registry.db import transaction
from trialwatch.registry.queries import change_dict, count_changes, list_changes


@click.command(cls=OneLineUsage)
@filter_options
@click.option(
    "--limit", type=click.IntRange(min=0), metavar="N", help="At most N changes (the first N)."
)
@click.option(
    "--offset", type=click.IntRange(min=0), default=0, metavar="N", help="Skip the first N."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@reads_only
def changes(
    obj: Context,
    limit: int | None,
    offset: int,
    as_json: bool,
    **options: Any,
) -> None:
    """List typed changes between consecutive versions, oldest first: when trialwatch saw
    each, the registry's date of the version that brought it, the trial, the origin and the
    grade. Every filter given must hold.

    \b
    trialwatch changes --kind primary_completion_date --min-delay-days 180 --phase 3
    trialwatch changes --clock registry --since 2024-01-01 --until 2024-12-31 --json
    trialwatch changes --sponsor 'national cancer institute' --kind status --limit 20

    A grade is how much a change matters: editorial (meaning kept), minor (detail added or
    clarified) or major (anything added, removed or with a number, date or status changed).

    Order: by observed time, then registry date, then id; with --clock registry by registry
    date, then observed time, then id. --limit/--offset page through that order (the total
    goes to stderr when --limit cuts it short).

    When nothing matches, stdout is empty (with --json, an empty array) and one line on stderr
    says so, naming the filters; the exit status is 0.

    JSON rows: id, nct_id, kind, grade, source, from_version_id, to_version_id,
    registry_date, observed_at, before, after, detail. from_version_id and to_version_id are
    trial_version ids: `trialwatch history NCT --json` gives them as version_id.
    """
    from trialwatch.diffing.changes import Change
    from trialwatch.diffing.render import details, summary

    given = asked(options)
    filters = change_filters(options)
    with transaction(obj.engine) as session:
        rows = list_changes(session, **filters, limit=limit, offset=offset)
        data = [change_dict(c) for c in rows]
        cut = limit is not None and len(rows) == limit
        total = count_changes(session, **filters) if cut or (offset and not rows) else None
    if cut and total is not None and total > offset + len(rows):
        err(f"{len(rows)} of {total} change(s) shown, from number {offset + 1}")
    elif not rows and total:  # some match, all before --offset
        err(f"no changes from number {offset + 1}: {total} match" + (given and f" ({given})"))
    elif not rows:
        err(nothing_matches("changes", given))
    if as_json:
        print_json(data)
        return
    for item in data:
        found = Change(
            item["kind"], item["before"], item["after"], item["detail"], grade=item["grade"]
        )
        registry = item["registry_date"] or "-"
        grade = f"[{item['grade']}]"
        click.echo(
            f"{item['observed_at'][:19]}  {registry:<10}  {item['nct_id']}  {item['source']:<8} "
            f"{grade:<11} {summary(found)}"
        )
        for line in details(found):
            click.echo(f"{'':>47}{line}")
