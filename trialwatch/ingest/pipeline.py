"""The wiring shared by the CLI and the scheduler: payload → snapshot → parse → ingest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from sqlmodel import Session, col, select

from trialwatch import parsers
from trialwatch.alerts.watches import announce, enqueue, note_query_member
from trialwatch.ingest.batch import Batch
from trialwatch.ingest.payloads import (
    HistoryPayload,
    Report,
    Tally,
    parse_guarded,
    refused_by_database,
    storable,
)
from trialwatch.parsers import ParseError, ctgov_history
from trialwatch.record import TrialRecord
from trialwatch.registry.db import transaction
from trialwatch.registry.findings import refresh_findings
from trialwatch.registry.first import FirstVersion
from trialwatch.registry.ingest import IngestRefused, IngestResult, ingest_record, record_alias
from trialwatch.registry.locks import lock_trials, writing
from trialwatch.registry.merge import source_priority
from trialwatch.registry.models import (
    HistoryEntry,
    ParseFailure,
    Trial,
    TrialVersion,
)
from trialwatch.registry.rederive import RereadError
from trialwatch.registry.timeline import REGISTRY_FORMATS, origin_of
from trialwatch.snapshots import PayloadStore


class Pipeline:
    def __init__(self, engine: Engine, store: PayloadStore, report: Report | None = None) -> None:
        self.engine = engine
        self.store = store
        self.report = report or (lambda _line: None)
        self.priority = source_priority()
        self._parsed: dict[tuple[str, str | None, str], list[TrialRecord]] = {}

    def batch(self, tally: Tally, *, size: int = 500) -> Batch:
        """A batch to ``add`` payloads to (``trialwatch.ingest.batch``), flushed when it ends."""
        return Batch(self, tally, size=size)

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
    ) -> None:
        """One payload, stored before this returns (a stream of them: ``batch``)."""
        with self.batch(tally) as batch:
            batch.add(
                body,
                name=name,
                observed_at=observed_at,
                url=url,
                source=source,
                crawl_run_id=crawl_run_id,
                search_key=search_key,
            )

    def ingest_one_payload(
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
        """Parse a payload that is not plain API v2 JSON and store each record in its own
        transaction, with the outbox deliveries its changes call for (and, for a search, its
        membership). Its raw bytes are kept when a record of it becomes a version or it is
        set aside."""
        tally.payloads += 1
        problems: list[str] = []
        warnings: list[str] = []
        try:
            records = parse_guarded(
                body, url=url, source=source, problems=problems, warnings=warnings
            )
        except ParseError as exc:
            records, problems = [], [str(exc)]
        for warning in warnings:
            tally.warn(f"{name}: warning: {warning}")
            self.report(tally.warnings[-1])
        for problem in problems:
            tally.reject(f"{name}: {problem}")
            self.report(tally.problems[-1])
            self.set_aside(
                problem,
                body=body,
                source=source,
                url=url,
                observed_at=observed_at,
                crawl_run_id=crawl_run_id,
            )
        for record in records:
            tally.records += 1
            self.ingest_parsed(
                record,
                name=name,
                observed_at=observed_at,
                tally=tally,
                url=url,
                body=body,
                crawl_run_id=crawl_run_id,
                search_key=search_key,
            )
        return records

    def note_alias(self, alias: str, nct_id: str, observed_at: datetime) -> None:
        """Remember that the registry answered ``alias`` with the record of ``nct_id``."""
        if alias == nct_id:
            return
        with writing(self.engine) as session:
            lock_trials(session, [nct_id])
            record_alias(session, alias=alias, nct_id=nct_id, observed_at=observed_at)

    def ingest_parsed(
        self,
        record: TrialRecord,
        *,
        name: str,
        observed_at: datetime,
        tally: Tally,
        url: str | None,
        body: bytes,
        crawl_run_id: int | None,
        search_key: str | None = None,
        alerts: bool = True,
        session: Session | None = None,
        digest: str | None = None,
        findings: bool = True,
    ) -> IngestResult | None:
        """One parsed record in its own transaction (or the caller's ``session``), with the
        outbox rows its changes call for; a refused record is set aside with its reason. The
        payload's ``body`` goes to the store only when the record becomes a version.
        ``digest``: the record's hash, when the caller took it already."""
        kept = self.store.digest(body)
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
                    snapshot=kept,
                    crawl_run_id=crawl_run_id,
                    priority=self.priority,
                    parser_version=parsers.PARSER_VERSION,
                    reread=self.reread,
                    digest=digest,
                    live=alerts,
                    findings=findings,
                )
                if result.outcome != "unchanged":
                    self.store.put(body, session=unit)  # with the row that names it
                if alerts:
                    tally.deliveries += enqueue(unit, result.changes, created_at=observed_at)
                    tally.deliveries += announce(unit, result.findings, created_at=observed_at)
        except (IngestRefused, DataError) as exc:
            # The unit was rolled back whole; what follows is stored as before.
            reason = refused_by_database(exc) if isinstance(exc, DataError) else str(exc)
            tally.reject(f"{name}: {reason}")
            self.report(tally.problems[-1])
            self.set_aside(
                reason,
                body=body,
                session=session,
                source=record.source,
                url=url,
                observed_at=observed_at,
                crawl_run_id=crawl_run_id,
            )
            return None
        for problem in result.problems:
            self.report(f"{name}: {problem}")
        self.count(record, result, tally)
        return result

    @contextmanager
    def _unit(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            with session.begin_nested():  # a refused record leaves the rest of the unit
                yield session
            return
        with writing(self.engine) as own:
            yield own

    def count(self, record: TrialRecord, result: IngestResult, tally: Tally) -> None:
        """Count what a record did, with its line for a new version."""
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
        where = _where(
            record.nct_id, record.source, record.registry_version, record.last_update_posted
        )
        self.report(f"{where}: {label}" + (f": {kinds}" if kinds else ""))

    def count_first(self, item: FirstVersion, tally: Tally) -> None:
        """Count a first version written in bulk, with its line."""
        tally.first += 1
        where = _where(item.nct_id, item.format, item.registry_version, item.registry_date)
        self.report(f"{where}: first version")

    def reread(self, version: TrialVersion) -> TrialRecord:
        """Parse a stored version's raw payload again with the current parsers."""
        if version.snapshot is None:
            raise RereadError(f"version {version.id} names no raw payload")
        key = (version.snapshot, version.source_url, version.format)
        records = self._parsed.get(key)
        if records is None:
            source = None if version.format in REGISTRY_FORMATS else version.format
            try:  # in the session that holds the version: it may have written the payload
                body = self.store.get(version.snapshot, session=Session.object_session(version))
            except FileNotFoundError:
                raise RereadError(
                    f"raw payload {version.snapshot} is not in {self.store.where}"
                ) from None
            except OSError as exc:
                raise RereadError(str(exc) or type(exc).__name__) from None
            try:
                records = parse_guarded(body, url=version.source_url, source=source)
            except ParseError as exc:
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
                record = ctgov_history.parse(payload.body, payload.url, complete=True)
                if record.nct_id != nct_id:
                    raise ParseError(f"the payload is the record of {record.nct_id}")
            except ParseError as exc:
                tally.reject(f"{name}: {exc}")
                self.report(tally.problems[-1])
                self.set_aside(
                    str(exc),
                    body=payload.body,
                    source="ctgov_history",
                    url=payload.url,
                    observed_at=payload.fetched_at,
                    crawl_run_id=crawl_run_id,
                )
                continue
            if record.last_update_posted is None and payload.date:
                record = record.model_copy(update={"last_update_posted": payload.date})
            parsed.append((payload, record, name))
        if not parsed:
            return
        with writing(self.engine) as session:
            lock_trials(session, [nct_id])
            trial_id = None
            for payload, record, name in sorted(parsed, key=lambda p: p[0].version):
                tally.records += 1
                result = self.ingest_parsed(
                    record,
                    name=name,
                    observed_at=payload.fetched_at,
                    tally=tally,
                    url=payload.url,
                    body=payload.body,
                    crawl_run_id=crawl_run_id,
                    alerts=False,
                    session=session,
                    findings=False,  # once, below
                )
                if result is None:
                    continue
                trial_id = result.version.trial_id
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
            trial = session.get(Trial, trial_id) if trial_id is not None else None
            if trial is not None:  # history is never news
                refresh_findings(
                    session, trial, observed_at=max(p.fetched_at for p, _, _ in parsed)
                )

    def set_aside(
        self, reason: str, *, body: bytes | None, session: Session | None = None, **where: Any
    ) -> None:
        """Keep a payload that gave no record, with its reason and its raw bytes; in the
        caller's unit of work when given (a second writer would wait on it)."""
        kept: dict[str, Any] = {
            k: storable(v) if isinstance(v, str) else v for k, v in where.items()
        }
        with self._unit(session) as unit:
            snapshot = self.store.put(body, session=unit) if body is not None else None
            unit.add(ParseFailure(reason=storable(reason), snapshot=snapshot, **kept))


def _where(nct_id: str | None, source: str, number: str | None, day: str | None) -> str:
    where = f"{nct_id} ({origin_of(source)}"
    if number:
        where += f" v{number}"
    if day:
        where += f", {day}"
    return where + ")"
