"""`reparse`: re-read stored raw payloads with the current parsers and recompute versions'
canonical content and the changes between them. Never alerts: a difference that comes only
from the parser is not news. One transaction per trial."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from trialwatch import parsers
from trialwatch.ingest.pipeline import Pipeline
from trialwatch.registry.db import transaction
from trialwatch.registry.discrepancies import grade_discrepancies, update_discrepancies
from trialwatch.registry.models import Trial, utcnow
from trialwatch.registry.rederive import rederive
from trialwatch.registry.timeline import tips


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
    for number, (trial_id, _nct) in enumerate(targets, 1):
        with transaction(pipeline.engine) as session:
            trial = session.get(Trial, trial_id)
            assert trial is not None
            found = rederive(
                session,
                trial,
                pipeline.reread,
                parser_version=parsers.PARSER_VERSION,
                priority=pipeline.priority,
                force=everything,
            )
            assert trial_id is not None
            update_discrepancies(session, trial, tips(session, trial_id), observed_at=utcnow())
            # Discrepancy changes are not re-derived: grade those recorded before grades were.
            regraded = grade_discrepancies(session, trial_id)
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
    return tally
