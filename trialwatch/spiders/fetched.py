"""What a crawl fetched, one manifest entry per fetch: the record the child writes and the
parent reads back (no Scrapy here, so the parent need not import it). On the pipe each is a
frame (``framing``): these fields as a JSON header line, then the body's raw bytes."""

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

    def header(self) -> dict[str, Any]:
        """The manifest fields but the body, as the frame's header carries them."""
        data = asdict(self)
        del data["body"]
        data["fetched_at"] = self.fetched_at.isoformat()
        return data

    def to_json(self) -> str:
        """One JSON line with the body in base64 (the manifest's older, line-only form)."""
        data = self.header()
        body = self.body
        data["body"] = base64.b64encode(body).decode("ascii") if body is not None else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str | bytes) -> Fetched:
        return cls.from_frame(orjson.loads(line), None)

    @classmethod
    def from_frame(cls, data: dict[str, Any], body: bytes | None) -> Fetched:
        """From a frame's header and body (or a line with its body in base64); ValueError,
        KeyError or TypeError when the header is not a fetch's."""
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
            body=body if body is not None else _body(data.get("body")),
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
