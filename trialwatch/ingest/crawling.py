"""A crawl: run a spider in a child process and ingest each payload as it arrives, recorded
as a crawl_run.

A run is `failed` when the crawl was cut short (a pageToken loop, the page cap, the deadline:
the spider says why in a STOP line) or when a fetch failed: no usable answer after its
retries (timed out, refused, an HTTP error, throttled past the retry budget); what was
fetched is ingested all the same. It is `partial` when some pages or records were not
understood (set aside), else `ok`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from trialwatch.alerts.watches import query_key
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun, utcnow


def run_crawl(
    pipeline: Pipeline,
    slug: str,
    *,
    base_url: str | None = None,
    nct_ids: Sequence[str] = (),
    urls: Sequence[str] = (),
    query: Mapping[str, str] | None = None,
    updated_since: date | None = None,
    settings: Mapping[str, Any] | None = None,
    job_id: str | None = None,
    progress: Callable[[int, Tally], None] | None = None,
) -> tuple[CrawlRun, Tally]:
    """Run one crawl, ingesting each payload as it arrives; recorded as a crawl_run.

    Bad arguments raise ValueError before anything is fetched or recorded. `progress` is
    called after each fetch with the number of fetches so far and the tally.
    """
    from trialwatch.spiders.components import NOTICE, STOP
    from trialwatch.spiders.ctgov import check_base_url
    from trialwatch.spiders.runner import CrawlError, Fetched, build_job, run_job

    job = build_job(
        slug,
        base_url=base_url,
        nct_ids=nct_ids,
        urls=urls,
        query=query,
        updated_since=updated_since,
        # Bodies come back through the pipe: only what becomes a version is stored.
        settings={**(settings or {}), "TRIALWATCH_INLINE_BODIES": True},
    )
    given = json.loads(job).get("base_url")
    if given is not None:
        try:
            check_base_url(given)
        except ValueError as exc:
            env = f"TRIALWATCH_{slug.upper()}_URL"
            raise ValueError(f"{exc}" if base_url else f"{exc} (from ${env})") from None
    args = {
        "nct_ids": list(nct_ids),
        "urls": list(urls),
        "query": dict(query or {}),
        "updated_since": updated_since.isoformat() if updated_since else None,
        "base_url": base_url,
    }
    with transaction(pipeline.engine) as session:
        run = CrawlRun(source=slug, args=args, started_at=utcnow(), errors=[], job_id=job_id)
        session.add(run)
    tally = Tally()
    batch = pipeline.batch(tally)
    search = query_key(query) if query else None
    counts = {"fetches": 0}

    def on_fetch(fetched: Fetched) -> None:
        if fetched.kind == NOTICE:
            pipeline.report(fetched.reason or "")
            return
        if fetched.kind == STOP:
            tally.stopped.append(fetched.reason or "crawl stopped")
            pipeline.report(f"crawl {slug} stopped: {tally.stopped[-1]}")
            return
        counts["fetches"] += 1
        _ingest(fetched)
        if progress is not None:
            progress(counts["fetches"], tally)

    def _ingest(fetched: Fetched) -> None:
        if fetched.outcome == "not_found":
            tally.not_found += 1
            pipeline.report(f"{fetched.requested_url}: not found ({fetched.status})")
            return
        body = fetched.body  # handed over inline (TRIALWATCH_INLINE_BODIES, set above)
        if fetched.outcome != "ok" and not fetched.answered:  # nothing to read: not set aside
            tally.fail(f"{fetched.url}: {fetched.reason or f'HTTP {fetched.status}'}")
            pipeline.report(tally.problems[-1])
            return
        if fetched.outcome != "ok" or body is None:
            reason = fetched.reason or "not understood"
            tally.reject(f"{fetched.url}: {reason}")
            pipeline.report(tally.problems[-1])
            pipeline.set_aside(
                reason,
                body=body,
                source=slug,
                url=fetched.url,
                observed_at=fetched.fetched_at,
                crawl_run_id=run.id,
            )
            return
        batch.add(
            body,
            name=fetched.url,
            observed_at=fetched.fetched_at,
            url=fetched.url,
            source=slug,
            crawl_run_id=run.id,
            search_key=search,
            alias=fetched.requested_nct if slug == "ctgov" else None,
        )

    def crawl_job() -> str:
        try:
            with batch:  # what was fetched is stored, even when the crawl fails or is stopped
                run_job(slug, job, on_fetch)
        except CrawlError:
            batch.flush()
            if not tally.stopped:  # a child cut short by its deadline exits non-zero: expected
                raise
        tally.problems.extend(tally.stopped)  # last, so the run's last error says why it stopped
        return "failed" if tally.stopped or tally.failed else "ok"

    status = "ok"
    try:
        status = crawl_job()
    except Exception as exc:  # the crawl process died: record it, then re-raise
        status = "failed"
        tally.problems.append(f"crawl {slug}: {exc}")
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, a scheduler stopping now
        status = "interrupted"
        tally.problems.append(f"interrupted: {str(exc) or 'Ctrl-C'}")
        raise
    finally:
        with transaction(pipeline.engine) as session:
            run.finished_at = utcnow()
            run.status = "partial" if tally.rejected and status == "ok" else status
            run.fetched = tally.payloads + tally.not_found
            run.new_versions = tally.first + tally.new_versions + tally.inserted
            run.unchanged = tally.unchanged
            run.not_found = tally.not_found
            run.rejected = tally.rejected
            run.errors = list(tally.problems)
            session.add(run)
    return run, tally


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(s|m|min|h|d)?", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, maximum: float) -> float:
    """Seconds from "90", "90s", "15m", "6h" or "1d": more than 0, at most `maximum`;
    else ValueError saying what is wrong with `text`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: give seconds, or e.g. 90s, 15m, 6h, 1d")
    seconds = float(match[1]) * _UNIT_SECONDS[(match[2] or "").lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r}: must be more than 0")
    if seconds > maximum:
        raise ValueError(f"{text!r}: at most {maximum:g} seconds")
    return seconds
