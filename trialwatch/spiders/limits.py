"""A crawl's default limits, apart from Scrapy: the command line reads them at start-up, and
importing Scrapy for four numbers would cost every command half a second."""

from __future__ import annotations

DEFAULT_TIMEOUT = 30.0  # seconds to wait for an answer to one request
NETWORK_RETRIES = 1  # a request with no answer (timed out, refused) is tried this many more times
DEFAULT_DEADLINE = 6 * 3600.0  # seconds for the whole crawl
DEFAULT_MAX_PAGES = 20_000  # search pages (the whole registry is about 600 at pageSize 1000)


def seconds_text(seconds: float) -> str:
    """A duration as people write it: 30 s, 90 s, 15 min, 6 h."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 600 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
