"""Registry payloads ingested in batches: most of a daily sweep is unchanged, and an unchanged
study should cost a JSON parse, a hash and a share of one batched ``last_seen_at`` update.

A payload of API v2 JSON (a study, or a search page of studies) is split into its studies as
it arrives; each study is kept as compact JSON bytes with its raw hash (the study without its
``versionHolder``, the registry's daily stamp). Every ``size`` studies (or ``seconds``) the
batch is written in one transaction that holds its trials' locks:

1. the latest registry version of every trial in the batch, in one query;
2. a study whose raw hash and parser are the latest version's: seen again, nothing parsed;
3. else parsed; content equal to the latest version's: seen again (its raw hash remembered);
4. else ingested as before (``ingest_record``), its bytes kept in the snapshot store.

Parsing overlaps writing: a full batch's studies are handed to the parse workers, then the
batch before it is written while they parse. A trial's first version comes back from its
worker ready to insert (``registry.first``), its payload already compressed.

Raw bytes are kept only for new versions and set-aside payloads: a fetch whose content is
already held adds nothing to the store. Any other payload (site pages, record-history
versions, classic XML, JSON that needs the strict reader) takes the one-payload path, after
the studies before it. A batch whose transaction fails is rolled back whole, then its studies
are written one at a time, so one bad study is set aside and the rest is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from trialwatch import parsers
from trialwatch.ingest.parse_pool import Parsed, ParsePool, parse_record
from trialwatch.ingest.payloads import Tally, refused_by_database
from trialwatch.ingest.study_bytes import FORMATS, nct_in, page_studies, raw_hash
from trialwatch.ingest.units import Prepared, Unit
from trialwatch.registry import batch as db
from trialwatch.registry.first import (
    FirstVersion,
    first_version,
    held_trials,
    store_first_versions,
)
from trialwatch.registry.locks import fault, lock_trials, lock_wait, retrying, writing
from trialwatch.registry.timeline import payload_key
from trialwatch.snapshots import SnapshotStore

if TYPE_CHECKING:  # the pipeline hands itself in: a type only, never imported
    from trialwatch.ingest.pipeline import Pipeline


class Batch:
    """Studies gathered for one transaction; use as a context manager (flushed on exit)."""

    def __init__(
        self, pipeline: Pipeline, tally: Tally, *, size: int = 500, seconds: float = 2.0
    ) -> None:
        self.pipeline = pipeline
        self.tally = tally
        self.size = size
        self.seconds = seconds
        self.pending: list[Unit] = []
        self._since = time.monotonic()
        self.pool = ParsePool()
        self._said_wait = False
        self._parsing: Prepared | None = None  # handed to the workers, not written yet

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On Ctrl-C, what was read is still stored (a crawl keeps what it fetched).
        try:
            if exc is None or isinstance(exc, KeyboardInterrupt):
                self.flush()
        finally:
            self.pool.close()

    def add(
        self,
        body: bytes,
        *,
        name: str,
        observed_at: datetime,
        url: str | None = None,
        source: str | None = None,
        crawl_run_id: int | None = None,
        search_key: str | None = None,
        alias: str | None = None,
    ) -> None:
        common: dict[str, Any] = {
            "url": url,
            "source": source,
            "observed_at": observed_at,
            "crawl_run_id": crawl_run_id,
            "search_key": search_key,
        }
        json_object = source in FORMATS and body[:256].lstrip()[:1] == b"{"
        if json_object and b'"studyVersion"' not in body and b'"studies"' not in body:
            # One study: its own bytes are hashed and kept; parsed only when they changed.
            self.tally.payloads += 1
            self.tally.records += 1  # counted as read: a progress line shows them at once
            self.pending.append(
                Unit(body, raw_hash(body), nct_in(body), name, url, alias=alias, **common)
            )
        else:
            # Read one study at a time: a 1,000-study page is never decoded whole.
            studies = page_studies(body) if json_object else None
            if studies is None:
                self._one_payload(body, name=name, alias=alias, **common)
                return
            self.tally.payloads += 1
            self.tally.records += len(studies)
            for index, (raw, nct) in enumerate(studies):
                where = f"{name}: studies[{index}]"
                unit = Unit(raw, raw_hash(raw), nct, where, None, alias=None, **common)
                self.pending.append(unit)
                if len(self.pending) >= self.size:  # a 1,000-study page is two batches
                    self._advance(wait=False)
            studies.clear()
        if len(self.pending) >= self.size:
            self._advance(wait=False)
        elif time.monotonic() - self._since > self.seconds:  # a trickle: written now
            self._advance(wait=True)

    def _one_payload(self, body: bytes, *, name: str, alias: str | None, **common: Any) -> None:
        self.flush()  # keep the order of payloads
        records = self.pipeline.ingest_one_payload(body, name=name, tally=self.tally, **common)
        if alias is not None and len(records) == 1:
            self.pipeline.note_alias(alias, records[0].nct_id or alias, common["observed_at"])

    def flush(self) -> None:
        """Write every study added so far, those being parsed included."""
        self._advance(wait=True)

    def _advance(self, *, wait: bool) -> None:
        """Hand the pending studies to the parse workers, then write the batch they parsed
        before (overlapping the two); with ``wait``, write the new batch too."""
        units, self.pending = self.pending, []
        self._since = time.monotonic()
        ready = self._prepare(units) if units else None
        # Held before the batch before is written: a Ctrl-C meanwhile still stores it.
        before, self._parsing = self._parsing, ready
        if before is not None:
            self._store(before)
        if wait and self._parsing is not None:
            parsing, self._parsing = self._parsing, None
            self._store(parsing)

    def _store(self, prepared: Prepared) -> None:
        units = prepared.units
        try:
            self._commit(units, prepared)
        except DBAPIError as exc:
            if fault(exc) is not None:  # the database or its disk: no record is to blame
                raise
            said = str(exc.orig or exc).strip().splitlines()
            self.pipeline.report(
                f"a batch of {len(units)} record(s) ({units[0].name} to {units[-1].name}) was "
                f"rolled back ({said[0] if said else type(exc).__name__}); "
                "storing them one at a time"
            )
            for unit in units:
                try:
                    self._commit([unit])
                except DBAPIError as one:
                    if fault(one) is not None:
                        raise
                    reason = refused_by_database(one)
                    self.tally.reject(f"{unit.name}: {reason}")
                    self.pipeline.report(self.tally.problems[-1])
                    self.pipeline.set_aside(
                        reason,
                        body=unit.raw,
                        source=unit.source or "ctgov",
                        url=unit.url,
                        observed_at=unit.observed_at,
                        crawl_run_id=unit.crawl_run_id,
                    )

    def _commit(self, units: list[Unit], prepared: Prepared | None = None) -> None:
        """Write ``units`` in one transaction (retried after a conflict); the tally and the
        report lines are taken only once it committed."""
        lines: list[str] = []
        prepared = prepared or self._prepare(units)
        parsed, seen_before = prepared.parsed(), prepared.before

        def attempt() -> Tally:
            lines.clear()
            delta = Tally()
            said = self.pipeline.report
            self.pipeline.report = lines.append
            try:
                with writing(self.pipeline.engine, waiting=lambda: self._waiting(said)) as session:
                    self._write(session, units, delta, parsed, seen_before)
            finally:
                self.pipeline.report = said
            return delta

        delta = retrying(attempt)
        self.tally.add(delta)
        for line in lines:
            self.pipeline.report(line)

    def _waiting(self, report: Callable[[str], None]) -> None:
        if not self._said_wait:  # once: each batch would say it again
            self._said_wait = True
            report(f"waiting on another writer's lock (up to {lock_wait():g} s)")

    def _prepare(self, units: list[Unit]) -> Prepared:
        """Hand to the parse workers, before the write lock is taken, the studies that are
        not their trial's latest version as read now (the write checks that nothing was
        added since, else reads again). A trial not held at all is parsed into its first
        version's rows."""
        ncts = sorted({u.nct_id for u in units if u.nct_id is not None})
        with Session(self.pipeline.engine) as session:
            before = db.Snapshot(db.last_version_id(session), db.latest_registry(session, ncts))
        todo = [u for u in units if not _held(u, before.latest.get(u.nct_id or ""))]
        store = self.pipeline.store
        folder = str(store.root) if isinstance(store, SnapshotStore) else None
        jobs = [
            (
                u.raw,
                u.record_url,
                u.source,
                u.nct_id is not None and u.nct_id not in before.latest,
                folder,
            )
            for u in todo
        ]
        return Prepared(units, before, todo, self.pool.submit(jobs))

    def _write(
        self,
        session: Session,
        units: list[Unit],
        tally: Tally,
        parsed: dict[int, Parsed],
        before: db.Snapshot,
    ) -> None:
        pipeline = self.pipeline
        version = parsers.PARSER_VERSION
        ncts = sorted({u.nct_id for u in units if u.nct_id is not None})
        lock_trials(session, ncts)
        # No version added since the look before parsing: what it found still holds, or errs
        # only on the side of parsing again (see registry.batch.Snapshot).
        latest = dict(before.latest)
        if db.last_version_id(session) != before.last_id:  # the batch before, most often
            latest.update(
                db.latest_registry(session, db.added_since(session, ncts, before.last_id))
            )
        # Trials not held at all: their first versions are written together (registry.first).
        unheld = set(ncts) - set(latest)
        unheld -= held_trials(session, sorted(unheld))
        fresh: list[tuple[Unit, FirstVersion]] = []
        seen: list[tuple[int, datetime]] = []
        raw_hashes: list[tuple[int, str]] = []
        members: list[tuple[str, str, datetime]] = []
        aliases: list[tuple[str, str, datetime]] = []
        for unit in units:
            held = latest.get(unit.nct_id) if unit.nct_id is not None else None
            current = held is not None and held.parser_version == version
            if held is not None and _held(unit, held):
                seen.append((held.id, unit.observed_at))
                tally.unchanged += 1
                _note(unit, unit.nct_id, members, aliases)
                continue
            given = parsed.get(id(unit))
            if isinstance(given, FirstVersion):
                if held is None and given.nct_id in unheld and given.nct_id == unit.nct_id:
                    unheld.discard(given.nct_id)
                    _note(unit, given.nct_id, members, aliases)
                    fresh.append((unit, given))
                    continue
                given = None  # held since it was handed out: its record is needed
            found = given or parse_record(unit.raw, unit.record_url, unit.source)
            if isinstance(found, str):
                tally.reject(f"{unit.name}: {found}")
                pipeline.report(tally.problems[-1])
                pipeline.set_aside(
                    found,
                    body=unit.raw,
                    session=session,
                    source=unit.source,
                    url=unit.url,
                    observed_at=unit.observed_at,
                    crawl_run_id=unit.crawl_run_id,
                )
                continue
            record, digest = found
            _note(unit, record.nct_id, members, aliases)
            key = payload_key(record.last_update_posted, record.registry_version, unit.observed_at)
            if held and current and held.record_hash == digest and key >= held.key:
                seen.append((held.id, unit.observed_at))
                raw_hashes.append((held.id, unit.raw_hash))
                tally.unchanged += 1
                continue
            if held is None and record.nct_id in unheld and record.nct_id == unit.nct_id:
                unheld.discard(record.nct_id)
                fresh.append((unit, first_version(record, digest, unit.raw)))
                continue
            if any(u.nct_id == record.nct_id for u, _ in fresh):  # its first version, queued
                self._store_first(session, fresh, latest, tally)
                fresh = []
            # A search's member before its changes are alerted: a watch on the search hears.
            db.note_members(session, members[-1:] if unit.search_key else [])
            result = pipeline.ingest_parsed(
                record,
                name=unit.name,
                observed_at=unit.observed_at,
                tally=tally,
                url=unit.url,
                body=unit.raw,
                crawl_run_id=unit.crawl_run_id,
                session=session,
                digest=digest,
            )
            if result is None or result.outcome not in ("first", "new"):
                continue
            new = result.version
            assert new.id is not None
            new.raw_hash = unit.raw_hash
            session.add(new)
            latest[new.nct_id] = db.Latest(
                new.id, unit.raw_hash, new.record_hash, version, key, unit.observed_at
            )
        self._store_first(session, fresh, latest, tally)
        db.touch_seen(session, seen)
        db.set_raw_hash(session, raw_hashes)
        db.note_members(session, members)
        db.note_aliases(session, aliases)

    def _store_first(
        self,
        session: Session,
        fresh: list[tuple[Unit, FirstVersion]],
        latest: dict[str, db.Latest],
        tally: Tally,
    ) -> None:
        if not fresh:
            return
        version = parsers.PARSER_VERSION
        for unit, item in fresh:
            item.raw_hash, item.observed_at = unit.raw_hash, unit.observed_at
            item.crawl_run_id = unit.crawl_run_id
        stored = store_first_versions(
            session,
            [item for _u, item in fresh],
            parser_version=version,
            store=self.pipeline.store,
        )
        for (unit, item), new_id in zip(fresh, stored, strict=True):
            key = payload_key(item.registry_date, item.registry_version, unit.observed_at)
            latest[item.nct_id] = db.Latest(
                new_id, unit.raw_hash, item.digest, version, key, unit.observed_at
            )
            self.pipeline.count_first(item, tally)


def _held(unit: Unit, held: db.Latest | None) -> bool:
    """The study is its trial's latest version seen again: the same raw bytes (but for the
    versionHolder), read by this parser, seen after that version began."""
    return (
        held is not None
        and held.raw_hash == unit.raw_hash
        and held.parser_version == parsers.PARSER_VERSION
        and unit.observed_at >= held.first_seen_at
    )


def _note(
    unit: Unit,
    nct_id: str | None,
    members: list[tuple[str, str, datetime]],
    aliases: list[tuple[str, str, datetime]],
) -> None:
    if nct_id is None:
        return
    if unit.search_key is not None:
        members.append((unit.search_key, nct_id, unit.observed_at))
    if unit.alias is not None:
        aliases.append((unit.alias, nct_id, unit.observed_at))
