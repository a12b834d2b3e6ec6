"""Integrity findings kept current: computed (diffing.findings) from a trial's registry
versions whenever they change, stored in ``finding``, and read back on either clock.

A stored finding is derived: recomputing gives the same rows (matched by kind and key), so
``reparse`` on an up-to-date database changes nothing. One that stops holding is kept with
``resolved_at``, so that holding again never announces it twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from trialwatch.diffing.findings import Finding as Found
from trialwatch.diffing.findings import Step, Thresholds, find, holding
from trialwatch.record import TrialRecord

from .models import Finding, Trial, TrialVersion
from .timeline import REGISTRY_ORIGIN, ordered

# The record fields the findings read: the rest of a stored record is not validated again.
_READ = (
    "overall_status",
    "phases",
    "study_type",
    "enrollment",
    "start_date",
    "primary_completion_date",
    "primary_outcomes",
    "secondary_outcomes",
    "first_submitted",
    "results_first_posted",
)


def step_of(version: TrialVersion) -> Step | None:
    """The version as the findings read it; None for one without a registry date (it has no
    place on the registry's clock)."""
    if not version.registry_date or version.id is None:
        return None
    return _step(version.id, version.registry_date, version.registry_version, version)


def _step(version_id: int, registry_date: str, number: str | None, version: TrialVersion) -> Step:
    key = (version_id, registry_date, number, version.record_hash, version.parser_version)
    found = _READ_STEPS.get(key)
    if found is None:
        stored = version.record
        data: dict[str, Any] = {k: stored.get(k) for k in _READ if stored.get(k) is not None}
        record = TrialRecord.model_validate({"nct_id": version.nct_id, "source": "ctgov", **data})
        found = Step(version_id, registry_date, number, record)
        if len(_READ_STEPS) >= _KEPT:
            _READ_STEPS.pop(next(iter(_READ_STEPS)))
        _READ_STEPS[key] = found
    return found


# Versions read lately, by what makes their content: a trial's next version reads the ones
# before it again, and a long history would otherwise be read once per version it gains.
_READ_STEPS: dict[tuple[Any, ...], Step] = {}
_KEPT = 4096


def steps_of(
    versions: Sequence[TrialVersion],
    *,
    registry_as_of: str | None = None,
    known_at: datetime | None = None,
) -> list[Step]:
    """The registry versions among ``versions`` in timeline order, on either clock: those
    the registry had published by ``registry_as_of``, those trialwatch held at ``known_at``."""
    chosen = [v for v in versions if v.source == REGISTRY_ORIGIN]
    if known_at is not None:
        chosen = [v for v in chosen if v.first_seen_at <= known_at]
    steps = [s for s in map(step_of, ordered(chosen)) if s is not None]
    if registry_as_of is not None:
        steps = [s for s in steps if s.registry_date <= registry_as_of]
    return steps


def refresh_findings(
    session: Session,
    trial: Trial,
    *,
    observed_at: datetime,
    live: int | None = None,
    versions: Sequence[TrialVersion] | None = None,
) -> list[Finding]:
    """Recompute the trial's findings from its registry versions (``versions``: every one of
    the trial's versions, when the caller holds them already) and store what differs.
    ``live``: the id of a new latest version that brought this about; what the history
    without it did not show is news. Returns the stored findings that are news, hold today
    and have not been announced yet."""
    assert trial.id is not None
    if versions is None:
        versions = session.exec(
            select(TrialVersion).where(
                TrialVersion.trial_id == trial.id, TrialVersion.source == REGISTRY_ORIGIN
            )
        ).all()
    steps = steps_of(versions)
    found = {(f.kind, f.key): f for f in find(steps)}
    shown_before: set[tuple[str, str]] = set()
    if live is not None:
        earlier = [s for s in steps if s.version_id != live]
        shown_before = {(f.kind, f.key) for f in find(earlier)}
    stored = {
        (row.kind, row.key): row
        for row in session.exec(select(Finding).where(Finding.trial_id == trial.id))
    }
    today = observed_at.date().isoformat()
    for key, row in stored.items():
        if key not in found and row.resolved_at is None:
            row.resolved_at = observed_at
            session.add(row)
    for key, new in found.items():
        held = stored.get(key)
        if held is None:
            session.add(
                Finding(
                    trial_id=trial.id,
                    nct_id=trial.nct_id,
                    kind=new.kind,
                    key=new.key,
                    first_seen_at=observed_at,
                    # what the history showed already is not news; what time will bring is
                    news=(live is not None and key not in shown_before) or new.since > today,
                    **_values(new),
                )
            )
            continue
        values = _values(new)
        if held.resolved_at is not None or any(getattr(held, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(held, name, value)
            held.resolved_at = None
            session.add(held)
    session.flush()
    return [
        row
        for row in session.exec(
            select(Finding).where(
                Finding.trial_id == trial.id,
                col(Finding.news).is_(True),
                col(Finding.announced_at).is_(None),
                col(Finding.resolved_at).is_(None),
                col(Finding.since) <= today,
            )
        )
    ]


def _values(found: Found) -> dict[str, Any]:
    return {
        "grade": found.grade,
        "since": found.since,
        "version_ids": [v for v, _ in found.versions],
        "registry_dates": [d for _, d in found.versions],
        "text": found.text,
        "detail": found.detail,
    }


def finding_row(
    found: Found, *, trial_id: int, nct_id: str, version_id: int, observed_at: datetime
) -> dict[str, Any]:
    """The row of a finding that a trial's first version (``version_id``) shows alone: news
    only if time has yet to bring it about."""
    values = _values(found)
    values["version_ids"] = [version_id for _ in values["version_ids"]]
    return {
        "trial_id": trial_id,
        "nct_id": nct_id,
        "kind": found.kind,
        "key": found.key,
        "first_seen_at": observed_at,
        "news": found.since > observed_at.date().isoformat(),
        **values,
    }


def due_findings(session: Session, on: date) -> list[Finding]:
    """Findings that are news, hold on ``on`` and have not been announced: those that time
    brought about since they were stored (results now overdue, a status now stale)."""
    return list(
        session.exec(
            select(Finding)
            .where(
                col(Finding.news).is_(True),
                col(Finding.announced_at).is_(None),
                col(Finding.resolved_at).is_(None),
                col(Finding.since) <= on.isoformat(),
            )
            .order_by(col(Finding.id))
        )
    )


def stored_findings(
    session: Session,
    *,
    on: date,
    kinds: Sequence[str] = (),
    nct_ids: Sequence[str] = (),
    since: str | None = None,
) -> list[Finding]:
    """The stored findings that hold on ``on``, by trial, then date."""
    stmt = select(Finding).where(col(Finding.resolved_at).is_(None))
    stmt = stmt.where(col(Finding.since) <= on.isoformat())
    if kinds:
        stmt = stmt.where(col(Finding.kind).in_(list(kinds)))
    if nct_ids:
        stmt = stmt.where(col(Finding.nct_id).in_(list(nct_ids)))
    if since:
        stmt = stmt.where(col(Finding.since) >= since)
    order = (col(Finding.nct_id), col(Finding.since), col(Finding.kind), col(Finding.key))
    return list(session.exec(stmt.order_by(*order)))


def computed_findings(
    session: Session,
    *,
    limits: Thresholds,
    on: date,
    registry_as_of: str | None = None,
    known_at: datetime | None = None,
    nct_ids: Sequence[str] = (),
    chunk: int = 200,
) -> Iterator[tuple[str, list[Found]]]:
    """Each trial's findings computed afresh from its stored versions (thresholds and clocks
    as given), holding on ``on``: (NCT id, findings), trial by trial in NCT id order."""
    stmt = select(Trial.id, Trial.nct_id).order_by(col(Trial.nct_id))
    if nct_ids:
        stmt = stmt.where(col(Trial.nct_id).in_(list(nct_ids)))
    trials = [(t, n) for t, n in session.exec(stmt).all() if t is not None]
    for start in range(0, len(trials), chunk):
        part = dict(trials[start : start + chunk])
        rows = session.exec(
            select(TrialVersion).where(
                col(TrialVersion.trial_id).in_(list(part)),
                TrialVersion.source == REGISTRY_ORIGIN,
            )
        ).all()
        by_trial: dict[int, list[TrialVersion]] = {}
        for row in rows:
            by_trial.setdefault(row.trial_id, []).append(row)
        for trial_id, nct_id in part.items():
            steps = steps_of(
                by_trial.get(trial_id, []), registry_as_of=registry_as_of, known_at=known_at
            )
            yield nct_id, holding(find(steps, limits), on)
        session.expunge_all()


def outdated_trials(session: Session, parser_version: str) -> int:
    """How many trials hold registry versions read by another parser version (their
    findings may miss fields that parser did not read: `trialwatch reparse`)."""
    rows = session.exec(
        select(TrialVersion.trial_id)
        .where(
            TrialVersion.source == REGISTRY_ORIGIN,
            col(TrialVersion.parser_version).is_distinct_from(parser_version),
        )
        .distinct()
    ).all()
    return len(rows)
