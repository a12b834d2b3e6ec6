"""When a republishing site disagrees with the registry on status or end dates.

A disagreement is recorded once, as a `source_discrepancy` change, when it appears; it stays
open (and is not recorded again) while both sides keep the same values, and is closed when
they agree again or either side moves on (a new disagreement is then a new change).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select, update

from .merge import registry_version
from .models import Change, Discrepancy, Trial, TrialVersion
from .timeline import REGISTRY_ORIGIN

COMPARED: tuple[str, ...] = ("overall_status", "primary_completion_date", "completion_date")
DISCREPANCY_GRADE = "major"  # a site disagreeing on status or an end date always matters


def _agree(field: str, registry: Any, site: Any) -> bool:
    if field == "overall_status":
        return registry == site
    # Dates: a site that shows "Dec 2023" agrees with the registry's "2023-12-31".
    a, b = registry["date"], site["date"]
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _disagreements(
    versions: Sequence[TrialVersion],
) -> tuple[TrialVersion | None, dict[tuple[str, str], tuple[TrialVersion, Any, Any]]]:
    registry = registry_version(versions)
    found: dict[tuple[str, str], tuple[TrialVersion, Any, Any]] = {}
    if registry is None:
        return None, found
    for site in versions:
        if site.source == REGISTRY_ORIGIN:
            continue
        for field in COMPARED:
            ours, theirs = registry.record.get(field), site.record.get(field)
            if ours is not None and theirs is not None and not _agree(field, ours, theirs):
                found[(site.source, field)] = (site, theirs, ours)
    return registry, found


def update_discrepancies(
    session: Session, trial: Trial, versions: Sequence[TrialVersion], *, observed_at: datetime
) -> list[Change]:
    """Open, keep or close the trial's discrepancies; return the changes for new ones."""
    assert trial.id is not None
    registry, found = _disagreements(versions)
    still_open = session.exec(
        select(Discrepancy).where(
            Discrepancy.trial_id == trial.id, col(Discrepancy.closed_at).is_(None)
        )
    ).all()
    for row in still_open:
        now = found.get((row.site_source, row.field))
        if now is not None and (now[1], now[2]) == (row.site_value, row.registry_value):
            del found[(row.site_source, row.field)]  # the same disagreement, still there
            continue
        row.closed_at = observed_at
        session.add(row)
    changes: list[Change] = []
    for (site_source, field), (site, theirs, ours) in sorted(found.items()):
        assert registry is not None and registry.id is not None and site.id is not None
        change = Change(
            trial_id=trial.id,
            nct_id=trial.nct_id,
            source=site_source,
            kind="source_discrepancy",
            before=ours,
            after=theirs,
            detail={
                "field": field,
                "registry_source": registry.source,
                "registry_value": ours,
                "site_source": site_source,
                "site_value": theirs,
                "reason": f"{site_source} disagrees with the registry on {field}",
            },
            grade=DISCREPANCY_GRADE,
            from_version_id=registry.id,
            to_version_id=site.id,
            observed_at=observed_at,
            registry_date=registry.registry_date,
        )
        session.add(change)
        session.flush()
        assert change.id is not None
        session.add(
            Discrepancy(
                trial_id=trial.id,
                nct_id=trial.nct_id,
                field=field,
                site_source=site_source,
                site_value=theirs,
                registry_source=registry.source,
                registry_value=ours,
                opened_at=observed_at,
                change_id=change.id,
            )
        )
        changes.append(change)
    return changes


def grade_discrepancies(session: Session, trial_id: int) -> int:
    """Give the trial's discrepancy changes stored before grades were kept their grade."""
    stmt = (
        update(Change)
        .where(
            col(Change.trial_id) == trial_id,
            col(Change.kind) == "source_discrepancy",
            col(Change.grade).is_(None),
        )
        .values(grade=DISCREPANCY_GRADE)
    )
    return session.exec(stmt).rowcount


def open_discrepancies(session: Session) -> list[Discrepancy]:
    stmt = select(Discrepancy).where(col(Discrepancy.closed_at).is_(None))
    return list(session.exec(stmt.order_by(col(Discrepancy.nct_id), col(Discrepancy.id))).all())
