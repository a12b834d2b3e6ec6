"""What a crawl fetched, one manifest line per fetch: the record the child prints and the
parent reads back (no Scrapy here, so the parent need not import it)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

OUTCOMES = frozenset({"ok", "not_found", "failed"})


class CrawlError(RuntimeError):
    """The crawl's child process failed (not a failed fetch: those are `Fetched` rows)."""


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL
    status: int  # 0 when no response arrived
    fetched_at: datetime  # timezone-aware UTC
    outcome: str  # "ok" | "not_found" | "failed"
    snapshot: str | None  # sha256 of the body in the SnapshotStore (None if no body kept)
    requested_url: str  # what was asked for (differs from url after a redirect)
    requested_nct: str | None
    reason: str | None  # one line, for not_found/failed
    # What the fetch was, where the spider says: "study", "page", "history_list",
    # "history_version", "history_recheck". Older manifest lines have neither field.
    kind: str | None = None
    version: int | None = None  # the record-history version fetched
    # The body itself, when the crawl hands bodies to the parent instead of storing them
    # (TRIALWATCH_INLINE_BODIES): the parent keeps only what becomes a version.
    body: bytes | None = field(default=None, repr=False)

    @property
    def redirected(self) -> bool:
        return self.url != self.requested_url

    @property
    def answered(self) -> bool:
        """The server gave an answer to read (2xx); else the fetch failed or found nothing."""
        return 200 <= self.status < 300

    def to_json(self) -> str:
        data = asdict(self)
        data["fetched_at"] = self.fetched_at.isoformat()
        body = data.pop("body")
        data["body"] = base64.b64encode(body).decode("ascii") if body is not None else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Fetched:
        data = orjson.loads(line)  # a line may carry a 25 MB body
        fetched_at = datetime.fromisoformat(data["fetched_at"])
        if fetched_at.tzinfo is None:
            raise ValueError(f"manifest line has a naive fetched_at: {data['fetched_at']!r}")
        if data["outcome"] not in OUTCOMES:
            raise ValueError(f"manifest line has an unknown outcome: {data['outcome']!r}")
        return cls(
            url=data["url"],
            status=int(data["status"]),
            fetched_at=fetched_at,
            outcome=data["outcome"],
            snapshot=data.get("snapshot"),
            requested_url=data["requested_url"],
            requested_nct=data.get("requested_nct"),
            reason=data.get("reason"),
            kind=data.get("kind"),
            version=_version(data.get("version")),
            body=_body(data.get("body")),
        )


def _body(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("manifest line has a body that is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("manifest line has a body that is not base64") from None


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"manifest line has a bad version: {value!r}")
    return value
