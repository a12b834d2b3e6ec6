"""The reparse command."""

from __future__ import annotations

import sys

import click

from trialwatch.cli.util import Context, check_nct, err, print_json


@click.command()
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable).")
@click.option(
    "--stale-only",
    is_flag=True,
    help="Re-read only versions read by an older parser version (default: every version).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what moved as JSON.")
@click.pass_obj
def reparse(obj: Context, ncts: tuple[str, ...], stale_only: bool, as_json: bool) -> None:
    """Re-read stored raw payloads with the current parsers and recompute each version's
    content and the changes between versions, with their grades. Nothing is alerted: a
    difference that comes only from the parser (or a new grade) is not a registry edit.
    Prints what moved; running it again (or on an up-to-date database) changes nothing.

    \b
    trialwatch reparse
    trialwatch reparse --nct NCT04280705
    """
    from trialwatch.ingest.reparse import reparse as run

    ids = [check_nct(n) for n in ncts]
    tally = run(obj.pipeline(), ids, everything=not stale_only)
    summary = {
        "trials": tally.trials,
        "versions_reread": tally.versions,
        "versions_moved": len(tally.moved),
        "changes_added": tally.changes_added,
        "changes_removed": tally.changes_removed,
        "changes_rewritten": tally.changes_rewritten,
        "problems": len(tally.problems),
    }
    if as_json:
        print_json({**summary, "moved": tally.moved, "problem_lines": tally.problems})
    else:
        for line in tally.moved:
            click.echo(line)
    err(
        f"reparse: {tally.trials} trial(s), {tally.versions} version(s) re-read, "
        f"{len(tally.moved)} moved, {tally.changes_added} change(s) added, "
        f"{tally.changes_removed} removed, {tally.changes_rewritten} regraded or rewritten, "
        f"{len(tally.problems)} problem(s)"
    )
    sys.exit(1 if tally.problems else 0)
