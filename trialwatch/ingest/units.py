"""What a batch holds: each study waiting to be written, and a batch handed to the parse
workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from trialwatch.ingest.parse_pool import Parsed
from trialwatch.registry.batch import Snapshot


@dataclass
class Unit:
    """One study waiting in a batch."""

    raw: bytes  # the payload itself when it was one study, else the study as compact JSON
    raw_hash: str
    nct_id: str | None  # as found before parsing: a lookup key only
    name: str  # the input, and studies[i] within a page
    record_url: str | None  # what the parser is told (None within a page, as before)
    alias: str | None  # the NCT id asked for, when the registry may have redirected it
    url: str | None  # where the payload came from
    source: str | None
    observed_at: datetime
    crawl_run_id: int | None
    search_key: str | None


@dataclass
class Prepared:
    """A batch handed to the parse workers: what was held when it was handed, and which of
    its studies are being parsed (their results come in that order)."""

    units: list[Unit]
    before: Snapshot
    todo: list[Unit]
    results: Iterator[Parsed]

    def parsed(self) -> dict[int, Parsed]:
        """Each parsed study's result, by id() of its unit, once all have come."""
        return {id(u): p for u, p in zip(self.todo, self.results, strict=True)}
