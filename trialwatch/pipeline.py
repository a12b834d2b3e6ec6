"""The wiring shared by the CLI and the scheduler: payload → snapshot → parse → ingest."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from trialwatch import parsers
from trialwatch.alerts.watches import enqueue, note_query_member, query_key
from trialwatch.parsers import ParseError, ctgov_history, parse_payload
from trialwatch.record import TrialRecord
from trialwatch.registry.db import transaction
from trialwatch.registry.ingest import IngestRefused, IngestResult, ingest_record, record_alias
from trialwatch.registry.merge import source_priority
from trialwatch.registry.models import (
    CrawlRun,
    HistoryEntry,
    ParseFailure,
    TrialVersion,
    utcnow,
)
from trialwatch.registry.rederive import RereadError
from trialwatch.registry.timeline import REGISTRY_FORMATS, origin_of
from trialwatch.snapshots import SnapshotStore

Report = Callable[[str], None]


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
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, line: str) -> None:
        self.rejected += 1
        self.problems.append(line)


@dataclass(frozen=True)
class HistoryPayload:
    """One fetched record-history version of a trial (``/api/int/studies/{nct}/history/{n}``)."""

    version: int  # the registry's version number
    date: str | None  # that version's date in the registry's version list (YYYY-MM-DD)
    body: bytes  # the raw response
    url: str
    fetched_at: datetime


class Pipeline:
    def __init__(self, engine: Engine, store: SnapshotStore, report: Report | None = None) -> None:
        self.engine = engine
        self.store = store
        self.report = report or (lambda _line: None)
        self.priority = source_priority()
        self._parsed: dict[tuple[str, str | None, str], list[TrialRecord]] = {}

    def ingest_body(
        self,
        body: bytes,
        *,
        name: str,
        observed_at: datetime,
        tally: Tally,
        url: str | None = None,
        source: str | None = None,
        crawl_run_id: int | None = None,
        search_key: str | None = None,
    ) -> list[TrialRecord]:
        """Keep the raw bytes, parse them, and store each record in its own transaction,
        with the outbox deliveries its changes call for (and, for a search, its membership)."""
        tally.payloads += 1
        digest = self.store.put(body)
        problems: list[str] = []
        try:
            records = parse_payload(body, url=url, source=source, problems=problems)
        except ParseError as exc:
            records, problems = [], [str(exc)]
        for problem in problems:
            tally.reject(f"{name}: {problem}")
            self.report(tally.problems[-1])
            self._set_aside(
                problem,
                source=source,
                url=url,
                snapshot=digest,
                observed_at=observed_at,
                crawl_run_id=crawl_run_id,
            )
        for record in records:
            tally.records += 1
            self._ingest_one(
                record,
                name=name,
                observed_at=observed_at,
                tally=tally,
                url=url,
                snapshot=digest,
                crawl_run_id=crawl_run_id,
                search_key=search_key,
            )
        return records

    def _ingest_one(
        self,
        record: TrialRecord,
        *,
        name: str,
        observed_at: datetime,
        tally: Tally,
        url: str | None,
        snapshot: str,
        crawl_run_id: int | None,
        search_key: str | None = None,
        alerts: bool = True,
        session: Session | None = None,
    ) -> IngestResult | None:
        """One record in its own transaction (or the caller's ``session``), with the outbox
        rows its changes call for; a refused record is set aside with its reason."""
        try:
            with self._unit(session) as unit:
                if search_key is not None and record.nct_id is not None:
                    note_query_member(
                        unit, key=search_key, nct_id=record.nct_id, seen_at=observed_at
                    )
                result = ingest_record(
                    record,
                    session=unit,
                    observed_at=observed_at,
                    snapshot=snapshot,
                    crawl_run_id=crawl_run_id,
                    priority=self.priority,
                    parser_version=parsers.PARSER_VERSION,
                    reread=self.reread,
                )
                if alerts:
                    tally.deliveries += enqueue(unit, result.changes, created_at=observed_at)
        except IngestRefused as exc:
            tally.reject(f"{name}: {exc}")
            self.report(tally.problems[-1])
            self._set_aside(
                str(exc),
                source=record.source,
                url=url,
                snapshot=snapshot,
                observed_at=observed_at,
                crawl_run_id=crawl_run_id,
            )
            return None
        for problem in result.problems:
            self.report(f"{name}: {problem}")
        self._count(record, result, tally)
        return result

    @contextmanager
    def _unit(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            with session.begin_nested():  # a refused record leaves the rest of the unit
                yield session
            return
        with transaction(self.engine) as own:
            yield own

    def _count(self, record: TrialRecord, result: IngestResult, tally: Tally) -> None:
        if result.outcome == "unchanged":
            tally.unchanged += 1
            return
        if result.outcome == "first":
            tally.first += 1
        elif result.outcome == "inserted":
            tally.inserted += 1
        else:
            tally.new_versions += 1
        tally.changes += len(result.changes)
        kinds = ", ".join(c.kind for c in result.changes)
        label = {"first": "first version", "new": "new version"}.get(
            result.outcome, "older version slotted into the timeline"
        )
        where = f"{record.nct_id} ({origin_of(record.source)}"
        if record.registry_version:
            where += f" v{record.registry_version}"
        if record.last_update_posted:
            where += f", {record.last_update_posted}"
        self.report(f"{where}): {label}" + (f": {kinds}" if kinds else ""))

    def reread(self, version: TrialVersion) -> TrialRecord:
        """Parse a stored version's raw payload again with the current parsers."""
        if version.snapshot is None or version.snapshot not in self.store:
            raise RereadError(f"raw payload {version.snapshot} is not in {self.store.root}")
        key = (version.snapshot, version.source_url, version.format)
        records = self._parsed.get(key)
        if records is None:
            source = None if version.format in REGISTRY_FORMATS else version.format
            try:
                records = parse_payload(
                    self.store.get(version.snapshot), url=version.source_url, source=source
                )
            except (ParseError, OSError) as exc:
                raise RereadError(f"no longer parses: {exc}") from None
            if len(self._parsed) >= 8:  # a search page holds many trials: keep a few pages
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = records
        for record in records:
            if record.nct_id == version.nct_id:
                return record
        if len(records) == 1 and records[0].nct_id is None:  # a site page linked by another id
            return records[0].model_copy(update={"nct_id": version.nct_id})
        raise RereadError(f"the payload no longer holds {version.nct_id}")

    def stored_history_versions(self, nct_ids: Sequence[str]) -> dict[str, set[int]]:
        """The record-history version numbers already stored, per NCT id (for a resumed
        backfill)."""
        found: dict[str, set[int]] = {n: set() for n in nct_ids}
        with transaction(self.engine) as session:
            rows = session.exec(
                select(HistoryEntry.nct_id, HistoryEntry.version).where(
                    col(HistoryEntry.nct_id).in_(list(nct_ids))
                )
            ).all()
        for nct_id, number in rows:
            found.setdefault(nct_id, set()).add(number)
        return found

    def ingest_history(
        self,
        nct_id: str,
        payloads: Sequence[HistoryPayload],
        *,
        tally: Tally,
        crawl_run_id: int | None = None,
    ) -> None:
        """Store one trial's fetched record-history versions in one transaction, each in its
        slot of the registry timeline, never queuing an alert (a watch hears about what changes
        after it was created, not about a trial's past). A version that does not parse is
        reported through ``tally.reject`` and set aside; the others are stored."""
        parsed: list[tuple[HistoryPayload, TrialRecord, str]] = []
        for payload in payloads:
            tally.payloads += 1
            name = f"{nct_id} v{payload.version}"
            try:
                record = ctgov_history.parse(payload.body, payload.url)
                if record.nct_id != nct_id:
                    raise ParseError(f"the payload is the record of {record.nct_id}")
            except ParseError as exc:
                digest = self.store.put(payload.body)
                tally.reject(f"{name}: {exc}")
                self.report(tally.problems[-1])
                self._set_aside(
                    str(exc),
                    source="ctgov_history",
                    url=payload.url,
                    snapshot=digest,
                    observed_at=payload.fetched_at,
                    crawl_run_id=crawl_run_id,
                )
                continue
            if record.last_update_posted is None and payload.date:
                record = record.model_copy(update={"last_update_posted": payload.date})
            parsed.append((payload, record, name))
        if not parsed:
            return
        with transaction(self.engine) as session:
            for payload, record, name in sorted(parsed, key=lambda p: p[0].version):
                tally.records += 1
                result = self._ingest_one(
                    record,
                    name=name,
                    observed_at=payload.fetched_at,
                    tally=tally,
                    url=payload.url,
                    snapshot=self.store.put(payload.body),
                    crawl_run_id=crawl_run_id,
                    alerts=False,
                    session=session,
                )
                if result is None:
                    continue
                assert result.version.id is not None
                session.add(
                    HistoryEntry(
                        trial_id=result.version.trial_id,
                        nct_id=nct_id,
                        version=payload.version,
                        registry_date=record.last_update_posted,
                        version_id=result.version.id,
                        fetched_at=payload.fetched_at,
                    )
                )

    def _set_aside(self, reason: str, **where: Any) -> None:
        """Keep a payload that gave no record, with its reason (the raw bytes stay stored)."""
        with transaction(self.engine) as session:
            session.add(ParseFailure(reason=reason, **where))

    def crawl(
        self,
        slug: str,
        *,
        base_url: str | None = None,
        nct_ids: Sequence[str] = (),
        urls: Sequence[str] = (),
        query: Mapping[str, str] | None = None,
        updated_since: date | None = None,
        settings: Mapping[str, Any] | None = None,
        job_id: str | None = None,
    ) -> tuple[CrawlRun, Tally]:
        """Run one crawl, ingesting each payload as it arrives; recorded as a crawl_run.

        Bad arguments raise ValueError before anything is fetched or recorded.
        """
        from trialwatch.spiders.runner import Fetched, build_job, run_job

        job = build_job(
            slug,
            data_dir=self.store.root,
            base_url=base_url,
            nct_ids=nct_ids,
            urls=urls,
            query=query,
            updated_since=updated_since,
            settings=settings,
        )
        args = {
            "nct_ids": list(nct_ids),
            "urls": list(urls),
            "query": dict(query or {}),
            "updated_since": updated_since.isoformat() if updated_since else None,
            "base_url": base_url,
        }
        with transaction(self.engine) as session:
            run = CrawlRun(source=slug, args=args, started_at=utcnow(), errors=[], job_id=job_id)
            session.add(run)
        tally = Tally()
        search = query_key(query) if query else None

        def on_fetch(fetched: Fetched) -> None:
            if fetched.outcome == "not_found":
                tally.not_found += 1
                self.report(f"{fetched.requested_url}: not found ({fetched.status})")
                return
            if fetched.outcome != "ok" or fetched.snapshot is None:
                reason = fetched.reason or f"fetch failed (HTTP {fetched.status})"
                tally.reject(f"{fetched.requested_url}: {reason}")
                self.report(tally.problems[-1])
                self._set_aside(
                    reason,
                    source=slug,
                    url=fetched.url,
                    snapshot=fetched.snapshot,
                    observed_at=fetched.fetched_at,
                    crawl_run_id=run.id,
                )
                return
            records = self.ingest_body(
                self.store.get(fetched.snapshot),
                name=fetched.url,
                observed_at=fetched.fetched_at,
                tally=tally,
                url=fetched.url,
                source=slug,
                crawl_run_id=run.id,
                search_key=search,
            )
            if slug == "ctgov" and fetched.requested_nct and len(records) == 1:
                nct = records[0].nct_id
                with transaction(self.engine) as session:
                    record_alias(
                        session,
                        alias=fetched.requested_nct,
                        nct_id=nct or fetched.requested_nct,
                        observed_at=fetched.fetched_at,
                    )

        status = "ok"
        try:
            run_job(slug, job, on_fetch)
        except Exception as exc:  # the crawl process died: record it, then re-raise
            status = "failed"
            tally.problems.append(f"crawl {slug}: {exc}")
            raise
        finally:
            with transaction(self.engine) as session:
                run.finished_at = utcnow()
                run.status = status if not tally.rejected or status == "failed" else "partial"
                run.fetched = tally.payloads + tally.not_found
                run.new_versions = tally.first + tally.new_versions
                run.unchanged = tally.unchanged
                run.not_found = tally.not_found
                run.rejected = tally.rejected
                run.errors = list(tally.problems)
                session.add(run)
        return run, tally
