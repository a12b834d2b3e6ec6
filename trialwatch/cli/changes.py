"""`trialwatch changes`: typed changes by trial, kind, time, grade, origin, delay, phase and
sponsor."""

from __future__ import annotations

from typing import Any

import click

from trialwatch.cli.filters import OneLineUsage, clock_option, normalise_phase, time_bounds
from trialwatch.cli.util import Context, check_nct, err, print_json
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.db import transaction
from trialwatch.registry.queries import change_dict, count_changes, list_changes


@click.command(cls=OneLineUsage)
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(CHANGE_KINDS),
    help="Only this kind (repeatable).",
)
@click.option(
    "--since", metavar="ISO8601", help="Only changes at or after this time (a date: its start)."
)
@click.option(
    "--until", metavar="ISO8601", help="Only changes at or before this time (a date: its end)."
)
@clock_option
@click.option(
    "--min-grade",
    type=click.Choice(GRADES),
    help="Only changes of this grade or higher (editorial < minor < major). Default: all.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="SLUG",
    help="Only changes from this origin: ctgov (the registry) or a site's slug (repeatable).",
)
@click.option(
    "--min-delay-days",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only start, primary completion and completion date changes that moved the date "
    "later by at least N days.",
)
@click.option(
    "--phase",
    "phases",
    multiple=True,
    metavar="PHASE",
    help="Only trials whose current record lists this phase: 1, 2, 3, 4, early1 or na "
    "(also phase3, 'Phase 3', PHASE3, EARLY_PHASE1; repeatable: any of them).",
)
@click.option(
    "--sponsor",
    "sponsors",
    multiple=True,
    metavar="TEXT",
    help="Only trials whose current lead sponsor contains this text, in any case "
    "(repeatable: any of them).",
)
@click.option(
    "--limit", type=click.IntRange(min=0), metavar="N", help="At most N changes (the first N)."
)
@click.option(
    "--offset", type=click.IntRange(min=0), default=0, metavar="N", help="Skip the first N."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def changes(
    obj: Context,
    ncts: tuple[str, ...],
    kinds: tuple[str, ...],
    since: str | None,
    until: str | None,
    clock: str,
    min_grade: str | None,
    sources: tuple[str, ...],
    min_delay_days: int | None,
    phases: tuple[str, ...],
    sponsors: tuple[str, ...],
    limit: int | None,
    offset: int,
    as_json: bool,
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

    JSON rows: id, nct_id, kind, grade, source, from_version_id, to_version_id,
    registry_date, observed_at, before, after, detail. from_version_id and to_version_id are
    trial_version ids: `trialwatch history NCT --json` gives them as version_id.
    """
    from trialwatch.diffing.changes import Change
    from trialwatch.diffing.render import details, summary

    ids = [check_nct(n) for n in ncts]
    low, high = time_bounds(since, until)
    filters: dict[str, Any] = {
        "nct_ids": ids,
        "kinds": kinds,
        "since": low,
        "until": high,
        "min_grade": min_grade,
        "sources": sources,
        "min_delay_days": min_delay_days,
        "phases": [normalise_phase(p) for p in phases],
        "sponsors": [s for s in sponsors if s.strip()],
        "clock": clock,
    }
    with transaction(obj.engine) as session:
        rows = list_changes(session, **filters, limit=limit, offset=offset)
        data = [change_dict(c) for c in rows]
        if limit is not None and len(rows) == limit:
            total = count_changes(session, **filters)
            if total > offset + limit:
                err(f"{len(rows)} of {total} change(s) shown, from number {offset + 1}")
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
