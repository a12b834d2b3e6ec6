"""`trialwatch stats`: counts over the stored changes, and the stored findings that hold."""

from __future__ import annotations

from datetime import UTC, datetime
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
from trialwatch.registry.stats import change_stats, finding_stats


@click.command(cls=OneLineUsage)
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys below).")
@click.pass_obj
@reads_only
def stats(obj: Context, as_json: bool, **options: Any) -> None:
    """Count the changes: by kind, by grade, by month, status transitions, and how far
    primary completion dates moved.

    And the integrity findings that hold today, by kind and by the year they hold from.

    \b
    trialwatch stats
    trialwatch stats --clock registry --since 2024-01-01 --until 2024-12-31
    trialwatch stats --kind primary_completion_date --min-grade major --json
    trialwatch stats --phase 3 --sponsor pfizer --clock registry

    When no change matches, one line on stderr says so, naming the filters, and stdout has
    no change tables (with --json, the object with its counts at zero); the exit status is
    0. The findings' table is printed when any finding holds.

    Findings are those stored that hold today (UTC): resolved ones, and those whose day lies
    ahead, are not counted. Of the filters, only --nct, --phase and --sponsor (the trials)
    apply to them; the others are about changes.

    \b
    JSON keys:
      clock                     observed or registry
      total                     changes counted
      by_kind                   {kind: count}, every kind
      by_grade                  {editorial|minor|major: count} (not graded counts as major)
      by_month                  {YYYY-MM: count} by the clock's day, months with changes
      status_transitions        [{from, to, count}] from status changes' before and after
      primary_completion_slips  primary completion date changes with a day count:
                                count, earlier, later, type_only (0 days), min_days,
                                median_days, p90_days (nearest rank), max_days (null if
                                none), buckets {earlier, 0, 1-30, 31-90, 91-180, 181-365,
                                >365} (days later)
      findings                  findings holding today, of the trials selected: on (the
                                day, UTC), total, by_kind {kind: count} (every kind),
                                by_kind_year [{kind, year, count}] (year of since)
    """
    given = asked(options)
    filters = change_filters(options)
    trials = {k: filters[k] for k in ("nct_ids", "phases", "sponsors")}
    with transaction(obj.engine) as session:
        data = change_stats(session, **filters)
        data["findings"] = finding_stats(session, on=datetime.now(UTC).date(), **trials)
    if not data["total"]:
        err(nothing_matches("changes", given))
    if as_json:
        print_json(data)
        return
    lines = render(data) if data["total"] else []  # every count zero: no tables
    if data["findings"]["total"]:
        lines += [""] if lines else []
        lines += render_findings(data["findings"])
    for line in lines:
        click.echo(line)


def render(data: dict[str, Any]) -> list[str]:
    """The counts as plain-text tables."""
    lines = [f"{data['total']} change(s) (clock: {data['clock']})", ""]
    lines += _table("kind", {k: n for k, n in data["by_kind"].items() if n})
    lines += _table("grade", data["by_grade"])
    lines += _table(f"month ({data['clock']})", data["by_month"])
    lines += _matrix(data["status_transitions"])
    lines += _slips(data["primary_completion_slips"])
    return lines


def render_findings(findings: dict[str, Any]) -> list[str]:
    """The findings holding today as one table: a row per year they hold from, a column per
    kind held ('.' for none), and each kind's total."""
    kinds = [k for k, n in findings["by_kind"].items() if n]
    cells = {(c["year"], c["kind"]): c["count"] for c in findings["by_kind_year"]}
    years = sorted({year for year, _ in cells})
    title = "since"
    width = max(len(title), len("total"))
    out = [
        f"{findings['total']} finding(s) holding on {findings['on']}",
        "",
        "  ".join([f"{title:<{width}}", *kinds]),
        "  ".join(["-" * width, *("-" * len(k) for k in kinds)]),
    ]
    for year in years:
        counts = [f"{cells.get((year, k), 0) or '.':>{len(k)}}" for k in kinds]
        out.append("  ".join([f"{year:<{width}}", *counts]))
    totals = [f"{findings['by_kind'][k]:>{len(k)}}" for k in kinds]
    return [*out, "  ".join([f"{'total':<{width}}", *totals])]


def _table(title: str, counts: dict[str, int]) -> list[str]:
    width = max([len(title), *(len(k) for k in counts)])
    out = [f"{title:<{width}}  changes", f"{'-' * width}  -------"]
    out += [f"{k:<{width}}  {n:>7}" for k, n in counts.items()] or ["(none)"]
    return [*out, ""]


def _matrix(transitions: list[dict[str, Any]]) -> list[str]:
    title = "status from \\ to"
    if not transitions:
        return [title, "(no status changes)", ""]
    cells = {(t["from"] or "-", t["to"] or "-"): t["count"] for t in transitions}
    rows = sorted({a for a, _ in cells})
    cols = sorted({b for _, b in cells})
    width = max(len(title), *(len(r) for r in rows))
    out = ["  ".join([f"{title:<{width}}", *cols])]
    for row in rows:
        counts = [f"{cells.get((row, c), 0) or '.':>{len(c)}}" for c in cols]
        out.append("  ".join([f"{row:<{width}}", *counts]))
    return [*out, ""]


def _slips(slips: dict[str, Any]) -> list[str]:
    out = [
        f"primary completion date moves: {slips['count']} "
        f"({slips['later']} later, {slips['earlier']} earlier, {slips['type_only']} type only)"
    ]
    if slips["count"]:
        out.append(
            f"days: min {slips['min_days']}, median {slips['median_days']}, "
            f"p90 {slips['p90_days']}, max {slips['max_days']}"
        )
        out += _table("days later", slips["buckets"])[:-1]
    return out
