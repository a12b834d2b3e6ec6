"""ClinicalTrials.Veeva (ctv.veeva.com) study pages, fetched by URL; parses nothing.

Study pages are addressed by a slug made from the study's title
(``https://ctv.veeva.com/study/<title-slug>``), not by NCT id, so an NCT id alone cannot make
the URL: pass the page URL (``--url``); `nct_ids` are refused.
"""

from __future__ import annotations

from typing import Any

from trialwatch.spiders.site import BaseSiteSpider, site_settings


class VeevaSpider(BaseSiteSpider):
    name = "veeva"
    site_hosts = ("ctv.veeva.com",)
    url_form = "https://ctv.veeva.com/study/<title-slug>"
    custom_settings: dict[str, Any] = site_settings(3.0)
