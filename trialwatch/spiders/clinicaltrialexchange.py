"""ClinicalTrialExchange (www.clinicaltrialexchange.com) study pages, fetched by URL.

Study URLs end with the NCT id but need the title slug before it
(``https://www.clinicaltrialexchange.com/clinical-trials/<title-slug>/<NCT id>``), so an NCT
id alone cannot make the URL: pass the page URL (``--url``); `nct_ids` are refused. The NCT id
in a given URL is kept as the fetch's `requested_nct`. Both the www and the bare host serve
the pages.
"""

from __future__ import annotations

from typing import Any

from trialwatch.spiders.site import BaseSiteSpider, site_settings


class ClinicaltrialexchangeSpider(BaseSiteSpider):
    name = "clinicaltrialexchange"
    site_hosts = ("www.clinicaltrialexchange.com", "clinicaltrialexchange.com")
    url_form = "https://www.clinicaltrialexchange.com/clinical-trials/<title-slug>/<NCT id>"
    custom_settings: dict[str, Any] = site_settings(5.0)
