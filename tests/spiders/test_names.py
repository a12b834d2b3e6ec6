"""The command line's list of crawlable sources (read without Scrapy) is the spiders'."""

from trialwatch.spiders.names import CRAWL_SOURCES
from trialwatch.spiders.runner import SPIDERS


def test_the_crawlable_sources_are_the_spiders() -> None:
    assert sorted(CRAWL_SOURCES) == sorted(SPIDERS)
