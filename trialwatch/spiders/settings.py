"""Scrapy settings for every trialwatch crawl, under each spider's own custom_settings (the
runner's job settings win over both). Also Scrapy's project settings (``scrapy.cfg``), so that
``scrapy list`` and ``scrapy crawl ctgov -a nct_ids=NCT...`` work from a source checkout."""

from __future__ import annotations

from typing import Any

BOT_NAME = "trialwatch"
# The sources' spiders and the registry history's, module by module: the package also holds
# modules that need optional dependencies (the Redis queue).
SPIDER_MODULES = [
    "trialwatch.spiders.ctgov",
    "trialwatch.spiders.ctgov_history",
    "trialwatch.spiders.veeva",
    "trialwatch.spiders.centerwatch",
    "trialwatch.spiders.clinicaltrialexchange",
    "trialwatch.spiders.trialpage",
]

BASE_SETTINGS: dict[str, Any] = {
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "trialwatch.spiders.retries.RetryAfterMiddleware": 550,
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
        "trialwatch.spiders.components.OnSiteRedirectMiddleware": 600,
    },
    "ITEM_PIPELINES": {"trialwatch.spiders.components.SnapshotPipeline": 100},
    "RETRY_AFTER_MAX": 120.0,  # cap on a server's Retry-After, in seconds
    "RETRY_BACKOFF_BASE": 2.0,  # wait before retry n when no Retry-After: base * 2**(n-1)
    # `crawl --http-cache DIR`: every answer but a throttled or failed one is kept, and
    # replayed without asking the server again (a crawl replayed offline).
    "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.DummyPolicy",
    "HTTPCACHE_IGNORE_HTTP_CODES": [408, 429, 500, 502, 503, 504, 522, 524],
    "HTTPCACHE_GZIP": True,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",  # silences a warning on Scrapy < 2.12
}

# Scrapy reads a project's settings as module globals.
globals().update(BASE_SETTINGS)
