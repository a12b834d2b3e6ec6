"""`reparse`: re-read stored raw payloads with the current parsers and recompute versions'
canonical content and the changes between them. Never alerts: a difference that comes only
from the parser is not news. One transaction per trial.

Trials are taken a chunk at a time: a chunk's payloads are parsed on every core (the parse
pool of an import) while the chunk before is re-derived; a payload the workers could not
place (a page of several records, a read that failed) is re-read in the process, which says
why in one line."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from trialwatch import parsers
from trialwatch.ingest.parse_pool import Parsed, ParsePool
from trialwatch.ingest.pipeline import Pipeline
from trialwatch.record import TrialRecord
from trialwatch.registry.db import transaction
from trialwatch.registry.discrepancies import grade_discrepancies, update_discrepancies
from trialwatch.registry.locks import lock_trials
from trialwatch.registry.models import Trial, TrialVersion, utcnow
from trialwatch.registry.rederive import RederiveReport, rederive
from trialwatch.registry.timeline import REGISTRY_FORMATS, tips


@dataclass
class ReparseTally:
    trials: int = 0
    versions: int = 0
    moved: list[str] = field(default_factory=list)
    changes_added: int = 0
    changes_removed: int = 0
    changes_rewritten: int = 0
    problems: list[str] = field(default_factory=list)


def reparse(
    pipeline: Pipeline, nct_ids: Sequence[str] = (), *, everything: bool = True
) -> ReparseTally:
    """Re-derive the given trials (all when none given). With ``everything`` each version is
    re-read; else only those read by another parser version."""
    tally = ReparseTally()
    with transaction(pipeline.engine) as session:
        stmt = select(Trial.id, Trial.nct_id).order_by(col(Trial.nct_id))
        if nct_ids:
            stmt = stmt.where(col(Trial.nct_id).in_(list(nct_ids)))
        targets = list(session.exec(stmt).all())
    missing = sorted(set(nct_ids) - {nct for _, nct in targets})
    for nct in missing:
        tally.problems.append(f"{nct}: not held")
        pipeline.report(tally.problems[-1])
    pool = ParsePool()
    try:
        for number, (trial_id, parsed) in enumerate(
            _parsed_ahead(pipeline, pool, targets, everything), 1
        ):
            found, regraded = _rederive(pipeline, trial_id, parsed, everything)
            tally.trials += 1
            tally.versions += found.versions
            tally.changes_added += found.changes_added
            tally.changes_removed += found.changes_removed
            tally.changes_rewritten += found.changes_rewritten + regraded
            for line in found.moved + found.problems:
                pipeline.report(line)
            tally.moved += found.moved
            tally.problems += found.problems
            if number % 500 == 0:
                pipeline.report(f"reparse: {number} of {len(targets)} trials")
    finally:
        pool.close()
    return tally


CHUNK = 200  # trials whose payloads are parsed together


def _rederive(
    pipeline: Pipeline, trial_id: int, parsed: dict[int, TrialRecord], everything: bool
) -> tuple[RederiveReport, int]:
    def reread(version: TrialVersion) -> TrialRecord:
        if version.id is not None and version.id in parsed:
            return parsed[version.id]
        return pipeline.reread(version)

    with transaction(pipeline.engine) as session:
        trial = session.get(Trial, trial_id)
        assert trial is not None
        lock_trials(session, [trial.nct_id])  # as ingest does: one writer per trial
        found = rederive(
            session,
            trial,
            reread,
            parser_version=parsers.PARSER_VERSION,
            priority=pipeline.priority,
            force=everything,
        )
        update_discrepancies(session, trial, tips(session, trial_id), observed_at=utcnow())
        # Discrepancy changes are not re-derived: grade those recorded before grades were.
        regraded = grade_discrepancies(session, trial_id)
    return found, regraded


def _parsed_ahead(
    pipeline: Pipeline,
    pool: ParsePool,
    targets: Sequence[tuple[int | None, str]],
    everything: bool,
) -> Iterator[tuple[int, dict[int, TrialRecord]]]:
    """Each trial with its versions' records parsed in the pool, the next chunk's parsing
    while this one's are re-derived."""
    ids = [trial_id for trial_id, _ in targets if trial_id is not None]
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    ahead = _submit(pipeline, pool, chunks[0], everything) if chunks else None
    for index, chunk in enumerate(chunks):
        assert ahead is not None
        versions, results = ahead
        ahead = (
            _submit(pipeline, pool, chunks[index + 1], everything)
            if index + 1 < len(chunks)
            else None
        )
        by_trial: dict[int, dict[int, TrialRecord]] = {t: {} for t in chunk}
        for (trial_id, version_id, nct_id), result in zip(versions, results, strict=True):
            if not isinstance(result, tuple) or result[0].nct_id != nct_id:
                continue  # re-read in the process, which says why
            by_trial[trial_id][version_id] = result[0]
        for trial_id in chunk:
            yield trial_id, by_trial[trial_id]


def _submit(
    pipeline: Pipeline, pool: ParsePool, trial_ids: list[int], everything: bool
) -> tuple[list[tuple[int, int, str]], Iterator[Parsed]]:
    query = columns(
        col(TrialVersion.trial_id),
        col(TrialVersion.id),
        col(TrialVersion.nct_id),
        col(TrialVersion.snapshot),
        col(TrialVersion.source_url),
        col(TrialVersion.format),
        col(TrialVersion.parser_version),
    ).where(col(TrialVersion.trial_id).in_(trial_ids))
    with Session(pipeline.engine) as session:
        rows = session.execute(query).all()
    versions, jobs = [], []
    for trial_id, version_id, nct_id, snapshot, url, slug, read_by in rows:
        if snapshot is None or (not everything and read_by == parsers.PARSER_VERSION):
            continue
        try:
            body = pipeline.store.get(snapshot)
        except OSError:
            continue  # re-read in the process, which says why
        versions.append((trial_id, version_id, nct_id))
        jobs.append((body, url, None if slug in REGISTRY_FORMATS else slug, False, None))
    return versions, pool.submit(jobs)
