"""What the page spiders share: URL checks, polite settings, and one item per page fetched.

A page spider fetches exactly the URLs it is given and never follows a link, so it needs no
knowledge of a site's markup: whether a page is understood is the parser's business. Each
site's file names its hosts, its delay and, where the site allows it, how an NCT id alone
makes a page URL.

Host rules follow Scrapy's OffsiteMiddleware: a host is allowed when it equals one of the
spider's `allowed_domains` or is a subdomain of one. Redirects are held to the same rule by
`components.OnSiteRedirectMiddleware`; an off-site redirect is recorded as failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from trialwatch.spiders.components import (
    LIMIT_SETTINGS,
    LimitedSpider,
    fetch_item,
    one_line,
)
from trialwatch.spiders.ctgov import NCT_RE, USER_AGENT, request_of, validate_nct_id
from trialwatch.spiders.retries import attempts, network_failure_item, status_text
from trialwatch.spiders.urls import host_allowed, validate_url


def site_settings(delay: float) -> dict[str, Any]:
    """Polite defaults for a small site: one request at a time, `delay` seconds apart or more."""
    return {
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "RETRY_TIMES": 3,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en",
        },
        # A refresh tag is page content; following it would be following a link.
        "METAREFRESH_ENABLED": False,
        "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
        "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
        **LIMIT_SETTINGS,
    }


def nct_in_url(url: str) -> str | None:
    """The NCT id in the URL's path when there is exactly one, else None."""
    found = set(NCT_RE.findall(urlsplit(url).path))
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Target:
    url: str  # what is requested (on the mirror when base_url is given)
    nct_id: str | None


class BaseSiteSpider(LimitedSpider):
    """Fetch the given page URLs (`urls`), or pages built from NCT ids where the site allows.

    Arguments (also as strings, for `scrapy crawl <slug> -a ...`): urls (list, or separated
    by whitespace), nct_ids (list or comma-separated), base_url (a mirror standing in for the
    site, e.g. a replay server: each URL's scheme and host are swapped for the mirror's and
    allowed_domains becomes the mirror's host).
    """

    # Hosts this site serves pages from; empty means any host, each URL held to its own.
    site_hosts: ClassVar[tuple[str, ...]] = ()
    # How a page URL is written, for docs and error messages.
    url_form: ClassVar[str] = ""
    # Set when an NCT id alone makes a page URL: a str.format template with {nct_id}.
    nct_url_template: ClassVar[str | None] = None
    custom_settings: dict[str, Any] = site_settings(5.0)

    def __init__(
        self,
        *args: Any,
        urls: Iterable[str] | str = (),
        nct_ids: Iterable[str] | str = (),
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(urls, str):
            urls = urls.split()
        if isinstance(nct_ids, str):
            nct_ids = [part.strip() for part in nct_ids.split(",") if part.strip()]
        checked = self.check_arguments(urls=list(urls), nct_ids=list(nct_ids), base_url=base_url)
        self.base_url: str | None = checked["base_url"]
        self.targets = [
            Target(self._on_mirror(url), nct)
            for url, nct in self._pages(checked["urls"], checked["nct_ids"])
        ]
        if self.base_url is not None:
            self.allowed_domains = [urlsplit(self.base_url).hostname or ""]
        elif self.site_hosts:
            self.allowed_domains = list(self.site_hosts)
        else:
            hosts = (urlsplit(t.url).hostname or "" for t in self.targets)
            self.allowed_domains = sorted(set(hosts))

    # -- arguments ------------------------------------------------------------------------

    @classmethod
    def check_arguments(
        cls, *, urls: Sequence[str], nct_ids: Sequence[str], base_url: str | None
    ) -> dict[str, Any]:
        """Validate the arguments (ValueError, one line); return them as JSON-ready values."""
        for name, value in (("urls", urls), ("nct_ids", nct_ids)):
            if isinstance(value, str):
                raise ValueError(f"{name} must be a sequence, not the string {value!r}")
        ids = [validate_nct_id(n) for n in nct_ids]
        if ids and cls.nct_url_template is None:
            raise ValueError(
                f"{cls.name} cannot fetch by NCT id: its page URLs need more than the id "
                f"({cls.url_form}); pass --url with the page URL instead"
            )
        checked = [validate_url(u, cls.site_hosts) for u in urls]
        if not (checked or ids):
            how = "urls or nct_ids" if cls.nct_url_template else "urls"
            raise ValueError(f"nothing to crawl: give {cls.name} {how}")
        if base_url is not None:
            base_url = cls._check_base_url(base_url)
        return {
            "urls": list(dict.fromkeys(checked)),
            "nct_ids": list(dict.fromkeys(ids)),
            "base_url": base_url,
        }

    @classmethod
    def _check_base_url(cls, base_url: str) -> str:
        if not cls.site_hosts:
            raise ValueError(f"{cls.name} takes no base_url: it fetches each URL as given")
        checked = validate_url(base_url).rstrip("/")
        parts = urlsplit(checked)
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"invalid base_url {base_url!r}: expected scheme://host[:port] only")
        return checked

    def _pages(self, urls: list[str], ids: list[str]) -> Iterator[tuple[str, str | None]]:
        seen: set[str] = set()
        # check_arguments refuses ids when the site has no template
        template = self.nct_url_template
        built = [(template.format(nct_id=n), n) for n in ids] if template else []
        for url, nct in [*((u, nct_in_url(u)) for u in urls), *built]:
            if url not in seen:
                seen.add(url)
                yield url, nct

    def _on_mirror(self, url: str) -> str:
        if self.base_url is None:
            return url
        mirror = urlsplit(self.base_url)
        parts = urlsplit(url)
        return urlunsplit((mirror.scheme, mirror.netloc, parts.path or "/", parts.query, ""))

    # -- requests -------------------------------------------------------------------------

    def _start_requests(self) -> Iterator[Request]:
        for target in self.targets:
            yield Request(
                target.url,
                callback=self.parse_page,
                errback=self.on_error,
                # URLs are de-duplicated above; a redirect to one already fetched must still
                # give its row. Off-site redirects are stopped by OnSiteRedirectMiddleware.
                dont_filter=True,
                meta={
                    "tw_kind": "page",
                    "tw_requested_url": target.url,
                    "tw_requested_nct": target.nct_id,
                },
            )

    async def start(self) -> AsyncIterator[Any]:
        for request in self._start_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13
        yield from self._start_requests()

    def follows_redirect(self, request: Request, redirected: Request) -> bool:
        """Asked by OnSiteRedirectMiddleware after the allowed_domains check. A spider for
        any host holds each page to the host it was asked for."""
        if self.site_hosts or self.base_url is not None:
            return True
        origin = urlsplit(request.meta.get("tw_requested_url", request.url)).hostname or ""
        return host_allowed(urlsplit(redirected.url).hostname or "", [origin])

    # -- responses ------------------------------------------------------------------------

    def extra_fields(self, response: Response) -> dict[str, Any]:
        """More fields for the item (none here; the capture spider adds headers)."""
        return {}

    def _item(self, request: Request, **fields: Any) -> dict[str, Any]:
        return fetch_item(self.name, request, kind="page", **fields)

    def parse_page(self, response: Response) -> Iterator[dict[str, Any]]:
        item = self._item(
            request_of(response),
            url=response.url,
            status=response.status,
            outcome="ok",
            body=response.body,
        )
        yield {**item, **self.extra_fields(response)}

    def on_error(self, failure: Failure) -> Iterator[dict[str, Any]]:
        if isinstance(failure.value, HttpError):
            yield self._http_error_item(failure.value.response)
            return
        yield network_failure_item(self, failure, kind="page")

    def _http_error_item(self, response: Response) -> dict[str, Any]:
        request = request_of(response)
        status = response.status
        offsite = request.meta.get("tw_offsite_redirect")
        tries = request.meta.get("retry_times", 0) + 1
        outcome = "not_found" if status in (404, 410) else "failed"
        reason = f"{status_text(status)} after {attempts(tries)}"
        if offsite:
            reason = f"HTTP {status} redirect to {offsite} not followed: off-site"
        if outcome == "failed":
            self.logger.error("fetch failed: %s: %s", response.url, reason)
        item = self._item(
            request,
            url=response.url,
            status=status,
            outcome=outcome,
            body=response.body,
            reason=one_line(reason, 400),
        )
        return {**item, **self.extra_fields(response)}
