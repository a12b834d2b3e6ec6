"""Run one crawl in a child process and stream back what it fetched.

Scrapy's Twisted reactor cannot be restarted within a process, and the CLI, the demo and the
scheduler run several crawls per process, so each crawl runs in
``python -m trialwatch.spiders.runner`` with a JSON job on stdin (or as argv[1]). The child
writes one frame per fetch on stdout (``framing``: a JSON header line, the manifest's
``fetched.Fetched``, then the body's raw bytes where bodies are handed over); its log goes to
stderr.

The child runs in its own process group and dies with its parent (see ``child``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from scrapy import Spider

from trialwatch.spiders.capture import CaptureSpider
from trialwatch.spiders.centerwatch import CenterwatchSpider
from trialwatch.spiders.child import (
    CrawlInterrupted,
    die_with_parent,
    finish_child,
    interrupt_crawls,
    kill_child,
    sigterm_interrupts,
    start_child,
)
from trialwatch.spiders.clinicaltrialexchange import ClinicaltrialexchangeSpider
from trialwatch.spiders.components import manifest
from trialwatch.spiders.ctgov import CtgovSpider, validate_nct_id, validate_query
from trialwatch.spiders.ctgov_history import CtgovHistorySpider, check_history_arguments
from trialwatch.spiders.fetched import CrawlError, Fetched
from trialwatch.spiders.framing import FrameError, read_frames
from trialwatch.spiders.retries import retry_after_seconds
from trialwatch.spiders.settings import BASE_SETTINGS
from trialwatch.spiders.site import BaseSiteSpider
from trialwatch.spiders.trialpage import TrialpageSpider
from trialwatch.spiders.veeva import VeevaSpider

__all__ = [
    "HISTORY_SPIDERS",
    "SPIDERS",
    "CrawlError",
    "CrawlInterrupted",
    "Fetched",
    "build_job",
    "crawl",
    "interrupt_crawls",
    "main",
    "retry_after_seconds",
    "run_job",
]

log = logging.getLogger(__name__)

# slug -> spider class; a new source adds a file and a line here.
SPIDERS: dict[str, type[Spider]] = {
    "ctgov": CtgovSpider,
    "veeva": VeevaSpider,
    "centerwatch": CenterwatchSpider,
    "clinicaltrialexchange": ClinicaltrialexchangeSpider,
    "trialpage": TrialpageSpider,
}
# Run the same way but not sources (no parser, no `source` rows): trialwatch.capture's spider.
TOOL_SPIDERS: dict[str, type[Spider]] = {"capture": CaptureSpider}
# Run the same way, by `trialwatch backfill` rather than `crawl`: a trial's registry history.
HISTORY_SPIDERS: dict[str, type[Spider]] = {"ctgov_history": CtgovHistorySpider}

# -- parent side --------------------------------------------------------------------------


def crawl(
    slug: str,
    *,
    data_dir: Path | None = None,
    base_url: str | None = None,
    nct_ids: Sequence[str] = (),
    urls: Sequence[str] = (),
    query: Mapping[str, str] | None = None,
    updated_since: date | None = None,
    settings: Mapping[str, Any] | None = None,
    on_fetch: Callable[[Fetched], None] | None = None,
    have: Mapping[str, Iterable[int]] | None = None,
    modules: Sequence[str] | None = None,
) -> list[Fetched]:
    """Run the `slug` spider in a child process; return (and stream to `on_fetch`) its fetches.

    `urls` are for the page spiders (veeva, centerwatch, clinicaltrialexchange, trialpage):
    each must be http(s), on the spider's hosts, without credentials and at most
    2,048 characters long. `have` and `modules` are for ctgov_history (see its spider).
    `data_dir`: where the child keeps each body (a SnapshotStore), unless the settings ask for
    bodies inline (TRIALWATCH_INLINE_BODIES), as every ingesting crawl does. Bad arguments
    raise ValueError before anything starts; a child that dies raises CrawlError.
    """
    job = build_job(
        slug,
        data_dir=data_dir,
        base_url=base_url,
        nct_ids=nct_ids,
        urls=urls,
        query=query,
        updated_since=updated_since,
        settings=settings,
        have=have,
        modules=modules,
    )
    return run_job(slug, job, on_fetch)


def build_job(
    slug: str,
    *,
    data_dir: Path | None = None,
    base_url: str | None = None,
    nct_ids: Sequence[str] = (),
    urls: Sequence[str] = (),
    query: Mapping[str, str] | None = None,
    updated_since: date | None = None,
    settings: Mapping[str, Any] | None = None,
    have: Mapping[str, Iterable[int]] | None = None,
    modules: Sequence[str] | None = None,
) -> str:
    """Check a crawl's arguments and return its job spec (JSON); ValueError names what is wrong."""
    spider_cls = SPIDERS.get(slug) or TOOL_SPIDERS.get(slug) or HISTORY_SPIDERS.get(slug)
    if spider_cls is None:
        raise ValueError(f"unknown source {slug!r}: known sources are {', '.join(sorted(SPIDERS))}")
    if isinstance(nct_ids, str):
        raise ValueError(f"nct_ids must be a sequence of ids, not the string {nct_ids!r}")
    if isinstance(urls, str):
        raise ValueError(f"urls must be a sequence of URLs, not the string {urls!r}")
    base_url = base_url or os.environ.get(f"TRIALWATCH_{slug.upper()}_URL") or None
    folder = str(Path(data_dir).resolve()) if data_dir is not None else None
    job: dict[str, Any] = {"slug": slug, "data_dir": folder}
    if slug in HISTORY_SPIDERS:
        if urls or query or updated_since:
            raise ValueError(f"{slug} fetches trials by NCT id: give nct_ids (and have, modules)")
        # The history lives on the registry's own host.
        base_url = base_url or os.environ.get("TRIALWATCH_CTGOV_URL") or None
        job.update(
            check_history_arguments(nct_ids=nct_ids, base_url=base_url, have=have, modules=modules)
        )
    elif have is not None or modules is not None:
        raise ValueError(f"{slug} does not take have or modules: they are for ctgov_history")
    elif issubclass(spider_cls, BaseSiteSpider):
        if query or updated_since:
            raise ValueError(f"{slug} fetches pages by URL: query and updated_since are for ctgov")
        job.update(spider_cls.check_arguments(urls=urls, nct_ids=nct_ids, base_url=base_url))
    else:
        job.update(_ctgov_job(slug, nct_ids, urls, query, updated_since, base_url))
    job["settings"] = dict(settings or {})
    try:
        return json.dumps(job)
    except TypeError as exc:
        raise ValueError(f"crawl settings must be JSON-serialisable: {exc}") from None


def _ctgov_job(
    slug: str,
    nct_ids: Sequence[str],
    urls: Sequence[str],
    query: Mapping[str, str] | None,
    updated_since: date | None,
    base_url: str | None,
) -> dict[str, Any]:
    if urls:
        raise ValueError(f"{slug} does not take urls: give nct_ids, query or updated_since")
    ids = [validate_nct_id(n) for n in nct_ids]
    params = validate_query(query or {})
    if not (ids or params or updated_since):
        raise ValueError("nothing to crawl: give nct_ids, query or updated_since")
    if isinstance(updated_since, datetime):
        updated_since = updated_since.date()
    if updated_since is not None and not isinstance(updated_since, date):
        raise ValueError(f"updated_since must be a date, got {updated_since!r}")
    return {
        "base_url": base_url,
        "nct_ids": ids,
        "query": params,
        "updated_since": updated_since.isoformat() if updated_since else None,
    }


def run_job(slug: str, job_text: str, on_fetch: Callable[[Fetched], None] | None) -> list[Fetched]:
    """Run one job spec in a child; CrawlError if it fails, CrawlInterrupted if it was stopped
    (``interrupt_crawls``, Ctrl-C or SIGTERM), its process group killed in every case."""
    with sigterm_interrupts():
        proc = start_child([sys.executable, "-m", "trialwatch.spiders.runner"])
        assert proc.stdin and proc.stdout and proc.stderr
        tail: deque[str] = deque(maxlen=20)
        said = io.TextIOWrapper(proc.stderr, encoding="utf-8", errors="replace")
        drain = threading.Thread(target=_drain_stderr, args=(said, tail, slug), daemon=True)
        drain.start()
        fetched: list[Fetched] = []
        broken: str | None = None
        try:
            proc.stdin.write(job_text.encode("utf-8"))
            proc.stdin.close()
            try:
                for head, body in read_frames(proc.stdout):
                    try:
                        row = Fetched.from_frame(head, body)
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning(
                            "crawl %s: ignoring a bad manifest entry (%s): %.200s", slug, exc, head
                        )
                        continue
                    del body
                    if on_fetch is not None:
                        on_fetch(row)
                        row = replace(row, body=None)  # handed over: memory stays flat
                    fetched.append(row)
            except FrameError as exc:
                # Where the next frame starts is unknown: nothing more can be read.
                broken = str(exc)
                kill_child(proc)
        except BaseException:
            kill_child(proc)
            raise
        finally:
            drain.join(timeout=5)
        returncode, stopped = finish_child(proc)
    if stopped is not None:
        raise CrawlInterrupted(f"crawl {slug} stopped before it finished: {stopped}")
    # The child ends with one "error: ..." line when it can say why; else show the tail.
    errors = [line for line in tail if line.startswith("error: ")]
    if broken is not None:
        why = f" (it said: {errors[-1][7:]})" if errors else ""
        raise CrawlError(
            f"crawl {slug} failed: the crawl process's output is broken: {broken}{why}"
        )
    if returncode != 0:
        last = errors[-1][7:] if errors else " | ".join(list(tail)[-3:]) or "no output on stderr"
        raise CrawlError(f"crawl {slug} failed: child process exited with {returncode}: {last}")
    return fetched


def _drain_stderr(stream: IO[str], tail: deque[str], slug: str) -> None:
    # Drained on a thread so a chatty child never blocks on a full pipe.
    for line in stream:
        line = line.rstrip()
        if line:
            tail.append(line)
            log.debug("crawl %s: %s", slug, line)


# -- child side ----------------------------------------------------------------------------


def _run_in_child(job: Mapping[str, Any]) -> int:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    slug = job.get("slug")
    spider_cls = (
        SPIDERS.get(slug) or TOOL_SPIDERS.get(slug) or HISTORY_SPIDERS.get(slug)  # type: ignore[arg-type]
    )
    if spider_cls is None:
        print(f"error: unknown source {slug!r}", file=sys.stderr)
        return 2
    settings = Settings()
    settings.setdict(BASE_SETTINGS, priority="project")
    if job.get("data_dir"):
        settings.set("TRIALWATCH_DATA_DIR", job["data_dir"], priority="project")
    settings.setdict(job.get("settings") or {}, priority="cmdline")
    kwargs: dict[str, Any] = {"nct_ids": job.get("nct_ids") or (), "base_url": job.get("base_url")}
    if issubclass(spider_cls, CtgovHistorySpider):
        kwargs["have"] = job.get("have") or None
        kwargs["modules"] = job.get("modules")
    elif issubclass(spider_cls, BaseSiteSpider):
        kwargs["urls"] = job.get("urls") or ()
    else:
        kwargs["query"] = job.get("query") or None
        kwargs["updated_since"] = job.get("updated_since")
    try:
        spider_cls(**kwargs)  # check the arguments here: inside the reactor they surface late
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
    failures: list[Any] = []

    def keep_failure(failure: Any) -> None:
        # Consumed here, so Twisted does not print "Unhandled error in Deferred" at exit.
        failure.printTraceback(file=sys.stderr)
        failures.append(failure)

    process.crawl(crawler, **kwargs).addErrback(keep_failure)
    process.start()
    if failures:
        crash = failures[-1].value
        print(f"error: crawl {slug} crashed: {type(crash).__name__}: {crash}", file=sys.stderr)
        return 1
    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = stats.get("finish_reason")
    if reason != "finished":
        print(f"error: crawl {slug} ended early: {reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent()
    argv = list(sys.argv[1:] if argv is None else argv)
    raw = argv[0] if argv else sys.stdin.read()
    try:
        job = json.loads(raw)
        if not isinstance(job, dict) or "slug" not in job:
            raise ValueError("expected an object with at least a slug")
    except ValueError as exc:
        print(f"error: bad job spec: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    manifest.stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        return _run_in_child(job)
    except Exception as exc:
        traceback.print_exc()  # for whoever reads the log; the last line says it in one
        print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    finally:
        manifest.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
