"""A search copied from the ClinicalTrials.gov website, as API v2 ``/studies`` parameters.

The website's search page (``/search?cond=...&aggFilters=...``), its expert search
(``/expert-search?term=...``) and a study page reached from a search
(``/study/NCT...?cond=...``) carry the search in their query string. Most of the website's
parameters name an API parameter directly (``cond`` is ``query.cond``, ``aggFilters`` is
``aggFilters``); its date ranges become ``filter.advanced`` Essie ranges and its location
fields a ``query.locn`` search. What only shapes the page (``rank``, ``page``, ``viewType``)
or has no documented API counterpart is returned as untranslated, never guessed.

Pure: no I/O, no Scrapy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

HOSTS = frozenset({"clinicaltrials.gov", "www.clinicaltrials.gov"})

# Website name -> API parameter, value unchanged.
_DIRECT = {
    "cond": "query.cond",
    "term": "query.term",
    "intr": "query.intr",
    "titles": "query.titles",
    "outc": "query.outc",
    "spons": "query.spons",
    "lead": "query.lead",
    "id": "query.id",
    "aggFilters": "aggFilters",
    "sort": "sort",
}
# Website date range (``FROM_TO``, either end may be empty) -> the API's Essie field.
_DATE_RANGES = {
    "start": "StartDate",
    "primComp": "PrimaryCompletionDate",
    "studyComp": "CompletionDate",
    "firstPost": "StudyFirstPostDate",
    "lastUpdPost": "LastUpdatePostDate",
    "resFirstPost": "ResultsFirstPostDate",
}
# Website location fields -> the API's location areas, searched within one location.
_PLACES = {
    "locn": "LocationFacility",
    "city": "LocationCity",
    "state": "LocationState",
    "country": "LocationCountry",
}
_PAGE_ONLY = {
    "rank": "the result the page was showing; a crawl fetches every result",
    "page": "a page of results; a crawl fetches every page",
    "limit": "results per page; a crawl fetches every page",
    "viewType": "how the website lays out results",
    "distance": "a distance from a point; the URL gives no API geo filter",
}
_DAY = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_STUDY = re.compile(r"/study/(NCT\d{8})/?", re.ASCII)
# Parameters whose values combine when given more than once.
_AND = ("query.", "filter.advanced", "postFilter.advanced")
_LIST = ("aggFilters", "filter.overallStatus")


@dataclass(frozen=True)
class Translation:
    """API parameters (each name once) and the URL's parts left out, each with why."""

    params: list[tuple[str, str]] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)


def translate(url: str) -> Translation:
    """The API v2 ``/studies`` parameters a ClinicalTrials.gov website search URL asks for.

    Raises ValueError (naming the URL and what is wrong) for a URL that is not such a search
    or that holds nothing that translates.
    """
    shown = url if len(url) <= 120 else url[:117] + "..."
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in HOSTS:
        raise ValueError(f"{shown!r} is not a ClinicalTrials.gov address")
    path = parts.path.rstrip("/") or "/"
    untranslated: list[str] = []
    study = _STUDY.fullmatch(parts.path)
    if study:
        untranslated.append(f"{study.group(1)}: the study page viewed, not part of the search")
    elif path not in ("/search", "/expert-search"):
        raise ValueError(
            f"{shown!r} is not a ClinicalTrials.gov search (/search?..., /expert-search?term=... "
            "or /study/NCT...?cond=...)"
        )
    out: list[tuple[str, str]] = []
    ranges: list[str] = []
    places: dict[str, str] = {}
    loc_text = ""
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        value = value.strip()
        if not value:
            continue
        if name in _DIRECT:
            out.append((_DIRECT[name], value))
        elif name in _DATE_RANGES:
            essie = _date_range(_DATE_RANGES[name], value)
            if essie is None:
                untranslated.append(f"{name}={value}: not a date range FROM_TO")
            else:
                ranges.append(essie)
        elif name in _PLACES:
            places[_PLACES[name]] = value
        elif name == "locStr":
            loc_text = value  # the place as typed; its parts (city, state, country) say more
        elif name in _PAGE_ONLY:
            untranslated.append(f"{name}={value}: {_PAGE_ONLY[name]}")
        else:
            untranslated.append(f"{name}={value}: no API v2 search parameter for it")
    if places:  # one location must match them all, as on the website
        terms = [f'AREA[{area}]"{v.replace(chr(34), " ")}"' for area, v in places.items()]
        one = terms[0] if len(terms) == 1 else f"SEARCH[Location]({' AND '.join(terms)})"
        out.append(("query.locn", one))
    elif loc_text:
        out.append(("query.locn", loc_text))
    if ranges:
        out.append(("filter.advanced", " AND ".join(ranges)))
    params = list(merge({}, out).items())
    if not params:
        left = "; ".join(untranslated) or "no parameters"
        raise ValueError(f"{shown!r} holds no search that translates ({left})")
    return Translation(params, untranslated)


def merge(query: Mapping[str, str], params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Add ``params`` to ``query``: a name given on both sides is searched with both values
    (``query.*`` and ``filter.advanced`` joined with AND, ``aggFilters`` and
    ``filter.overallStatus`` as one list); any other name given twice with different values
    is a ValueError naming it."""
    out = dict(query)
    for name, value in params:
        before = out.get(name)
        if before is None or before == value:
            out[name] = value
        elif name.startswith(_AND):
            out[name] = f"({before}) AND ({value})"
        elif name in _LIST:
            out[name] = f"{before},{value}"
        else:
            raise ValueError(f"{name} given twice: {before!r} and {value!r}")
    return out


def _date_range(area: str, value: str) -> str | None:
    low, sep, high = value.partition("_")
    if not sep or not (low or high):
        return None
    if (low and not _DAY.fullmatch(low)) or (high and not _DAY.fullmatch(high)):
        return None
    return f"AREA[{area}]RANGE[{low or 'MIN'},{high or 'MAX'}]"
