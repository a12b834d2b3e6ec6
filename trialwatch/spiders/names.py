"""The slugs of the sources a crawl can fetch, without importing Scrapy (the command line
lists them at start-up); ``runner.SPIDERS`` maps each to its spider."""

from __future__ import annotations

CRAWL_SOURCES: tuple[str, ...] = (
    "centerwatch",
    "clinicaltrialexchange",
    "ctgov",
    "trialpage",
    "veeva",
)
