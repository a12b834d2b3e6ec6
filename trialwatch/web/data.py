"""What the web page shows, as pure functions over a Session: search, a trial, its versions
and its timeline. Only SELECTs; every value from the database is parameterised in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from trialwatch.diffing.changes import period_start
from trialwatch.record import NCT_RE
from trialwatch.registry.merge import source_priority
from trialwatch.registry.models import TrialVersion
from trialwatch.registry.queries import find_trial, history, record_as_of
from trialwatch.registry.timeline import REGISTRY_ORIGIN, timeline, version_key
from trialwatch.web.models import (
    PcdPoint,
    Slip,
    StatusPeriod,
    Timeline,
    TrialSummary,
    TrialView,
    VersionRow,
)
from trialwatch.web.record_view import module_names

MAX_QUERY = 200  # characters of a search; more is not a search


def exact_nct(q: str) -> str | None:
    """The NCT id when ``q`` is one (any case, spaces around dropped)."""
    nct = q.strip().upper()
    return nct if NCT_RE.match(nct) else None


def _texts(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def summary_of(nct_id: str, record: dict[str, Any]) -> TrialSummary:
    return TrialSummary(
        nct_id=nct_id,
        title=record.get("brief_title") or record.get("official_title"),
        overall_status=record.get("overall_status"),
        lead_sponsor=record.get("lead_sponsor"),
        phases=_texts(record.get("phases")),
        conditions=_texts(record.get("conditions")),
    )


def trial_view(session: Session, nct_id: str) -> TrialView | None:
    """The trial's merged record as `trialwatch show` gives it; None if not held."""
    record = record_as_of(session, nct_id, None, source_priority())
    if record is None:
        return None
    nct = str(record.get("nct_id") or nct_id)
    summary = summary_of(nct, record)
    return TrialView(nct_id=nct, title=summary.title, summary=summary, record=record)


def _pcd(record: dict[str, Any]) -> str | None:
    value = record.get("primary_completion_date")
    return value.get("date") if isinstance(value, dict) else None


def versions(session: Session, nct_id: str) -> list[VersionRow] | None:
    """Every stored version, each origin in timeline order (the registry first), with both
    clocks; a version is valid on the registry clock until the next one of its origin."""
    rows = history(session, nct_id)
    if rows is None:
        return None
    ids = [row["version_id"] for row in rows]
    records = {
        v.id: v.record
        for v in session.exec(select(TrialVersion).where(col(TrialVersion.id).in_(ids)))
    }
    out: list[VersionRow] = []
    places: dict[str, int] = {}
    for i, row in enumerate(rows):
        following = rows[i + 1] if i + 1 < len(rows) else None
        same = following is not None and following["source"] == row["source"]
        until = following["registry_date"] if following is not None and same else None
        before = rows[i - 1] if i > 0 and rows[i - 1]["source"] == row["source"] else None
        record = records.get(row["version_id"], {})
        places[row["source"]] = places.get(row["source"], 0) + 1
        # Registry versions of one content share a row, as `trialwatch history` shows ("v3,4").
        numbers = row.get("registry_versions") or []
        number = ",".join(str(n) for n in numbers) or row["registry_version"]
        out.append(
            VersionRow(
                version_id=row["version_id"],
                label=f"v{number}" if number else f"#{places[row['source']]}",
                origin=row["source"],
                format=row["format"],
                registry_version=row["registry_version"],
                valid_from=row["registry_date"],
                valid_until=until,
                first_seen_at=row["first_seen_at"],
                last_seen_at=row["last_seen_at"],
                overall_status=record.get("overall_status"),
                primary_completion_date=_pcd(record),
                changes=row["changes"],
                grades=row["grades"],
                modules=module_names(row["changes"]),
                previous_id=before["version_id"] if before else None,
            )
        )
    return out


def trial_timeline(session: Session, nct_id: str) -> Timeline | None:
    """Status periods and primary completion dates across the registry's versions, on the
    registry clock (a trial only sites publish: its first site, by first seen)."""
    trial = find_trial(session, nct_id)
    if trial is None or trial.id is None:
        return None
    origins = session.exec(
        select(TrialVersion.source).where(TrialVersion.trial_id == trial.id).distinct()
    ).all()
    origin = REGISTRY_ORIGIN if REGISTRY_ORIGIN in origins else min(origins, default=None)
    ordered = timeline(session, trial.id, origin) if origin else []
    points = pcd_points(ordered)
    return Timeline(
        nct_id=trial.nct_id,
        origin=origin,
        status_periods=status_periods(ordered),
        primary_completion=points,
        slips=slips(points),
    )


def _day(version: TrialVersion) -> str:
    """The version's day on its origin's clock (the registry's date, else first seen)."""
    return version_key(version)[0]


def status_periods(ordered: Sequence[TrialVersion]) -> list[StatusPeriod]:
    """Runs of consecutive versions with one overall status; the last is still in force."""
    periods: list[StatusPeriod] = []
    for version in ordered:
        status = version.record.get("overall_status")
        if periods and periods[-1].status == status:
            periods[-1].version_ids.append(version.id or 0)
            continue
        if periods:
            periods[-1].valid_until = _day(version)
        periods.append(
            StatusPeriod(
                status=status,
                valid_from=_day(version),
                valid_until=None,
                version_ids=[version.id or 0],
            )
        )
    return periods


def pcd_points(ordered: Sequence[TrialVersion]) -> list[PcdPoint]:
    """The primary completion date each version states (versions stating none left out)."""
    points = []
    for version in ordered:
        value = version.record.get("primary_completion_date")
        if isinstance(value, dict) and value.get("date"):
            points.append(
                PcdPoint(
                    version_id=version.id or 0,
                    valid_from=_day(version),
                    date=value["date"],
                    type=value.get("type"),
                )
            )
    return points


def delta_days(before: str, after: str) -> int:
    """Days from one registry date to another, each at its own precision's first day."""
    return (period_start({"date": after}) - period_start({"date": before})).days


def slips(points: Sequence[PcdPoint]) -> list[Slip]:
    """Each move of the date between consecutive points (a change of type alone is none)."""
    return [
        Slip(
            from_version_id=a.version_id,
            to_version_id=b.version_id,
            before=a.date,
            after=b.date,
            delta_days=delta_days(a.date, b.date),
        )
        for a, b in zip(points, points[1:], strict=False)
        if a.date != b.date
    ]
