"""What a stream of payloads is counted in, and the small helpers every ingest path shares:
the tally, a history payload, the guarded parse and the one-line reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from trialwatch.parsers import ParseError, parse_payload
from trialwatch.record import TrialRecord

Report = Callable[[str], None]

# A NUL character or a lone surrogate cannot be stored (PostgreSQL text, UTF-8): a reason or
# address that quotes one keeps it as an escape.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text with each NUL character and lone surrogate written as its escape."""
    return _UNSTORABLE.sub(lambda m: repr(m.group())[1:-1], text)


def refused_by_database(exc: DBAPIError) -> str:
    """What the database said about one payload's values, in one line (never the statement,
    which quotes the payload)."""
    said = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return f"the database refused it: {said[0] if said else type(exc).__name__}"


def parse_guarded(
    body: bytes,
    *,
    url: str | None,
    source: str | None,
    problems: list[str] | None = None,
    warnings: list[str] | None = None,
) -> list[TrialRecord]:
    """parse_payload for a payload about to become versions: whole registry records only,
    and a parser that fails in a way it should not (a bug met by this input) is a ParseError
    naming it, so one payload never stops a batch."""
    try:
        return parse_payload(
            body, url=url, source=source, problems=problems, complete=True, warnings=warnings
        )
    except ParseError:
        raise
    except Exception as exc:  # reported with its type; the payload is kept
        said = " ".join(str(exc).split())[:200]
        raise ParseError(f"the parser failed on it ({type(exc).__name__}: {said})") from None


@dataclass
class Tally:
    """What a batch of payloads did; ``problems`` holds one line per rejected input."""

    payloads: int = 0
    records: int = 0
    first: int = 0
    new_versions: int = 0
    inserted: int = 0  # older versions slotted into a timeline
    unchanged: int = 0
    changes: int = 0
    not_found: int = 0
    deliveries: int = 0
    rejected: int = 0  # payloads or records not understood or refused: set aside
    failed: int = 0  # fetches that got no usable answer (after their retries)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # kept, but maybe misread: said once
    stopped: list[str] = field(default_factory=list)  # why a crawl was cut short

    def reject(self, line: str) -> None:
        self.rejected += 1
        self.problems.append(line)

    def warn(self, line: str) -> None:
        self.warnings.append(line)

    def fail(self, line: str) -> None:
        self.failed += 1
        self.problems.append(line)

    def add(self, other: Tally) -> None:
        """Count what ``other`` counted too."""
        for name, value in vars(other).items():
            if isinstance(value, list):
                getattr(self, name).extend(value)
            else:
                setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class HistoryPayload:
    """One fetched record-history version of a trial (``/api/int/studies/{nct}/history/{n}``)."""

    version: int  # the registry's version number
    date: str | None  # that version's date in the registry's version list (YYYY-MM-DD)
    body: bytes  # the raw response
    url: str
    fetched_at: datetime
