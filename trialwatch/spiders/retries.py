"""Retries that ride out a server's throttling, inside the crawl's child process.

An HTTP 429 or 5xx is tried again (RETRY_TIMES more times) after the wait the server asks
for in Retry-After (seconds or an HTTP date, capped at RETRY_AFTER_MAX), else after an
exponential backoff from RETRY_BACKOFF_BASE. A request that got no answer at all (timed out,
refused, cut off) is tried TRIALWATCH_NETWORK_RETRIES more times: a server that is down is
unlikely to be up a second later. Each retry is one NOTICE line for the user, and so is a
robots.txt that could not be read: then no rules are known and the crawl goes on, one
request at a time, DOWNLOAD_DELAY apart.

The wait holds back every request to that host, not only the retried one. It is kept here,
not in the downloader's slot, whose fields (and clock) differ between Scrapy versions.
"""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import deferLater

from trialwatch.spiders.components import (
    NOTICE,
    TIMEOUT_ERRORS,
    fetch_item,
    one_line,
    timeout_of,
    write_event,
)
from trialwatch.spiders.limits import NETWORK_RETRIES, seconds_text

# The few words for an exception that means no answer came, by class name (Twisted's and
# Scrapy's own names differ between versions); anything else is named by its class.
_NO_ANSWER = {
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "CannotResolveHostError": "host not found",
    "DNSLookupError": "host not found",
    "TCPTimedOutError": "connection timed out",
    "ConnectionLost": "connection lost",
    "ConnectionDone": "connection closed",
    "ResponseDataLossError": "answer cut short",
    "ResponseFailed": "connection lost",
    "ResponseNeverReceived": "no answer",
    "TunnelError": "proxy tunnel failed",
    "SSLError": "TLS failed",
}


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    now = now or datetime.now(when.tzinfo)
    return max(0.0, (when - now).total_seconds())


def attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def status_text(status: int) -> str:
    """ "HTTP 429 Too Many Requests" (Twisted's table, used by Scrapy's message, lacks 429)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def no_answer_text(exc: BaseException, request: Request, settings: Any) -> str:
    """Why a request got no answer, in a few words: 'connection refused', 'timed out: no
    answer within 30 s'."""
    if isinstance(exc, TIMEOUT_ERRORS):
        return f"timed out: no answer within {seconds_text(timeout_of(request, settings))}"
    # Scrapy wraps Twisted's errors (DownloadFailedError from ResponseFailed, whose reasons
    # hold the ConnectionLost): the first one named anywhere in the chain says why.
    for cause in _causes(exc):
        for cls in type(cause).__mro__:
            if cls.__name__ in _NO_ANSWER:
                return _NO_ANSWER[cls.__name__]
    said = one_line(exc, 120)
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, then what it wraps: its cause, and the failures a Twisted wrapper lists."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 8:
        one = todo.pop(0)
        if one in found:
            continue
        found.append(one)
        inner = [getattr(reason, "value", reason) for reason in getattr(one, "reasons", ())]
        todo += [e for e in (*inner, one.__cause__) if isinstance(e, BaseException)]
    return found


def network_failure_item(spider: Spider, failure: Any, **fields: Any) -> dict[str, Any]:
    """The item for a fetch that got no answer (DNS, refused, timed out, ...) after its
    retries: its reason in a few words, without the URL (the item carries it)."""
    request: Request = failure.request
    tries = request.meta.get("retry_times", 0) + 1
    reason = f"{no_answer_text(failure.value, request, spider.settings)} after {attempts(tries)}"
    spider.logger.error("fetch failed: %s: %s", request.url, reason)
    return fetch_item(
        spider.name,
        request,
        url=request.url,
        status=0,
        outcome="failed",
        body=None,
        reason=reason,
        **fields,
    )


def is_robots(request: Request) -> bool:
    """Scrapy's own robots.txt request (ours carry tw_kind)."""
    return "tw_kind" not in request.meta and urlparse_cached(request).path == "/robots.txt"


async def pause(seconds: float) -> None:
    # Imported here: importing the reactor at module level would install the default one.
    from twisted.internet import reactor

    # deferLater + maybe_deferred_to_future: works on the asyncio and other reactors.
    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retries, waiting as the server asks, each said in one line (see the module)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 120.0)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.network_retries = settings.getint("TRIALWATCH_NETWORK_RETRIES", NETWORK_RETRIES)
        self.held: dict[str, float] = {}  # host -> time.monotonic() its requests may go again

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = urlparse_cached(request).netloc
        while (wait := self.held.get(host, 0.0) - time.monotonic()) > 0:
            await pause(wait)

    def _hold(self, request: Request, seconds: float) -> None:
        host = urlparse_cached(request).netloc
        self.held[host] = max(self.held.get(host, 0.0), time.monotonic() + seconds)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return self._robots_unread(request, response)
        retry = self._retry(request, status_text(response.status))
        if retry is None:
            return self._robots_unread(request, response)
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        if asked is None:
            asked = self.backoff_base * 2 ** (retry.meta.get("retry_times", 1) - 1)
        wait = min(asked, self.max_wait)
        self._hold(request, wait)
        tries = retry.meta.get("retry_times", 1) + 1
        most = request.meta.get("max_retry_times", self.max_retry_times) + 1
        write_event(
            NOTICE,
            request.url,
            f"HTTP {response.status} from {request.url}: trying again in "
            f"{seconds_text(round(wait, 1))} (attempt {tries} of {most})",
        )
        return retry

    def _robots_unread(self, request: Request, response: Response) -> Response:
        """A robots.txt that could not be read (not 2xx, not 404/410) gives no rules, said
        once; its body (an error page) is never read as rules."""
        if not is_robots(request) or 200 <= response.status < 300 or response.status in (404, 410):
            return response
        tries = request.meta.get("retry_times", 0) + 1
        self._say_no_rules(request, f"{status_text(response.status)} after {attempts(tries)}")
        return response.replace(body=b"")

    def _say_no_rules(self, request: Request, why: str) -> None:
        delay = seconds_text(self.crawler.settings.getfloat("DOWNLOAD_DELAY"))
        write_event(
            NOTICE,
            request.url,
            f"{request.url}: {why}; no rules known, crawling on one request at a time, "
            f"{delay} apart",
        )

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        """No answer at all: tried again NETWORK_RETRIES times, each said at once."""
        if request.meta.get("dont_retry", False):
            return None
        if not isinstance(exception, self.exceptions_to_retry + TIMEOUT_ERRORS):
            return None
        assert self.crawler.spider is not None
        why = no_answer_text(exception, request, self.crawler.settings)
        tries = request.meta.get("retry_times", 0) + 1
        retry = get_retry_request(
            request,
            reason=exception,
            spider=self.crawler.spider,
            max_retry_times=self.network_retries,
            priority_adjust=self.priority_adjust,
        )
        if retry is not None:
            write_event(
                NOTICE,
                request.url,
                f"{request.url}: {why}; trying again (attempt {tries + 1} of "
                f"{self.network_retries + 1})",
            )
        elif is_robots(request):
            self._say_no_rules(request, f"{why} after {attempts(tries)}")
        return retry
