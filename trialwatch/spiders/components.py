"""Scrapy components that run inside the crawl's child process: the item every fetch gives,
redirects held to the spider's allowed domains, the crawl's limits (timeouts, a deadline,
stop lines), and the pipeline that stores each body and writes the manifest line. Retries
are in ``retries``."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

from scrapy import Request, Spider, exceptions, signals
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.framing import write_frame
from trialwatch.spiders.limits import (  # re-exported: the spiders' settings use them
    DEFAULT_DEADLINE,
    DEFAULT_MAX_PAGES,
    DEFAULT_TIMEOUT,
    NETWORK_RETRIES,
    seconds_text,
)

log = logging.getLogger(__name__)

# Limits for an unattended crawl (each spider's custom_settings; `crawl_settings` overrides).
LIMIT_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_TIMEOUT": DEFAULT_TIMEOUT,
    "TRIALWATCH_NETWORK_RETRIES": NETWORK_RETRIES,
    "CLOSESPIDER_TIMEOUT": DEFAULT_DEADLINE,
    "TRIALWATCH_MAX_PAGES": DEFAULT_MAX_PAGES,
}

# The manifest's `kind` for a line that is not a fetch.
NOTICE = "notice"  # something to tell the user now, e.g. a request that timed out
STOP = "stop"  # the crawl was cut short; `reason` says why, and the run is failed

# Recent Scrapy raises its own DownloadTimeoutError; older versions Twisted's.
TIMEOUT_ERRORS: tuple[type[BaseException], ...] = tuple(
    t for t in (TwistedTimeoutError, getattr(exceptions, "DownloadTimeoutError", None)) if t
)


def fetch_item(
    spider_name: str,
    request: Request,
    *,
    url: str,
    status: int,
    outcome: str,
    body: bytes | None,
    reason: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """What every spider yields for one fetch: the raw body and where and when it came from.
    (SnapshotPipeline stores the body and writes the rest as a manifest line.)"""
    meta = request.meta
    return {
        "source": spider_name,
        "kind": meta.get("tw_kind", kind),
        "url": url,
        "status": status,
        "fetched_at": datetime.now(UTC).isoformat(),
        "outcome": outcome,
        "body": body,
        "requested_url": meta.get("tw_requested_url", request.url),
        "requested_nct": meta.get("tw_requested_nct"),
        "reason": reason,
        "version": meta.get("tw_version"),  # a record-history version number, if one
    }


def one_line(value: object, limit: int = 200) -> str:
    """A reason fit for one log or manifest line."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeout_of(request: Request, settings: Any) -> float:
    """The seconds a request waits for its answer."""
    return float(request.meta.get("download_timeout") or settings.getfloat("DOWNLOAD_TIMEOUT"))


# The keys of one manifest line (the fields of runner.Fetched).
MANIFEST_FIELDS = (
    "url",
    "status",
    "fetched_at",
    "outcome",
    "snapshot",
    "requested_url",
    "requested_nct",
    "reason",
    "kind",
    "version",
    "body",  # not in the header: the frame's raw bytes, when the parent asked for bodies inline
)


class OnSiteRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, followed only to hosts the spider allows.

    In Scrapy 2.11.2+ the downloader OffsiteMiddleware does see redirect targets (when they are
    scheduled), but it lets `dont_filter` requests through, which our start requests are (so a
    redirect to a page already fetched still gives its row), and it drops the rest silently,
    leaving no manifest line. So the target is checked here with the same policy
    (`OffsiteMiddleware.should_follow` over `allowed_domains`), then with the spider's own
    `follows_redirect(request, redirected)` when it has one. An off-site target is not
    requested: the 3xx response stands, marked, and the spider's errback records it as failed.
    A spider without allowed_domains (ctgov) is unaffected.
    """

    _offsite: OffsiteMiddleware

    @classmethod
    def from_crawler(cls, crawler: Any) -> OnSiteRedirectMiddleware:
        mw = super().from_crawler(crawler)
        mw._offsite = OffsiteMiddleware(crawler.stats)
        mw._offsite.crawler = crawler
        return mw

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if not isinstance(result, Request):
            return result
        current = self.crawler.spider
        allowed = current is not None and self._offsite.should_follow(result, current)
        check = getattr(current, "follows_redirect", None)
        if allowed and check is not None:
            allowed = bool(check(request, result))
        if allowed:
            return result
        log.info("not following the off-site redirect from %s to %s", request.url, result.url)
        request.meta["tw_offsite_redirect"] = result.url
        return response


class SnapshotPipeline:
    """Write each fetched item as a manifest frame: with its body's raw bytes after the header
    when the parent asked for that (TRIALWATCH_INLINE_BODIES: it keeps only what becomes a
    version), else with the hash of the body stored here."""

    def __init__(self, data_dir: str, inline: bool = False) -> None:
        self.store = None if inline else SnapshotStore(data_dir)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SnapshotPipeline:
        settings = crawler.settings
        return cls(
            settings.get("TRIALWATCH_DATA_DIR") or "snapshots",
            inline=settings.getbool("TRIALWATCH_INLINE_BODIES"),
        )

    def process_item(self, item: dict[str, Any], spider: Spider | None = None) -> dict[str, Any]:
        # Popped: the item outlives this call (feeds, stats), its body need not.
        body = item.pop("body", None)
        if self.store is None:  # inline
            item["snapshot"] = None
            write_manifest_line(item, body or None)
        else:
            item["snapshot"] = self.store.put(body) if body is not None else None
            write_manifest_line(item)
        return item


def event_item(kind: str, url: str, reason: str) -> dict[str, Any]:
    """An item that is not a fetch: a NOTICE, or why the crawl STOPped."""
    return {
        "url": url,
        "status": 0,
        "fetched_at": datetime.now(UTC).isoformat(),
        "outcome": "failed",
        "requested_url": url,
        "reason": one_line(reason, 400),
        "kind": kind,
    }


def write_event(kind: str, url: str, reason: str) -> None:
    """Write an event_item's manifest line now (from outside a callback)."""
    write_manifest_line(event_item(kind, url, reason))


class LimitedSpider(Spider):
    """A spider whose crawl can be cut short with a reason: the parent records the run as
    failed with it. A spider stops for its own reasons (a pageToken loop, the page cap) by
    yielding `stop_item`. The deadline is Scrapy's CLOSESPIDER_TIMEOUT, which closes the
    spider once the requests under way end; as those may hang (a robots.txt, then the request
    waiting on it), the process exits if it has not ended one DOWNLOAD_TIMEOUT later."""

    stop_reason: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._arm_deadline, signal=signals.spider_opened)
        return spider

    def stop_item(self, url: str, reason: str) -> dict[str, Any]:
        """Yielded after the page that showed the reason, so its line follows that page's."""
        self.stop_reason = reason
        self.logger.error("crawl stopped: %s", reason)
        return event_item(STOP, url, reason)

    def _deadline_passed(self) -> None:
        if self.stop_reason is None:
            deadline = seconds_text(self.settings.getfloat("CLOSESPIDER_TIMEOUT"))
            self.stop_reason = f"deadline of {deadline} reached: crawl stopped"
            self.logger.error("crawl stopped: %s", self.stop_reason)
            write_event(STOP, str(getattr(self, "base_url", None) or ""), self.stop_reason)

    def _arm_deadline(self) -> None:
        deadline = self.settings.getfloat("CLOSESPIDER_TIMEOUT")
        if deadline > 0:
            from twisted.internet import reactor  # not at import: it would install one

            grace = self.settings.getfloat("DOWNLOAD_TIMEOUT") + 1
            clock: Any = reactor
            clock.callLater(deadline, self._deadline_passed)
            clock.callLater(deadline + grace, self._abandon)

    def _abandon(self) -> None:
        self._deadline_passed()
        manifest.stream.flush()  # every line so far reaches the parent
        print(f"error: {self.stop_reason}; requests under way abandoned", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)

    def closed(self, reason: str) -> None:  # called by Scrapy when the spider closes
        if reason == "closespider_timeout":
            self._deadline_passed()


def write_manifest_line(item: dict[str, Any], body: bytes | None = None) -> None:
    """Write the item's manifest fields as one frame (what the parent reads as Fetched): a
    JSON header line, then `body`'s bytes when given."""
    row = {k: item.get(k) for k in MANIFEST_FIELDS if k != "body"}
    write_frame(manifest.stream, row, body)


class _Manifest:
    """Where manifest frames go: the real stdout, as bytes. The runner's main() points
    sys.stdout at stderr, so stray prints from any library can never corrupt the manifest;
    run by `scrapy crawl`, it is this process's stdout."""

    _stream: IO[bytes] | None = None

    @property
    def stream(self) -> IO[bytes]:
        if self._stream is not None:
            return self._stream
        sys.stdout.flush()  # what was printed as text goes first
        return sys.stdout.buffer

    @stream.setter
    def stream(self, value: IO[bytes]) -> None:
        self._stream = value


manifest = _Manifest()
