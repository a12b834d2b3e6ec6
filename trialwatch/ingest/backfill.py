"""Fetch trials' whole registry history and store each version in its slot of the timeline.

The ctgov_history spider fetches, per trial, the registry's version list, the versions wanted
(not yet stored; only some modules' with ``modules``), then the list again. Each trial is
settled when its last fetch arrives: if the list moved between the two reads (a version was
posted meanwhile), nothing of that trial is stored, since the set fetched may be inconsistent,
and a later run fetches it again; otherwise its versions are stored together. A trial with no
history, or a version that could not be fetched, is reported and the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trialwatch.ingest.pipeline import HistoryPayload, Pipeline, Report, Tally
from trialwatch.parsers import ParseError
from trialwatch.parsers.ctgov_history import HistoryEntry, parse_version_list, wanted_versions
from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun, utcnow
from trialwatch.spiders.components import NOTICE, STOP, one_line
from trialwatch.spiders.ctgov import validate_nct_id
from trialwatch.spiders.ctgov_history import LIST, RECHECK, VERSION
from trialwatch.spiders.runner import CrawlError, Fetched, build_job, run_job

SOURCE = "ctgov_history"


@dataclass
class TrialBackfill:
    """What the backfill did for one trial."""

    nct_id: str
    listed: int = 0  # versions in the registry's list
    fetched: int = 0  # versions fetched
    stored: int = 0  # versions stored as new content in the timeline
    unchanged: int = 0  # fetched versions whose content was already held
    skipped: int = 0  # listed but not fetched: already stored, or outside the asked modules
    failed: int = 0  # versions not fetched or not readable (or 1 for a list that failed)
    # pending | stored | up_to_date | no_history | failed | moved
    outcome: str = "pending"

    def line(self) -> str:
        return (
            f"{self.nct_id}: {self.listed} version(s) listed, {self.fetched} fetched, "
            f"{self.stored} stored, {self.unchanged} unchanged, {self.skipped} skipped, "
            f"{self.failed} failed"
        )


@dataclass
class BackfillTally:
    """Counts per trial, their totals, the run's row and one line per problem."""

    trials: dict[str, TrialBackfill] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    run_id: int | None = None
    status: str = "running"

    def _sum(self, name: str) -> int:
        return sum(getattr(t, name) for t in self.trials.values())

    def _count(self, outcome: str) -> int:
        return sum(1 for t in self.trials.values() if t.outcome == outcome)

    @property
    def fetched(self) -> int:
        return self._sum("fetched")

    @property
    def stored(self) -> int:
        return self._sum("stored")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def skipped(self) -> int:
        return self._sum("skipped")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def no_history(self) -> int:
        return self._count("no_history")

    @property
    def moved(self) -> int:
        return self._count("moved")

    def line(self) -> str:
        return (
            f"{len(self.trials)} trial(s): {self.fetched} version(s) fetched, {self.stored} "
            f"stored, {self.unchanged} unchanged, {self.skipped} skipped, {self.no_history} "
            f"without history, {self.failed} failed, {self.moved} moved during the backfill"
        )


@dataclass
class _Pass:
    """One trial's fetches so far."""

    counts: TrialBackfill
    have: set[int]
    first: list[HistoryEntry] | None = None
    payloads: list[HistoryPayload] = field(default_factory=list)


class _Backfill:
    def __init__(
        self,
        pipeline: Pipeline,
        tally: BackfillTally,
        have: Mapping[str, set[int]],
        modules: Sequence[str] | None,
        report: Report,
    ) -> None:
        self.pipeline = pipeline
        self.tally = tally
        self.modules = modules
        self.report = report
        self.ingested = Tally()  # what the pipeline did, over all trials
        self.answered = 0  # fetches that got an answer (ok or not found)
        self.fetch_failed = 0  # fetches with no usable answer after their retries
        self.stopped: str | None = None  # why the crawl was cut short (its deadline)
        self.passes = {
            nct: _Pass(counts=tally.trials[nct], have=set(have.get(nct, ())))
            for nct in tally.trials
        }

    def problem(self, line: str) -> None:
        self.tally.problems.append(line)
        self.report(line)

    def settle(self, p: _Pass, outcome: str, line: str | None = None) -> None:
        """Close a trial's pass with one line: why it stopped, or what it did."""
        p.counts.outcome = outcome
        if line is None:
            self.report(p.counts.line())
        elif outcome in ("failed", "moved"):
            self.problem(line)
        else:
            self.report(line)

    def on_fetch(self, row: Fetched) -> None:
        if row.kind == NOTICE:
            self.report(row.reason or "")
            return
        if row.kind == STOP:
            self.stopped = row.reason or "crawl stopped"
            self.problem(f"backfill stopped: {self.stopped}")
            return
        self.answered += row.outcome in ("ok", "not_found")
        self.fetch_failed += row.outcome == "failed" and not row.answered
        p = self.passes.get(row.requested_nct or "")
        if p is None or p.counts.outcome != "pending":
            return
        if row.kind == LIST:
            self.on_list(p, row)
        elif row.kind == VERSION:
            self.on_version(p, row)
        elif row.kind == RECHECK:
            self.on_recheck(p, row)

    def read_list(self, p: _Pass, row: Fetched, what: str) -> list[HistoryEntry] | None:
        """The list a fetch gave, or None after settling the trial as failed."""
        nct = p.counts.nct_id
        try:
            body = row.body  # handed over inline: TRIALWATCH_INLINE_BODIES, set in backfill()
            if row.outcome != "ok" or body is None:
                raise ParseError(row.reason or f"HTTP {row.status} for {row.url}")
            return parse_version_list(body, nct)
        except ParseError as exc:
            reason = str(exc).removeprefix(f"{nct}: ")
            p.counts.failed += 1
            self.settle(p, "failed", f"{nct}: {what} ({reason})")
            return None

    def on_list(self, p: _Pass, row: Fetched) -> None:
        nct = p.counts.nct_id
        if row.outcome == "not_found":
            self.settle(p, "no_history", f"{nct}: no history (HTTP {row.status} for its list)")
            return
        entries = self.read_list(p, row, "the version list could not be read")
        if entries is None:
            return
        if not entries:
            self.settle(p, "no_history", f"{nct}: no history (the version list is empty)")
            return
        wanted = wanted_versions(entries, have=p.have, modules=self.modules)
        p.first = entries
        p.counts.listed = len(entries)
        p.counts.skipped = len(entries) - len(wanted)
        if not wanted:  # the spider fetches nothing more for it
            self.settle(p, "up_to_date")

    def on_version(self, p: _Pass, row: Fetched) -> None:
        nct = p.counts.nct_id
        body = row.body  # handed over inline: TRIALWATCH_INLINE_BODIES, set in backfill()
        if row.outcome != "ok" or body is None or row.version is None:
            p.counts.failed += 1
            reason = row.reason or f"HTTP {row.status} for {row.url}"
            self.problem(f"{nct} v{row.version}: not fetched ({reason}); skipped")
            return
        p.counts.fetched += 1
        dates = {e.version: e.date for e in p.first or ()}
        p.payloads.append(
            HistoryPayload(
                version=row.version,
                date=dates.get(row.version),
                body=body,
                url=row.url,
                fetched_at=row.fetched_at,
            )
        )

    def on_recheck(self, p: _Pass, row: Fetched) -> None:
        nct = p.counts.nct_id
        what = "the version list could not be read again to check it did not move"
        entries = self.read_list(p, row, f"{what}; nothing stored from this pass, run it again")
        if entries is None:
            return
        if entries != p.first:
            before, after = len(p.first or ()), len(entries)
            self.settle(
                p,
                "moved",
                f"{nct}: the registry's version list moved during the backfill ({before} → "
                f"{after} versions); nothing stored from this pass, run it again",
            )
            return
        if p.payloads:
            done = Tally()
            self.pipeline.ingest_history(
                nct, p.payloads, tally=done, crawl_run_id=self.tally.run_id
            )
            p.counts.stored = done.first + done.new_versions + done.inserted
            p.counts.unchanged = done.unchanged
            p.counts.failed += done.rejected  # each already reported by the pipeline
            self.tally.problems.extend(done.problems)
            self._add(done)
        self.settle(p, "failed" if p.counts.failed and not p.payloads else "stored")

    def _add(self, done: Tally) -> None:
        for name in ("payloads", "first", "new_versions", "inserted", "unchanged", "rejected"):
            setattr(self.ingested, name, getattr(self.ingested, name) + getattr(done, name))

    def finish(self, cause: str) -> None:
        """Settle the trials whose fetches did not all arrive."""
        for p in self.passes.values():
            if p.counts.outcome == "pending":
                p.counts.failed += 1
                self.settle(p, "failed", f"{p.counts.nct_id}: {cause}; nothing stored from it")


def run_backfill(
    pipeline: Pipeline,
    nct_ids: Sequence[str],
    *,
    base_url: str | None = None,
    modules: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    report: Report,
    job_id: str | None = None,
) -> BackfillTally:
    """Fetch and store the record history of `nct_ids`; recorded as a crawl_run of
    ``ctgov_history``. Bad arguments raise ValueError before anything is fetched or recorded;
    a crawl process that dies raises CrawlError after the run is recorded as failed."""
    if isinstance(nct_ids, str):
        raise ValueError(f"nct_ids must be a sequence of ids, not the string {nct_ids!r}")
    ids = list(dict.fromkeys(validate_nct_id(n) for n in nct_ids))
    if not ids:
        raise ValueError("nothing to fetch: give at least one NCT id")
    have = pipeline.stored_history_versions(ids)
    job = build_job(
        SOURCE,
        base_url=base_url,
        nct_ids=ids,
        have={n: sorted(have.get(n, ())) for n in ids},
        modules=modules,
        # Bodies come back through the pipe: only what becomes a version is stored.
        settings={**(settings or {}), "TRIALWATCH_INLINE_BODIES": True},
    )
    spec = json.loads(job)  # the arguments as checked: the real base URL, the modules' names
    args = {"nct_ids": ids, "base_url": spec["base_url"], "modules": spec["modules"]}
    with transaction(pipeline.engine) as session:
        run = CrawlRun(source=SOURCE, args=args, started_at=utcnow(), errors=[], job_id=job_id)
        session.add(run)
    tally = BackfillTally(trials={n: TrialBackfill(n) for n in ids}, run_id=run.id)
    work = _Backfill(pipeline, tally, have, spec["modules"], report)
    status = "ok"
    try:
        try:
            run_job(SOURCE, job, work.on_fetch)
        except CrawlError:
            if work.stopped is None:  # a child cut short by its deadline exits non-zero
                raise
        if work.stopped is not None:
            status = "failed"
            work.finish(f"not finished ({work.stopped})")
        work.finish("the crawl ended before this trial's fetches were done")
        if work.fetch_failed:
            status = "failed"  # a list or version not fetched: the history is not whole
    except BaseException as exc:  # the crawl died or was interrupted: settle, record, re-raise
        status = "failed"
        work.finish(f"not finished ({one_line(exc) or type(exc).__name__})")
        raise
    finally:
        if status == "ok" and (tally.failed or tally.moved):
            status = "partial"
        tally.status = status
        with transaction(pipeline.engine) as session:
            run.finished_at = utcnow()
            run.status = status
            run.fetched = work.answered
            run.new_versions = work.ingested.first + work.ingested.new_versions
            run.new_versions += work.ingested.inserted
            run.unchanged = work.ingested.unchanged
            run.not_found = tally.no_history
            run.rejected = tally.failed + tally.moved
            run.errors = list(tally.problems)
            session.add(run)
    return tally
