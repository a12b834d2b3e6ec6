"""ClinicalTrials.gov API v2 spider: fetches study records and search pages, parses nothing.

Each fetch becomes one item: the raw body plus where, when and why it was fetched. Storing the
body (SnapshotStore) and printing the manifest happen in the runner's pipeline, so this file
only knows the API's URLs and its pagination.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from trialwatch.ingest.page_stream import NotStreamable, read_page
from trialwatch.parsers.json_strict import loads_large
from trialwatch.spiders.components import (
    LIMIT_SETTINGS,
    LimitedSpider,
    fetch_item,
    one_line,
)
from trialwatch.spiders.retries import attempts, network_failure_item, status_text
from trialwatch.spiders.urls import validate_url

NCT_RE = re.compile(r"NCT[0-9]{8}", re.ASCII)
PAGE_SIZE = 1000  # the API's maximum: fewest requests for a search
USER_AGENT = "trialwatch/0.1 (+https://github.com/trialwatch/trialwatch)"

# Search parameters passed through to /api/v2/studies. pageSize, pageToken and format are
# ours; `fields` is refused so a stored page always holds whole records.
_PASS_THROUGH_PREFIXES = ("query.", "filter.", "postFilter.")
_PASS_THROUGH_NAMES = frozenset({"aggFilters", "geoDecay", "sort", "countTotal"})


def validate_nct_id(value: str) -> str:
    """Return the NCT id, or raise ValueError naming it."""
    if not isinstance(value, str) or not NCT_RE.fullmatch(value):
        raise ValueError(f"invalid NCT id {value!r}: expected 'NCT' followed by 8 digits")
    return value


def validate_query(query: Mapping[str, str]) -> dict[str, str]:
    """Keep the API's search parameters; refuse anything else by name."""
    out: dict[str, str] = {}
    for key, value in query.items():
        if not (key.startswith(_PASS_THROUGH_PREFIXES) or key in _PASS_THROUGH_NAMES):
            raise ValueError(
                f"unsupported search parameter {key!r}: use query.*, filter.*, postFilter.*, "
                f"{', '.join(sorted(_PASS_THROUGH_NAMES))}"
            )
        if not isinstance(value, str | int | bool):
            raise ValueError(f"search parameter {key!r} must be a string, got {value!r}")
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def request_of(response: Response) -> Request:
    """The request a response answers. Scrapy types it Optional: it is None only for a
    Response built by hand, never for one handed to a callback."""
    if response.request is None:
        raise ValueError(f"response from {response.url} carries no request")
    return response.request


def updated_since_filter(since: date) -> str:
    """The API's Essie expression for records updated on or after `since`."""
    return f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"


def check_base_url(value: str) -> str:
    """The API's base URL: http(s) with a host (a path is kept, e.g. a mirror's prefix);
    else ValueError naming it and what is wrong."""
    try:
        return validate_url(value).rstrip("/")
    except ValueError as exc:
        raise ValueError(str(exc).replace("invalid URL", "invalid base_url", 1)) from None


def page_outline(body: bytes) -> tuple[Any, bool]:
    """A search page's nextPageToken and whether it holds any studies; ValueError when it is
    not a JSON object. Read one study at a time: a 1,000-study page is never decoded whole
    in the crawl's process (each study is still decoded, so a broken page is caught here)."""
    try:
        members, studies = read_page(body, _nothing)
        return members.get("nextPageToken"), bool(studies)
    except NotStreamable:
        pass  # a page that reader does not walk: decoded whole, as before
    page = loads_large(body)  # orjson, the collector paused
    if not isinstance(page, dict):
        raise ValueError(f"top level is {type(page).__name__}, not an object")
    return page.get("nextPageToken"), bool(page.get("studies"))


def _nothing(_study: Any) -> None:
    return None


class CtgovSpider(LimitedSpider):
    """Fetch studies by NCT id (`/api/v2/studies/{id}`) and/or search pages (`/api/v2/studies`).

    Arguments (also accepted as strings, for `scrapy crawl ctgov -a ...`):
    nct_ids (list or comma-separated), query (mapping or `a=b&c=d`), updated_since
    (date or YYYY-MM-DD), base_url. A search follows nextPageToken until a page comes back
    empty or without one; a token seen before (a loop) or the page cap (setting
    TRIALWATCH_MAX_PAGES) stops it, and the crawl is failed with the reason.
    """

    name = "ctgov"
    default_base_url = "https://clinicaltrials.gov"

    # Polite by default (about one request a second); the runner's `settings` override these.
    custom_settings: dict[str, Any] = {
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 1.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 1.0,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "RETRY_TIMES": 5,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
        **LIMIT_SETTINGS,
    }

    def __init__(
        self,
        *args: Any,
        nct_ids: Iterable[str] | str = (),
        query: Mapping[str, str] | str | None = None,
        updated_since: date | str | None = None,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(nct_ids, str):
            nct_ids = [part.strip() for part in nct_ids.split(",") if part.strip()]
        # dict.fromkeys: drop repeats, keep order.
        self.nct_ids = list(dict.fromkeys(validate_nct_id(n) for n in nct_ids))
        if isinstance(query, str):
            query = dict(parse_qsl(query, keep_blank_values=True))
        self.query = validate_query(query or {})
        if isinstance(updated_since, str):
            try:
                updated_since = date.fromisoformat(updated_since)
            except ValueError:
                raise ValueError(
                    f"invalid updated_since {updated_since!r}: expected YYYY-MM-DD"
                ) from None
        self.updated_since = updated_since
        self.base_url = check_base_url(base_url or self.default_base_url)
        if not (self.nct_ids or self.query or self.updated_since):
            # A bare search would walk the whole registry; ask for it explicitly via a query.
            raise ValueError("nothing to crawl: give nct_ids, query or updated_since")
        self._tokens: dict[str, int] = {}  # every nextPageToken seen -> the page that gave it

    # -- requests -------------------------------------------------------------------------

    def study_url(self, nct_id: str) -> str:
        return f"{self.base_url}/api/v2/studies/{nct_id}"

    def search_params(self) -> dict[str, str]:
        params = {"pageSize": str(PAGE_SIZE), **self.query}
        if self.updated_since is not None:
            since = updated_since_filter(self.updated_since)
            given = params.get("filter.advanced")
            params["filter.advanced"] = f"({given}) AND {since}" if given else since
        return params

    def search_url(self, page_token: str | None = None) -> str:
        params = self.search_params()
        if page_token is not None:
            params["pageToken"] = page_token
        return f"{self.base_url}/api/v2/studies?{urlencode(params)}"

    def _request(
        self, url: str, kind: str, nct_id: str | None = None, page: int | None = None
    ) -> Request:
        return Request(
            url,
            callback=self.parse_page if kind == "page" else self.parse_study,
            errback=self.on_error,
            # Ids are de-duplicated above; a redirect to an already fetched study must still
            # be followed to record the alias, so the dupe filter stays out of the way.
            dont_filter=True,
            meta={
                "tw_kind": kind,
                "tw_requested_url": url,
                "tw_requested_nct": nct_id,
                "tw_page": page,  # a search page's number, from 1
            },
        )

    def _start_requests(self) -> Iterator[Request]:
        for nct_id in self.nct_ids:
            yield self._request(self.study_url(nct_id), "study", nct_id)
        if self.query or self.updated_since:
            yield self._request(self.search_url(), "page", page=1)

    async def start(self) -> AsyncIterator[Any]:
        for request in self._start_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13
        yield from self._start_requests()

    # -- responses ------------------------------------------------------------------------

    def _item(self, request: Request, **fields: Any) -> dict[str, Any]:
        return fetch_item(self.name, request, **fields)

    def parse_study(self, response: Response) -> Iterator[dict[str, Any]]:
        yield self._item(
            request_of(response),
            url=response.url,
            status=response.status,
            outcome="ok",
            body=response.body,
        )

    def parse_page(self, response: Response) -> Iterator[dict[str, Any] | Request]:
        request = request_of(response)
        try:
            token, any_studies = page_outline(response.body)
        except ValueError as exc:
            reason = f"not a JSON search page ({one_line(exc)})"
            self.logger.error("%s: %s; pagination stopped", response.url, reason)
            yield self._item(
                request,
                url=response.url,
                status=response.status,
                outcome="failed",
                body=response.body,
                reason=reason,
            )
            return
        yield self._item(
            request,
            url=response.url,
            status=response.status,
            outcome="ok",
            body=response.body,
        )
        # An exactly full page may carry a token to an empty page: the empty page ends it.
        if not any_studies or not isinstance(token, str) or not token:
            return
        number = int(request.meta.get("tw_page") or 1)
        if token in self._tokens:  # a cycle of any length, A→A or A→B→…→A
            shown = one_line(repr(token), 80)
            yield self.stop_item(
                response.url,
                f"pageToken loop: token {shown} seen at page {self._tokens[token]} and page "
                f"{number}; the search was not finished",
            )
            return
        self._tokens[token] = number
        settings = getattr(self, "settings", None)  # set once Scrapy runs the spider
        cap = settings.getint("TRIALWATCH_MAX_PAGES") if settings is not None else 0
        if cap and number >= cap:
            yield self.stop_item(
                response.url, f"page cap of {cap} pages reached; the search was not finished"
            )
            return
        yield self._request(self.search_url(token), "page", page=number + 1)

    def on_error(self, failure: Failure) -> Iterator[dict[str, Any]]:
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            request = request_of(response)
            status = response.status
            tries = request.meta.get("retry_times", 0) + 1
            outcome = "not_found" if status in (404, 410) else "failed"
            reason = f"{status_text(status)} after {attempts(tries)}"
            if request.meta.get("tw_kind") == "page":
                self.logger.error("%s: %s; pagination stopped", response.url, reason)
            yield self._item(
                request,
                url=response.url,
                status=status,
                outcome=outcome,
                body=response.body,
                reason=reason,
            )
            return
        yield network_failure_item(self, failure)
