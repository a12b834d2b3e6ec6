"""ClinicalTrials.gov record-history spider: fetches a trial's version list and its versions.

Per trial, one chain of requests, each waiting for the one before: the version list
(``/api/int/studies/{NCT}/history``), then each wanted version
(``/api/int/studies/{NCT}/history/{n}``) in order, then the list again, so whoever stores the
versions can check the list did not move while they were fetched. Every fetch is one item
(the raw body plus where, when and what it was); nothing is parsed except the list, which
says what to fetch next.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from trialwatch.parsers import ParseError
from trialwatch.parsers.ctgov_history import parse_version_list, wanted_versions
from trialwatch.spiders.components import LimitedSpider, fetch_item
from trialwatch.spiders.ctgov import CtgovSpider, check_base_url, request_of, validate_nct_id
from trialwatch.spiders.retries import attempts, network_failure_item, status_text

# What each fetch was, as written in the manifest's `kind`.
LIST, VERSION, RECHECK = "history_list", "history_version", "history_recheck"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def check_history_arguments(
    *,
    nct_ids: Iterable[str] | str = (),
    base_url: str | None = None,
    have: Mapping[str, Iterable[int]] | str | None = None,
    modules: Sequence[str] | str | None = None,
) -> dict[str, Any]:
    """Check the spider's arguments; return them as plain JSON-able values, or raise
    ValueError naming what is wrong. (Strings are accepted for ``scrapy crawl -a``.)"""
    if isinstance(nct_ids, str):
        nct_ids = _split(nct_ids)
    ids = list(dict.fromkeys(validate_nct_id(n) for n in nct_ids))  # drop repeats, keep order
    if not ids:
        raise ValueError("nothing to fetch: give nct_ids")
    base = check_base_url(base_url or CtgovHistorySpider.default_base_url)
    if isinstance(have, str):
        try:
            have = json.loads(have)
        except ValueError:
            raise ValueError(f"have must be a JSON object, got {have!r}") from None
    if not isinstance(have, Mapping | None):
        raise ValueError(f"have must map NCT ids to version numbers, got {have!r}")
    held: dict[str, list[int]] = {}
    for nct, versions in (have or {}).items():
        bad = ValueError(f"have[{nct!r}] must list version numbers, got {versions!r}")
        if isinstance(versions, str | bytes) or not isinstance(versions, Iterable):
            raise bad
        numbers = list(versions)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in numbers):
            raise bad
        held[validate_nct_id(nct)] = sorted(set(numbers))
    labels: list[str] | None = None
    if modules is not None:
        if isinstance(modules, str):
            modules = _split(modules)
        if not all(isinstance(m, str) for m in modules):
            raise ValueError(f"modules must be module names, got {modules!r}")
        labels = [m.strip() for m in modules if m.strip()]
        if not labels:
            raise ValueError("modules is empty: name at least one module, or give none for all")
    return {"nct_ids": ids, "base_url": base, "have": held, "modules": labels}


class CtgovHistorySpider(LimitedSpider):
    """Fetch the whole record history of trials by NCT id.

    Arguments: nct_ids; base_url; have (NCT id -> version numbers already stored: not fetched
    again); modules (module labels, e.g. ["Eligibility"]: fetch only the first version and
    those that changed one of these modules; None: every version).
    """

    name = "ctgov_history"
    default_base_url = "https://clinicaltrials.gov"

    # As polite as the API v2 spider: about one request a second, AutoThrottle, retries that
    # honour Retry-After, robots.txt; and the same timeout and deadline.
    custom_settings: dict[str, Any] = dict(CtgovSpider.custom_settings)

    def __init__(
        self,
        *args: Any,
        nct_ids: Iterable[str] | str = (),
        base_url: str | None = None,
        have: Mapping[str, Iterable[int]] | str | None = None,
        modules: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        checked = check_history_arguments(
            nct_ids=nct_ids, base_url=base_url, have=have, modules=modules
        )
        self.nct_ids: list[str] = checked["nct_ids"]
        self.base_url: str = checked["base_url"]
        self.have: dict[str, set[int]] = {k: set(v) for k, v in checked["have"].items()}
        self.modules: list[str] | None = checked["modules"]

    # -- requests -------------------------------------------------------------------------

    def list_url(self, nct_id: str) -> str:
        return f"{self.base_url}/api/int/studies/{nct_id}/history"

    def version_url(self, nct_id: str, version: int) -> str:
        return f"{self.list_url(nct_id)}/{version}"

    def _request(
        self, kind: str, nct_id: str, version: int | None = None, queue: Sequence[int] = ()
    ) -> Request:
        url = self.list_url(nct_id) if version is None else self.version_url(nct_id, version)
        return Request(
            url,
            callback=self.parse_list if kind in (LIST, RECHECK) else self.parse_version,
            errback=self.on_error,
            # The recheck asks for a URL already fetched in this run.
            dont_filter=kind == RECHECK,
            meta={
                "tw_kind": kind,
                "tw_requested_url": url,
                "tw_requested_nct": nct_id,
                "tw_version": version,
                "tw_queue": list(queue),  # the versions still to fetch after this one
            },
        )

    def _next(self, nct_id: str, queue: Sequence[int]) -> Request:
        """The chain's next step: the next version, or the recheck of the list."""
        if queue:
            return self._request(VERSION, nct_id, queue[0], queue[1:])
        return self._request(RECHECK, nct_id)

    async def start(self) -> AsyncIterator[Any]:
        for nct_id in self.nct_ids:
            yield self._request(LIST, nct_id)

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13
        for nct_id in self.nct_ids:
            yield self._request(LIST, nct_id)

    # -- responses ------------------------------------------------------------------------

    def _item(self, response: Response, outcome: str, reason: str | None = None) -> dict[str, Any]:
        return fetch_item(
            self.name,
            request_of(response),
            url=response.url,
            status=response.status,
            outcome=outcome,
            body=response.body,
            reason=reason,
        )

    def parse_list(self, response: Response) -> Iterator[dict[str, Any] | Request]:
        request = request_of(response)
        nct_id = request.meta["tw_requested_nct"]
        try:
            entries = parse_version_list(response.body, nct_id)
        except ParseError as exc:
            self.logger.error("%s", exc)
            yield self._item(response, "failed", str(exc))
            return  # without the list there is nothing to fetch, nor to recheck
        yield self._item(response, "ok")
        if request.meta["tw_kind"] == RECHECK:
            return
        wanted = wanted_versions(entries, have=self.have.get(nct_id, set()), modules=self.modules)
        if wanted:  # an empty list, or one wholly held: no versions, nothing to recheck
            yield self._next(nct_id, wanted)

    def parse_version(self, response: Response) -> Iterator[dict[str, Any] | Request]:
        yield self._item(response, "ok")
        meta = request_of(response).meta
        yield self._next(meta["tw_requested_nct"], meta["tw_queue"])

    def on_error(self, failure: Failure) -> Iterator[dict[str, Any] | Request]:
        request: Request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            status = response.status
            # A list that is not there means the registry holds no history for the trial;
            # a listed version that is not there is a failure.
            tries = request_of(response).meta.get("retry_times", 0) + 1
            reason = f"{status_text(status)} after {attempts(tries)}"
            if status in (404, 410) and request.meta["tw_kind"] != VERSION:
                yield self._item(response, "not_found", reason)
            else:
                self.logger.error("%s: %s", response.url, reason)
                yield self._item(response, "failed", reason)
        else:
            yield network_failure_item(self, failure)
        if request.meta["tw_kind"] == VERSION:
            # One version lost does not stop the others, nor the recheck.
            yield self._next(request.meta["tw_requested_nct"], request.meta["tw_queue"])
