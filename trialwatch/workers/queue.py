"""The runs queued in Redis, and which workers are on each: the keys, and the two steps a
worker takes atomically (Lua scripts), joining a run and leaving it.

Keys, under a prefix ($TRIALWATCH_REDIS_PREFIX, default ``trialwatch``; one per database):

- ``P:runs``: the runs not finished (sorted set: crawl_run id, scored by when queued)
- ``P:run:ID``: the run (hash): ``job`` (the crawl's arguments and settings, JSON) and
  ``token`` (also in the crawl_run row, so a worker on another database leaves it alone);
  counts of parts that failed or were interrupted, and ``lost:WORKER`` for a worker that went
  silent while on it
- ``P:run:ID:requests``: its request queue (scrapy-redis priority queue)
- ``P:run:ID:seen``: the fingerprints of the requests it has queued (scrapy-redis dupefilter)
- ``P:run:ID:workers``: the workers on it now
- ``P:worker:W``: a worker's heartbeat (expires when it goes silent), ``P:worker:W:stop``:
  the worker asks its crawl child to take nothing more

A run is finished when its queue is empty and no worker is on it: whoever sees that (a worker
leaving it, or one looking for work) deletes its keys and records the end.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.exceptions import RedisError

URL_ENV = "TRIALWATCH_REDIS_URL"
PREFIX_ENV = "TRIALWATCH_REDIS_PREFIX"
DEFAULT_PREFIX = "trialwatch"
HEARTBEAT_TTL = 30  # seconds of silence after which a worker counts as gone
_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class QueueUnavailable(RuntimeError):
    """Redis cannot be used (a bad URL, down, refused, a lost connection): one line."""


def shown_redis_url(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"redis key prefix {prefix!r} (${PREFIX_ENV}): use 1 to 64 letters, digits, or _ . : -"
        )
    return prefix


def unavailable(url: str, exc: BaseException) -> QueueUnavailable:
    said = " ".join(str(exc).split()) or type(exc).__name__
    return QueueUnavailable(f"redis {shown_redis_url(url)}: {said}")


# Forget workers whose heartbeat has expired, noting them on the run.
_PRUNE = """
local function prune(prefix, base)
  for _, m in ipairs(redis.call('SMEMBERS', base .. ':workers')) do
    if redis.call('EXISTS', prefix .. ':worker:' .. m) == 0 then
      redis.call('SREM', base .. ':workers', m)
      redis.call('HSET', base, 'lost:' .. m, '1')
    end
  end
end
local function finish(prefix, run, base)
  local out = {'done', run}
  for _, v in ipairs(redis.call('HGETALL', base)) do table.insert(out, v) end
  redis.call('DEL', base, base .. ':requests', base .. ':seen', base .. ':workers')
  redis.call('ZREM', prefix .. ':runs', run)
  return out
end
"""

# ARGV: prefix, worker, runs to pass over... -> {'work', run, job, token} for the oldest run
# with queued requests (the worker now on it), {'done', run, hash...} for a run found
# finished, or {} when there is nothing.
_CLAIM = (
    _PRUNE
    + """
local prefix, wid = ARGV[1], ARGV[2]
local skip = {}
for i = 3, #ARGV do skip[ARGV[i]] = true end
for _, run in ipairs(redis.call('ZRANGE', prefix .. ':runs', 0, -1)) do
  if not skip[run] then
    local base = prefix .. ':run:' .. run
    prune(prefix, base)
    if redis.call('ZCARD', base .. ':requests') > 0 then
      redis.call('SADD', base .. ':workers', wid)
      local job = redis.call('HGET', base, 'job') or ''
      return {'work', run, job, redis.call('HGET', base, 'token') or ''}
    elseif redis.call('SCARD', base .. ':workers') == 0 then
      return finish(prefix, run, base)
    end
  end
end
return {}
"""
)

# ARGV: prefix, worker, run, outcome ('' or the hash field to count) -> {'done', ...} when the
# run is finished with this, else {}.
_LEAVE = (
    _PRUNE
    + """
local prefix, wid, run, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local base = prefix .. ':run:' .. run
redis.call('SREM', base .. ':workers', wid)
if redis.call('EXISTS', base) == 0 then return {} end
if outcome ~= '' then redis.call('HINCRBY', base, outcome, 1) end
prune(prefix, base)
local idle = redis.call('SCARD', base .. ':workers') == 0
if idle and redis.call('ZCARD', base .. ':requests') == 0 then
  return finish(prefix, run, base)
end
return {}
"""
)


@dataclass(frozen=True)
class Claim:
    """What a worker found: a run to work on (``work``) or a finished one (``done``)."""

    kind: str  # "work" | "done"
    run_id: int
    job: dict[str, Any] = field(default_factory=dict)  # work: the crawl's arguments
    token: str = ""  # work: the run's token
    info: dict[str, str] = field(default_factory=dict)  # done: the run's hash


def _claim_of(reply: Sequence[Any]) -> Claim | None:
    if not reply:
        return None
    text = [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in reply]
    if text[0] == "work":
        return Claim("work", int(text[1]), json.loads(text[2] or "{}"), token=text[3])
    return Claim("done", int(text[1]), info=dict(zip(text[2::2], text[3::2], strict=True)))


class RunQueue:
    """The queued runs under one prefix on one Redis server."""

    def __init__(self, client: redis.Redis, url: str, prefix: str) -> None:
        self.client = client
        self.url = url
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._leave = client.register_script(_LEAVE)

    @classmethod
    def connect(cls, url: str, prefix: str | None = None) -> RunQueue:
        """Connect and check that the server answers; QueueUnavailable (one line) if not,
        ValueError for a bad prefix."""
        prefix = check_prefix(prefix or os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX)
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30)
            client.ping()
        except (RedisError, ValueError, OSError) as exc:
            raise unavailable(url, exc) from None
        return cls(client, url, prefix)

    @property
    def where(self) -> str:
        return f"{shown_redis_url(self.url)} (prefix {self.prefix})"

    # -- keys -----------------------------------------------------------------------------

    @property
    def runs_key(self) -> str:
        return f"{self.prefix}:runs"

    def run_key(self, run_id: int) -> str:
        return f"{self.prefix}:run:{run_id}"

    def requests_key(self, run_id: int) -> str:
        return f"{self.run_key(run_id)}:requests"

    def seen_key(self, run_id: int) -> str:
        return f"{self.run_key(run_id)}:seen"

    def heartbeat_key(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}"

    def stop_key(self, worker: str) -> str:
        return f"{self.heartbeat_key(worker)}:stop"

    # -- runs -----------------------------------------------------------------------------

    def holds(self, run_id: int) -> bool:
        return bool(self.client.exists(self.run_key(run_id)))

    def pending(self, run_id: int) -> int:
        """How many requests of the run wait in its queue."""
        return int(self.client.zcard(self.requests_key(run_id)))

    def claim(self, worker: str, *, skip: Sequence[int] = ()) -> Claim | None:
        reply = self._claim(args=[self.prefix, worker, *map(str, skip)])
        return _claim_of(reply)

    def leave(self, worker: str, run_id: int, outcome: str = "") -> Claim | None:
        """The worker is off the run (``outcome``: "failed" or "interrupted" when its part
        was); the run's end when that finished it."""
        return _claim_of(self._leave(args=[self.prefix, worker, str(run_id), outcome]))

    # -- workers --------------------------------------------------------------------------

    def beat(self, worker: str, about: str) -> None:
        self.client.set(self.heartbeat_key(worker), about, ex=HEARTBEAT_TTL)

    def ask_stop(self, worker: str) -> None:
        self.client.set(self.stop_key(worker), "1", ex=24 * 3600)

    def forget(self, worker: str) -> None:
        self.client.delete(self.heartbeat_key(worker), self.stop_key(worker))
