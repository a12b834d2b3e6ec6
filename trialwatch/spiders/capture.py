"""Fetch live pages to keep as test fixtures (used by trialwatch.capture); not a source.

Like `trialpage`: any http(s) URL, each held to its own host, robots.txt, the project's user
agent and delays. Its items also carry the response headers, and its pipeline writes one
fixture folder per URL under the crawl's data_dir instead of the snapshot store.
"""

from __future__ import annotations

from typing import Any

from scrapy.http import Response

from trialwatch.spiders.site import BaseSiteSpider, site_settings

# Kept out of fixtures that may be committed: they can identify a session.
DROPPED_HEADERS = frozenset({"set-cookie", "set-cookie2"})


class CaptureSpider(BaseSiteSpider):
    name = "capture"
    site_hosts = ()  # any host
    url_form = "any http(s) page URL"
    custom_settings: dict[str, Any] = {
        **site_settings(3.0),
        "ITEM_PIPELINES": {
            "trialwatch.spiders.components.SnapshotPipeline": None,
            "trialwatch.capture.CapturePipeline": 100,
        },
    }

    def extra_fields(self, response: Response) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, values in response.headers.items():
            key = name.decode("latin-1")
            if key.lower() not in DROPPED_HEADERS:
                headers[key] = ", ".join(v.decode("latin-1") for v in values)
        return {"headers": headers}
