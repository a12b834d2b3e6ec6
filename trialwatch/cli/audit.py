"""`trialwatch audit`: registry integrity findings, computed from the stored versions."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import click

from trialwatch.cli.util import Context, check_nct, err, parse_time, print_json, reads_only
from trialwatch.diffing.findings import Finding, Thresholds
from trialwatch.kinds import FINDING_KINDS
from trialwatch.registry.db import transaction

DEFAULTS = Thresholds()


@click.command()
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(FINDING_KINDS),
    help="Only this kind of finding (repeatable). Default: every kind.",
)
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable).")
@click.option(
    "--since",
    metavar="DATE",
    help="Only findings that came to hold on or after DATE (by the registry's dates).",
)
@click.option(
    "--as-of",
    metavar="DATE",
    help="The registry's clock: only versions it had published by DATE, and findings that "
    "held on DATE. Default: today, every version.",
)
@click.option(
    "--known-at",
    metavar="TIME",
    help="trialwatch's clock: only versions trialwatch held at TIME (ISO date or date-time).",
)
@click.option(
    "--stale-days",
    type=click.IntRange(min=0),
    default=DEFAULTS.stale_days,
    show_default=True,
    help="stale_status: an open status this many days after primary completion.",
)
@click.option(
    "--results-days",
    type=click.IntRange(min=0),
    default=DEFAULTS.results_days,
    show_default=True,
    help="results_due: results due this many days after primary completion.",
)
@click.option(
    "--slips",
    type=click.IntRange(min=1),
    default=DEFAULTS.slips,
    show_default=True,
    help="repeated_slips: primary completion moved later this many times...",
)
@click.option(
    "--slip-days",
    type=click.IntRange(min=0),
    default=DEFAULTS.slip_days,
    show_default=True,
    help="... or later by more than this many days in all.",
)
@click.option(
    "--enrollment-pct",
    type=click.FloatRange(min=0),
    default=DEFAULTS.enrollment_pct,
    show_default=True,
    help="enrollment_change: the target changed by more than this percentage after the start.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@reads_only
def audit(
    obj: Context,
    kinds: tuple[str, ...],
    ncts: tuple[str, ...],
    since: str | None,
    as_of: str | None,
    known_at: str | None,
    as_json: bool,
    **limits: Any,
) -> None:
    """Registry integrity findings, computed afresh from each trial's stored registry
    versions: what meta-research looks for in a trial's history. One line per finding, by
    trial, then date: the trial, the kind, the registry date from which it holds, what shows
    it, and the versions that show it (`trialwatch history NCT` lists them).

    \b
    outcome_switch     a primary outcome changed after the start: during recruitment,
                       after primary completion, or after results were posted
    retro_prospective  registered after the start, then the start date moved to on or
                       after the registration date
    stale_status       still recruiting or active long after primary completion, or set
                       to COMPLETED long after it
    results_due        primary completion (actual) over a year ago and no results posted
    repeated_slips     primary completion moved later 3+ times, or by over a year in all
    enrollment_change  the enrollment target changed by over 20% after the start

    \b
    trialwatch audit
    trialwatch audit --kind retro_prospective --json
    trialwatch audit --nct NCT04280705 --as-of 2021-01-01
    trialwatch audit --kind stale_status --stale-days 180 --since 2024-01-01

    Definitions, sources and blind spots: docs/audit.md. Stored findings (those `watch add
    --finding` hears about, the audit_findings view, `export findings`) use the defaults.
    Summary and progress go to stderr; with no findings stdout is empty (--json: []).
    """
    from trialwatch import parsers
    from trialwatch.registry.findings import computed_findings, outdated_trials

    thresholds = Thresholds(**limits)
    ids = [check_nct(n) for n in ncts]
    day = parse_time(as_of).date() if as_of else None
    moment = parse_time(known_at, end_of_day=True) if known_at else None
    start = parse_time(since).date().isoformat() if since else None
    on = day or (moment or datetime.now(UTC)).date()
    rows: list[tuple[str, Finding]] = []
    held: set[str] = set()
    with transaction(obj.engine) as session:
        outdated = outdated_trials(session, parsers.PARSER_VERSION)
        for number, (nct_id, found) in enumerate(
            computed_findings(
                session,
                limits=thresholds,
                on=on,
                registry_as_of=day.isoformat() if day else None,
                known_at=moment,
                nct_ids=ids,
            ),
            1,
        ):
            held.add(nct_id)
            if number % 5000 == 0:
                err(f"audit: {number} trials read")
            for finding in sorted(found, key=lambda f: (f.since, f.kind, f.key)):
                if kinds and finding.kind not in kinds:
                    continue
                if start and finding.since < start:
                    continue
                rows.append((nct_id, finding))
    if outdated:
        err(
            f"audit: {outdated} trial(s) hold versions read by an older parser, which did not "
            "read registration and results dates: run `trialwatch reparse`"
        )
    trials = len(held)
    missing = sorted(set(ids) - held)
    if missing:
        err(f"audit: not held: {', '.join(missing)}")
    counts = Counter(f.kind for _, f in rows)
    if rows:
        by_kind = ", ".join(f"{k} {counts[k]}" for k in FINDING_KINDS if counts[k])
        err(
            f"audit: {len(rows)} finding(s) in {len({n for n, _ in rows})} of {trials} "
            f"trial(s): {by_kind}"
        )
    else:
        err(f"audit: no findings in {trials} trial(s)")
    if as_json:
        print_json([finding_dict(nct_id, f) for nct_id, f in rows])
        return
    for nct_id, f in rows:
        versions = ", ".join(str(v) for v, _ in f.versions)
        click.echo(f"{nct_id}  {f.kind:<17} {f.since}  {f.text} (versions {versions})")


def finding_dict(nct_id: str, f: Finding) -> dict[str, Any]:
    return {
        "nct_id": nct_id,
        "kind": f.kind,
        "grade": f.grade,
        "since": f.since,
        "text": f.text,
        "versions": [{"version_id": v, "registry_date": d} for v, d in f.versions],
        "detail": f.detail,
    }
