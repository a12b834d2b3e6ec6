"""A trial-finder page on any host (a sponsor's or a hospital's), fetched by URL.

Any http(s) URL is accepted; each is held to its own host: a redirect elsewhere (even to the
host of another given URL) is recorded as failed, not followed. There is no URL form to build
from an NCT id, so `nct_ids` are refused: pass the page URL (``--url``). The host is the
site here, so there is no `base_url` mirror: point the URLs at a test server directly.
"""

from __future__ import annotations

from typing import Any

from trialwatch.spiders.site import BaseSiteSpider, site_settings


class TrialpageSpider(BaseSiteSpider):
    name = "trialpage"
    site_hosts = ()  # any host
    url_form = "any http(s) page URL"
    # Unknown hosts may be small servers: slower than the named sites.
    custom_settings: dict[str, Any] = site_settings(5.0)
