"""The Scrapy side of crawls shared through Redis (scrapy-redis): the scheduler a worker's
crawl child uses, the settings that install it, and how a run's start requests are queued.

One run has one request queue and one set of request fingerprints in Redis; every worker's
crawl child takes requests from that queue and puts the ones its callbacks yield (the next
search page, a redirect, a retry) back into it, so any worker may take them.

This module is also the queue's serializer (``SCHEDULER_SERIALIZER`` names a module with
``dumps`` and ``loads``): requests are queued as JSON, never pickled, so whoever can write to
the Redis server cannot make a worker run code.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, Spider
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from trialwatch.spiders.components import STOP, write_event


def worker_settings(
    redis_url: str, *, queue_key: str, seen_key: str, stop_key: str
) -> dict[str, Any]:
    """Scrapy settings for a crawl child serving one run's queue in Redis."""
    return {
        "SCHEDULER": f"{__name__}.RunScheduler",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": queue_key,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": seen_key,
        "SCHEDULER_SERIALIZER": __name__,
        # A child that finds the queue empty ends, and the run's queue and fingerprints stay
        # for the other workers; the worker that sees the run finished deletes them.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        # One request at a time per worker: a worker takes from the shared queue only what it
        # is about to fetch, so the work spreads over the workers.
        "CONCURRENT_REQUESTS": 1,
        "TRIALWATCH_REDIS_STOP_KEY": stop_key,
    }


def queue_start_requests(
    pipe: Any, spider: Spider, requests: Iterable[Request], *, queue_key: str, seen_key: str
) -> int:
    """Add a run's start requests to ``pipe`` (a Redis pipeline): each into the queue, its
    fingerprint into the run's seen set. Returns how many."""
    queue = PriorityQueue(pipe, spider, queue_key, serializer=sys.modules[__name__])
    fingerprints = RFPDupeFilter(pipe, seen_key)
    count = 0
    for request in requests:
        pipe.sadd(seen_key, fingerprints.request_fingerprint(request))
        queue.push(request)
        count += 1
    return count


def is_repeat(request: Request) -> bool:
    """A retry or a redirect of a request already let through: fetched again on purpose."""
    return "retry_times" in request.meta or "redirect_times" in request.meta


class RunScheduler(Scheduler):
    """scrapy-redis's scheduler, with the rules of a run shared by several workers.

    - A start request is never queued by a worker: `crawl --redis` queued them all with the
      run (on Scrapy < 2.13, which does not mark them, the seen set drops them).
    - Every other request is fetched once per run, whatever its ``dont_filter`` (the ctgov
      spider sets it on all of its requests, for the reason given there), except retries and
      redirects, which repeat a request on purpose.
    - A search page dropped as seen before means a pageToken loop: the crawl is stopped
      with that reason, as a single process would.
    - When the worker is asked to stop, the child takes nothing more and ends once the
      request under way is done; so it does when Redis is lost, with a STOP line saying so.
    """

    df: Any  # the run's seen set (scrapy-redis RFPDupeFilter), made in open()
    stop_key: str | None = None
    _stopping = False
    _lost: str | None = None  # why the queue cannot be used any more

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunScheduler:
        scheduler: RunScheduler = super().from_crawler(crawler)
        scheduler.stop_key = crawler.settings.get("TRIALWATCH_REDIS_STOP_KEY")
        return scheduler

    def open(self, spider: Spider) -> None:
        # scrapy-redis's own open() and next_request() call what Scrapy 2.13+ deprecates
        # (Spider.log, a spider passed to the stats): the same steps, without those calls.
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server,
            spider=spider,
            key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)

    def enqueue_request(self, request: Request) -> bool:
        if self._lost:
            return False
        try:
            if not is_repeat(request):
                if request.meta.get("is_start_request"):
                    return False
                if self.df.request_seen(request):
                    self._seen_before(request)
                    return False
            self.queue.push(request)
        except RedisError as exc:
            self._lose(exc, request)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def _seen_before(self, request: Request) -> None:
        if request.meta.get("tw_kind") == "page" and (request.meta.get("tw_page") or 1) > 1:
            reason = (
                f"pageToken loop: page {request.meta['tw_page']} asks for {request.url}, "
                "already fetched in this run; the search was not finished"
            )
            self.spider.logger.error("crawl stopped: %s", reason)
            write_event(STOP, request.url, reason)

    def _lose(self, exc: Exception, request: Request | None = None) -> None:
        """Redis is gone: take nothing more, and stop the crawl saying why (the request
        being queued, if one, is lost: the run is failed)."""
        if self._lost is None:
            said = " ".join(str(exc).split()) or type(exc).__name__
            self._lost = f"lost the run's queue in Redis: {said}"
            self.spider.logger.error("crawl stopped: %s", self._lost)
            write_event(STOP, request.url if request is not None else "", self._lost)

    def stopping(self) -> bool:
        """Asked to stop (or Redis lost): nothing more is taken from the queue."""
        if self._lost:
            return True
        if not self._stopping and self.stop_key:
            try:
                self._stopping = bool(self.server.exists(self.stop_key))
            except RedisError as exc:
                self._lose(exc)
                return True
        return self._stopping

    def next_request(self) -> Request | None:
        if self.stopping():
            return None
        try:
            request: Request | None = self.queue.pop(self.idle_before_close)
        except RedisError as exc:
            self._lose(exc)
            return None
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        if self.stopping():
            return False
        try:
            return bool(super().has_pending_requests())
        except RedisError as exc:
            self._lose(exc)
            return False


# -- the queue's serializer: JSON, bytes and non-text keys tagged ------------------------------


def dumps(obj: Any) -> bytes:
    return json.dumps(_encode(obj), separators=(",", ":"), sort_keys=True).encode("utf-8")


def loads(data: bytes | str) -> Any:
    return _decode(json.loads(data))


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"a queued request cannot hold a {type(value).__name__}: {value!r:.80}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$items" in value:
            return {_decode(k): _decode(v) for k, v in value["$items"]}
        return {k: _decode(v) for k, v in value.items()}
    return value
