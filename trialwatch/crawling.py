"""A crawl: run a spider in a child process and ingest each payload as it arrives, recorded
as a crawl_run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from trialwatch.alerts.watches import query_key
from trialwatch.pipeline import Pipeline, Tally
from trialwatch.registry.db import transaction
from trialwatch.registry.ingest import record_alias
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
) -> tuple[CrawlRun, Tally]:
    """Run one crawl, ingesting each payload as it arrives; recorded as a crawl_run.

    Bad arguments raise ValueError before anything is fetched or recorded.
    """
    from trialwatch.spiders.runner import Fetched, build_job, run_job

    job = build_job(
        slug,
        data_dir=pipeline.store.root,
        base_url=base_url,
        nct_ids=nct_ids,
        urls=urls,
        query=query,
        updated_since=updated_since,
        settings=settings,
    )
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
    search = query_key(query) if query else None

    def on_fetch(fetched: Fetched) -> None:
        if fetched.outcome == "not_found":
            tally.not_found += 1
            pipeline.report(f"{fetched.requested_url}: not found ({fetched.status})")
            return
        if fetched.outcome != "ok" or fetched.snapshot is None:
            reason = fetched.reason or f"fetch failed (HTTP {fetched.status})"
            tally.reject(f"{fetched.requested_url}: {reason}")
            pipeline.report(tally.problems[-1])
            pipeline.set_aside(
                reason,
                source=slug,
                url=fetched.url,
                snapshot=fetched.snapshot,
                observed_at=fetched.fetched_at,
                crawl_run_id=run.id,
            )
            return
        records = pipeline.ingest_body(
            pipeline.store.get(fetched.snapshot),
            name=fetched.url,
            observed_at=fetched.fetched_at,
            tally=tally,
            url=fetched.url,
            source=slug,
            crawl_run_id=run.id,
            search_key=search,
        )
        if slug == "ctgov" and fetched.requested_nct and len(records) == 1:
            nct = records[0].nct_id
            with transaction(pipeline.engine) as session:
                record_alias(
                    session,
                    alias=fetched.requested_nct,
                    nct_id=nct or fetched.requested_nct,
                    observed_at=fetched.fetched_at,
                )

    status = "ok"
    try:
        run_job(slug, job, on_fetch)
    except Exception as exc:  # the crawl process died: record it, then re-raise
        status = "failed"
        tally.problems.append(f"crawl {slug}: {exc}")
        raise
    finally:
        with transaction(pipeline.engine) as session:
            run.finished_at = utcnow()
            run.status = status if not tally.rejected or status == "failed" else "partial"
            run.fetched = tally.payloads + tally.not_found
            run.new_versions = tally.first + tally.new_versions + tally.inserted
            run.unchanged = tally.unchanged
            run.not_found = tally.not_found
            run.rejected = tally.rejected
            run.errors = list(tally.problems)
            session.add(run)
    return run, tally
