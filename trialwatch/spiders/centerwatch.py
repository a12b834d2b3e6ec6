"""CenterWatch (www.centerwatch.com) study listing pages, fetched by URL; parses nothing.

Listing URLs carry more than the NCT id (a listing path and a slug made from the title), and
no form built from the id alone is known to resolve, so `nct_ids` are refused: pass the page
URL (``--url``), as linked from the site.
"""

from __future__ import annotations

from typing import Any

from trialwatch.spiders.site import BaseSiteSpider, site_settings


class CenterwatchSpider(BaseSiteSpider):
    name = "centerwatch"
    site_hosts = ("www.centerwatch.com", "centerwatch.com")
    url_form = "https://www.centerwatch.com/clinical-trials/listings/<...>/<title-slug>"
    custom_settings: dict[str, Any] = site_settings(5.0)
