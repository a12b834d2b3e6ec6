"""The backfill command: fetch trials' whole registry history."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trialwatch.cli.limits import deadline_option, timeout_option
from trialwatch.cli.util import Context, check_nct, err, read_nct_file
from trialwatch.ingest.jobs import crawl_settings

DEFAULT_BASE_URL = "https://clinicaltrials.gov"


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from trialwatch.spiders.ctgov import check_base_url  # Scrapy: only when it is needed

    try:
        return check_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("invalid base_url ")) from None


def _modules(value: str | None) -> list[str] | None:
    if value is None:
        return None
    labels = [part.strip() for part in value.split(",") if part.strip()]
    if not labels:
        raise click.BadParameter(f"{value!r} names no module", param_hint="'--modules'")
    return labels


@click.command()
@click.argument("ncts", nargs=-1, metavar="NCT...")
@click.option(
    "--nct-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of NCT ids, one per line (# comments allowed).",
)
@click.option(
    "--base-url",
    metavar="URL",
    envvar="TRIALWATCH_CTGOV_URL",
    default=DEFAULT_BASE_URL,
    show_default=f"$TRIALWATCH_CTGOV_URL, else {DEFAULT_BASE_URL}",
    callback=_base_url,
    help="The registry, or a mirror of it (http or https).",
)
@click.option(
    "--modules",
    metavar="LABEL,...",
    help="Only the first version and those that changed one of these modules, by the "
    "registry's labels (any case), e.g. Eligibility,'Study Status'.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    help="Seconds between requests (default: about 1, adapting to the server); "
    "0 also turns AutoThrottle off.",
)
@timeout_option("failed")
@deadline_option("backfill", "stores the trials it finished")
@click.pass_obj
def backfill(
    obj: Context,
    ncts: tuple[str, ...],
    nct_file: Path | None,
    base_url: str,
    modules: str | None,
    delay: float | None,
    timeout: float | None,
    deadline: float | None,
) -> None:
    """Fetch each trial's whole registry history (every version the registry keeps) and
    store each version in its place in the trial's timeline. No alerts are queued: a
    trial's past is not news. Versions already stored are not fetched again, so an
    interrupted backfill resumes where it stopped.

    \b
    trialwatch backfill NCT04280705
    trialwatch backfill --nct-file trials.txt --modules Eligibility

    Exit status 1 if a trial or a version failed, a trial's version list moved while it
    was fetched (run it again), or the deadline cut the backfill short; a trial with no
    history is reported but is not a failure.
    """
    from trialwatch.ingest.backfill import run_backfill
    from trialwatch.spiders.runner import CrawlError

    ids = [check_nct(n) for n in ncts] + (read_nct_file(nct_file) if nct_file else [])
    if not ids:
        raise click.UsageError("say which trials: give NCT ids or --nct-file")
    labels = _modules(modules)
    err(f"backfilling the registry history of {len(set(ids))} trial(s) from {base_url} ...")
    try:
        tally = run_backfill(
            obj.pipeline(),
            ids,
            base_url=base_url,
            modules=labels,
            settings=crawl_settings(delay, timeout=timeout, deadline=deadline),
            report=err,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except CrawlError as exc:
        err(f"backfill: {exc}")
        sys.exit(1)
    err(f"crawl run {tally.run_id}: {tally.status}")
    err(f"backfill: {tally.line()}")
    sys.exit(1 if tally.failed or tally.moved or tally.status == "failed" else 0)
