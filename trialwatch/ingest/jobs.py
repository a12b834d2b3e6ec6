"""Whole jobs, shared by the CLI and the scheduler: crawl and ingest, then send alerts."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from trialwatch.alerts.outbox import SendTally, send_pending
from trialwatch.alerts.smtp import SmtpSettings
from trialwatch.config import data_dir_override, load_config
from trialwatch.ingest.crawling import run_crawl
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine
from trialwatch.registry.models import CrawlRun, utcnow
from trialwatch.registry.rawstore import payload_store

Report = Callable[[str], None]


def crawl_settings(
    delay: float | None,
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_pages: int | None = None,
    http_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Scrapy settings for a crawl's options: the delay between requests (0, for a local
    mirror, also turns AutoThrottle off), the seconds to wait for one answer, the seconds
    the whole crawl may take, the most search pages it may fetch, and a folder for Scrapy's
    HTTP cache (answers kept there are replayed without asking the server again; see
    spiders.settings for what is kept).

    None keeps each spider's own default (a delay of about 1 s for ctgov, 3-5 s for the
    sites; a 30 s timeout, a 6 h deadline, 20,000 pages: see spiders.components; no cache).
    """
    settings: dict[str, Any] = {}
    if delay is not None:
        settings["DOWNLOAD_DELAY"] = delay
        settings["AUTOTHROTTLE_START_DELAY"] = max(delay, 0.1)
        if delay == 0:
            settings["AUTOTHROTTLE_ENABLED"] = False
    if timeout is not None:
        settings["DOWNLOAD_TIMEOUT"] = timeout
    if deadline is not None:
        settings["CLOSESPIDER_TIMEOUT"] = deadline
    if max_pages is not None:
        settings["TRIALWATCH_MAX_PAGES"] = max_pages
    if http_cache is not None:
        settings["HTTPCACHE_ENABLED"] = True
        # Absolute: Scrapy would put a relative one under a .scrapy/ folder.
        settings["HTTPCACHE_DIR"] = str(Path(http_cache).resolve())
    return settings


def pipeline_for(engine: Engine, report: Report | None) -> Pipeline:
    """The pipeline into ``engine``'s database and its raw payload store."""
    return Pipeline(engine, payload_store(engine, data_dir_override()), report)


def tally_line(tally: Tally) -> str:
    return (
        f"{tally.payloads} payload(s), {tally.records} record(s): {tally.first} new trial "
        f"version(s), {tally.new_versions} changed, {tally.inserted} older slotted in, "
        f"{tally.unchanged} unchanged, "
        f"{tally.changes} change(s), {tally.deliveries} alert(s) queued, "
        f"{tally.not_found} not found, {tally.rejected} rejected"
        + (f", {tally.failed} fetch(es) failed" if tally.failed else "")
        + (f", {len(tally.warnings)} warning(s)" if tally.warnings else "")
    )


def smtp_settings() -> SmtpSettings | None:
    """SMTP settings from the environment and config file; None when no server is set."""
    config = load_config()
    table = config.get("smtp")
    smtp: dict[str, Any] = table if isinstance(table, dict) else {}
    if not (os.environ.get("TRIALWATCH_SMTP_HOST") or smtp.get("host")):
        return None
    return SmtpSettings.load(os.environ, smtp)


def send_alerts(
    engine: Engine,
    *,
    report: Report,
    ssl_context: ssl.SSLContext | None = None,
    ignore_backoff: bool = False,
    only: Sequence[int] | None = None,
) -> SendTally | None:
    """Send what is due (``ignore_backoff``: all that is pending; ``only``: just those
    messages). Any number of these may run at once: each message goes once."""
    try:
        settings = smtp_settings()
    except ValueError as exc:  # a bad config file or SMTP setting: one line, nothing sent
        report(f"alerts: {exc}; alerts stay in the outbox")
        return None
    tally = send_pending(
        engine,
        settings,
        now=utcnow,
        ssl_context=ssl_context,
        report=report,
        ignore_backoff=ignore_backoff,
        only=only,
    )
    held = f", {tally.held} held" + (f" ({tally.untried} untried)" if tally.untried else "")
    report(
        f"alerts: {tally.composed} message(s) composed, {tally.sent} sent, "
        f"{tally.retrying} to retry{held}"
        + (f", {tally.taken} sent by another sender" if tally.taken else "")
    )
    if tally.still_held:
        report(
            f"alerts: {len(tally.still_held)} message(s) held since these SMTP settings failed "
            f"({tally.still_held[-1].last_error}); they go again once the settings change, "
            "or with `trialwatch alerts retry --all`"
        )
    if tally.no_smtp:
        report(
            f"alerts: {tally.no_smtp} email message(s) stay in the outbox: no SMTP server set "
            "(TRIALWATCH_SMTP_HOST)"
        )
    if tally.waiting and not ignore_backoff:
        report(
            f"alerts: {tally.waiting} message(s) wait out their retry backoff; "
            "`trialwatch alerts send --now` sends them now"
        )
    return tally


def crawl_and_alert(
    url: str,
    *,
    slug: str,
    nct_ids: Sequence[str] = (),
    urls: Sequence[str] = (),
    query: dict[str, str] | None = None,
    updated_since: date | None = None,
    base_url: str | None = None,
    delay: float | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    max_pages: int | None = None,
    job_id: str | None = None,
    report: Report,
) -> tuple[CrawlRun, Tally]:
    """One scheduled run: crawl → ingest → diff → outbox, then send what is due.

    With $TRIALWATCH_REDIS_URL set, a ctgov crawl is queued there instead, recorded as a
    queued run: `trialwatch worker`s fetch it, and the last one sends what is due."""
    engine = open_engine(url)
    redis_url = os.environ.get("TRIALWATCH_REDIS_URL")
    if redis_url and slug == "ctgov":
        from trialwatch.workers.enqueue import enqueue_crawl

        try:
            queued = enqueue_crawl(
                engine,
                redis_url,
                slug,
                nct_ids=nct_ids,
                query=query,
                updated_since=updated_since,
                base_url=base_url,
                settings=crawl_settings(
                    delay, timeout=timeout, deadline=deadline, max_pages=max_pages
                ),
                job_id=job_id,
            )
        finally:
            engine.dispose()
        report(queued.line())
        return queued.run, Tally()
    try:
        run, tally = run_crawl(
            pipeline_for(engine, report),
            slug,
            base_url=base_url,
            nct_ids=nct_ids,
            urls=urls,
            query=query,
            updated_since=updated_since,
            settings=crawl_settings(delay, timeout=timeout, deadline=deadline, max_pages=max_pages),
            job_id=job_id,
        )
        report(f"crawl run {run.id} ({run.status}): {tally_line(tally)}")
        send_alerts(engine, report=report)
        return run, tally
    finally:
        engine.dispose()
