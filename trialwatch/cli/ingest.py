"""Commands that bring payloads in: import, crawl, capture."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from trialwatch.cli.faults import disk_line
from trialwatch.cli.limits import deadline_option, timeout_option
from trialwatch.cli.util import (
    Context,
    crawl_options,
    err,
    parse_time,
)
from trialwatch.ingest.pipeline import Tally
from trialwatch.inputs import InputRefused, count_inputs, iter_inputs
from trialwatch.parsers import KNOWN_SOURCES
from trialwatch.registry.models import utcnow
from trialwatch.spiders.limits import (
    DEFAULT_MAX_PAGES,
)
from trialwatch.spiders.names import CRAWL_SOURCES


def _summarise(tally: Tally) -> None:
    # here, not at the top: trialwatch.ingest.jobs brings the alert outbox, its SMTP and
    # templates, which an import does not need before its first file
    from trialwatch.ingest.jobs import tally_line

    err(tally_line(tally))


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--observed-at", metavar="ISO8601", help="When these payloads were fetched (default: now)."
)
@click.option(
    "--source",
    metavar="SLUG",
    help="Source slug to file the records under: "
    + ", ".join(KNOWN_SOURCES)
    + " (a site page needs its site's slug).",
)
@click.option("--url", metavar="URL", help="The URL the payload came from.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Studies written per transaction (fewer: less memory, more commits).",
)
@click.pass_obj
def import_(
    obj: Context,
    paths: tuple[Path, ...],
    observed_at: str | None,
    source: str | None,
    url: str | None,
    batch_size: int,
) -> None:
    """Load saved payloads: API v2 studies or search pages, record-history versions,
    classic XML, or a site's saved page (give --source SLUG and --url URL, e.g.
    --source veeva).

    A folder means every file below it (hidden files skipped, symbolic links refused, never
    followed). A ZIP archive, such as the registry's bulk download, means every entry in it,
    read one at a time and never extracted; a .zip inside a folder is read too, a ZIP inside
    a ZIP is not. Entries with absolute or '..' paths, links, encryption or data larger than
    declared, and archives that would expand past 64 MiB and over 100 times their size, are
    refused with one line each, and the rest goes on. So is any payload that is not a whole
    record (a registry record without its identification and status), that holds a value of
    the wrong type (a title that is an object, an enrollment of 1.5, -5 or 10^30), or that
    holds what no database can store (NaN, Infinity, a number of more than 20 digits, a lone
    surrogate or a NUL character in a string): each is kept as a parse failure with its
    reason. Progress goes to stderr. Exit status 1 if any input was refused or rejected, 2 for
    an unknown --source."""
    if source is not None and source not in KNOWN_SOURCES:
        err(f"--source {source!r}: not a known source (known: {', '.join(KNOWN_SOURCES)})")
        sys.exit(2)
    moment = parse_time(observed_at) if observed_at else utcnow()
    pipeline = obj.pipeline()
    tally = Tally()
    total = count_inputs(paths)
    every = 1000  # stderr not a terminal: one progress line per this many inputs
    bar = (
        click.progressbar(length=total, label="importing", show_pos=True, file=sys.stderr)
        if sys.stderr.isatty()
        else None
    )
    done = 0

    def say(line: str) -> None:  # a line above the bar, which the next step redraws
        if bar is not None:
            sys.stderr.write("\r\x1b[K")
        err(line)

    def step() -> None:
        nonlocal done
        done += 1
        if bar is not None:
            bar.update(1)
        elif done % every == 0 and done < total:
            err(f"{done}/{total} input(s) read")

    def refuse(line: str) -> None:
        tally.reject(line)
        say(line)
        step()

    pipeline.report = say
    try:
        with bar if bar is not None else nullcontext(), pipeline.batch(tally, size=batch_size) as b:
            for item in iter_inputs(paths, refuse=refuse):
                try:
                    body = item.read()
                except InputRefused as exc:
                    refuse(str(exc))
                    continue
                b.add(body, name=item.name, observed_at=moment, url=url, source=source)
                step()
    except OSError as exc:  # a raw payload not written: its batch was rolled back
        line = disk_line(exc, pipeline.store.where)
        if line is None:
            raise
        err(line)
        sys.exit(1)
    _summarise(tally)
    sys.exit(1 if tally.rejected else 0)


def _sources() -> list[str]:
    return sorted(CRAWL_SOURCES)


class _Progress:
    """On a terminal, one line (fetches, records, failures) rewritten in place after each
    fetch, with other lines written above it; elsewhere (a log, CI) only those lines."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.text = ""

    def _put(self, text: str) -> None:
        sys.stderr.write("\r\x1b[K" + text)
        sys.stderr.flush()

    def say(self, line: str) -> None:
        if self.text:
            self._put("")
        err(line)
        if self.text:
            self._put(self.text)

    def update(self, fetches: int, tally: Tally) -> None:
        if self.live:
            self.text = (
                f"{fetches} page(s) fetched, {tally.records} record(s), "
                f"{tally.failed + tally.rejected} failure(s)"
            )
            self._put(self.text)

    def done(self) -> None:
        if self.text:
            self._put("")
            self.text = ""


@click.command()
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
@click.option(
    "--search-url",
    metavar="URL",
    help="ctgov: a search copied from the ClinicalTrials.gov website (/search?..., "
    "/expert-search?term=... or /study/NCT...?cond=...), asked of the API as the same "
    "search; what cannot be translated is named on stderr. Adds to --query.",
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
@timeout_option("a failure")
@deadline_option("crawl", "keeps what it fetched")
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    metavar="N",
    help=f"ctgov search: the most result pages to fetch (default: {DEFAULT_MAX_PAGES:,}; the "
    "whole registry is about 600). Reaching it, or a page token seen before, stops the "
    "search and the run is failed.",
)
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="ctgov: queue the crawl on this Redis server for `trialwatch worker`s to fetch, "
    "instead of crawling here (keys under $TRIALWATCH_REDIS_PREFIX, default trialwatch).",
)
@click.option(
    "--http-cache",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Keep the server's answers in DIR (all but 429s and 5xx) and take any answer "
    "already there from DIR without asking the server: the same crawl run again with the "
    "same DIR is replayed offline. For a crawl run here, not a scheduled or --redis one.",
)
@click.pass_obj
def crawl(
    obj: Context,
    slug: str,
    ncts: tuple[str, ...],
    nct_file: Path | None,
    urls: tuple[str, ...],
    queries: tuple[str, ...],
    search_url: str | None,
    updated_since: str | None,
    base_url: str | None,
    delay: float | None,
    timeout: float | None,
    deadline: float | None,
    max_pages: int | None,
    redis_url: str | None,
    http_cache: Path | None,
) -> None:
    """Fetch records from a source and store each new version.

    \b
    trialwatch crawl ctgov --nct NCT05828225
    trialwatch crawl ctgov --query query.cond=lymphoma --query filter.overallStatus=RECRUITING
    trialwatch crawl ctgov --updated-since 2026-11-01
    trialwatch crawl ctgov --search-url 'https://clinicaltrials.gov/search?cond=asthma'
    trialwatch crawl veeva --url https://ctv.veeva.com/study/...

    On a terminal a progress line (pages, records, failures) is rewritten in place. The run
    is failed (exit status 1) when the crawl was cut short (deadline, page cap, a page token
    seen before) or the server never answered; what was fetched before is kept.
    """
    from trialwatch.ingest.jobs import crawl_settings
    from trialwatch.spiders.runner import CrawlError

    options = crawl_options(
        slug,
        ncts,
        nct_file,
        urls,
        queries,
        updated_since,
        base_url,
        delay,
        timeout=timeout,
        deadline=deadline,
        max_pages=max_pages,
        search_url=search_url,
        http_cache=http_cache,
    )
    if redis_url is not None and http_cache is not None:
        raise click.UsageError("--http-cache is for a crawl run here, not one queued on --redis")
    if redis_url is not None:  # the workers fetch it: record it as queued, say so, exit 0
        try:
            from trialwatch.workers.enqueue import queue_crawl
        except ImportError as exc:
            err(f"--redis needs the redis extra: pip install 'trialwatch[redis]' ({exc})")
            sys.exit(1)
        try:
            status = queue_crawl(
                obj.engine,
                redis_url,
                slug,
                nct_ids=options["nct_ids"],
                query=options["query"],
                updated_since=parse_time(updated_since).date() if updated_since else None,
                base_url=options["base_url"],
                settings=crawl_settings(
                    delay, timeout=timeout, deadline=deadline, max_pages=max_pages
                ),
                report=err,
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        sys.exit(status)
    err(f"crawling {slug} ...")
    pipeline = obj.pipeline()
    progress = _Progress()
    pipeline.report = progress.say
    try:
        from trialwatch.ingest.crawling import run_crawl

        run, tally = run_crawl(
            pipeline,
            slug,
            base_url=options["base_url"],
            nct_ids=options["nct_ids"],
            urls=options["urls"],
            query=options["query"],
            updated_since=parse_time(updated_since).date() if updated_since else None,
            settings=crawl_settings(
                delay,
                timeout=timeout,
                deadline=deadline,
                max_pages=max_pages,
                http_cache=http_cache,
            ),
            progress=progress.update,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except CrawlError as exc:  # the crawl's process died; the run is on record as failed
        progress.done()
        err(str(exc))
        sys.exit(1)
    finally:
        progress.done()
    err(f"crawl run {run.id}: {run.status}{_why(run.status, run.errors, tally)}")
    _summarise(tally)
    if tally.rejected:
        err(f"{tally.rejected} page(s) or record(s) set aside (not understood or refused)")
    sys.exit(1 if tally.rejected or run.status == "failed" else 0)


def _why(status: str, errors: list[str], tally: Tally) -> str:
    """Why a run failed, in brackets: why it stopped, else how many fetches failed (each
    already said with its URL above)."""
    if status != "failed" or not errors:
        return ""
    if tally.failed and not tally.stopped:
        return f" ({tally.failed} fetch(es) failed)"
    return f" ({errors[-1]})"


@click.command()
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
