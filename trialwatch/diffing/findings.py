"""Integrity findings: what meta-research looks for in a trial's registry history.

Pure: ``find(steps)`` reads one trial's registry versions, oldest first, and returns its
findings. Each names the versions that show it, the registry date from which it holds
(``since``: for one that time brings about, such as results a year overdue, it may lie
ahead) and one line with the dates and values. Definitions and blind spots: docs/audit.md.

Dates at month or year precision are read conservatively: "after the start" means after the
last day of the start's period, "before registration" that the whole period lies before it.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from trialwatch.diffing.changes import compare_primary_outcomes
from trialwatch.record import TrialDate, TrialRecord

OPEN_STATUSES = frozenset(
    {"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"}
)
# FDAAA 801's results requirement took effect on this day (the results database opened).
RESULTS_RULE_FROM = date(2008, 9, 27)
_EARLY_PHASES = frozenset({"PHASE1", "EARLY_PHASE1"})
_SHOWN = 60  # characters of an outcome measure quoted in a line


@dataclass(frozen=True)
class Thresholds:
    """The limits a finding crosses; the defaults are documented in docs/audit.md."""

    stale_days: int = 365  # status still open this many days after primary completion
    results_days: int = 365  # results due this many days after primary completion
    slips: int = 3  # primary completion moved later this many times
    slip_days: int = 365  # ... or later by more than this many days in all
    enrollment_pct: float = 20.0  # target changed by more than this, after the start


@dataclass(frozen=True)
class Step:
    """One registry version: its id, its registry date (ISO day) and number, its record."""

    version_id: int
    registry_date: str
    registry_version: str | None
    record: TrialRecord


@dataclass(frozen=True)
class Finding:
    kind: str  # kinds.FINDING_KINDS
    key: str  # tells apart findings of one kind in one trial; stable across recomputing
    grade: str  # kinds.GRADES
    since: str  # ISO day from which it holds
    versions: tuple[tuple[int, str], ...]  # (version id, registry date) that show it
    text: str
    detail: dict[str, Any] = field(default_factory=dict)


def find(steps: Sequence[Step], limits: Thresholds | None = None) -> list[Finding]:
    """Every finding the history ``steps`` (one trial's registry versions, oldest first)
    shows, in a stable order."""
    limits = limits or Thresholds()
    if not steps:
        return []
    found: list[Finding] = []
    found += outcome_switches(steps)
    found += retro_prospective(steps)
    found += stale_status(steps, limits)
    found += results_due(steps, limits)
    found += repeated_slips(steps, limits)
    found += enrollment_change(steps, limits)
    return found


def holding(found: Sequence[Finding], on: date) -> list[Finding]:
    """The findings that hold on ``on`` (one that time brings about may still lie ahead)."""
    day = on.isoformat()
    return [f for f in found if f.since <= day]


def first_day(value: TrialDate) -> date:
    """The first day of the period a registry date names ("2018-06" -> 2018-06-01)."""
    parts = [int(p) for p in value.date.split("-")[:3]]
    while len(parts) < 3:
        parts.append(1)
    return date(parts[0], parts[1], parts[2])


def last_day(value: TrialDate) -> date:
    """The last day of the period ("2018-06" -> 2018-06-30, "2018" -> 2018-12-31)."""
    start = first_day(value)
    if value.precision == "year":
        return date(start.year, 12, 31)
    if value.precision == "month":
        return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
    return start


def day(text: str) -> date:
    return date.fromisoformat(text)


def shown(value: TrialDate | None) -> str:
    """ "2019-06 (actual)" for a line."""
    if value is None:
        return "none"
    kind = f" ({value.type.lower()})" if value.type else ""
    return f"{value.date}{kind}"


def _started(steps: Sequence[Step]) -> TrialDate | None:
    """The start as the latest version gives it, unless that is still an estimate."""
    start = steps[-1].record.start_date
    return start if start is not None and start.type != "ESTIMATED" else None


def _pair(a: Step, b: Step) -> tuple[tuple[int, str], ...]:
    return ((a.version_id, a.registry_date), (b.version_id, b.registry_date))


def _key(step: Step) -> str:
    return f"{step.registry_date}/{step.registry_version or ''}"


def outcome_switches(steps: Sequence[Step]) -> list[Finding]:
    """Each version that changed the primary outcomes (more than editorially) after the
    trial started, placed by when: during recruitment, after primary completion, or after
    results were posted."""
    start = _started(steps)
    if start is None:
        return []
    latest = steps[-1].record
    completion = latest.primary_completion_date
    results = latest.results_first_posted
    found = []
    for before, after in zip(steps, steps[1:], strict=False):
        when = day(after.registry_date)
        if when <= last_day(start):
            continue
        if before.record.primary_outcomes == after.record.primary_outcomes:
            continue  # most versions leave them be
        change = compare_primary_outcomes(before.record, after.record)
        if change is None or change.grade == "editorial":
            continue
        if results is not None and when > day(results):
            phase, where = "after_results", f"after results were posted on {results}"
        elif completion is not None and when > last_day(completion):
            phase, where = "after_completion", f"after primary completion {shown(completion)}"
        else:
            phase, where = "during_recruitment", "during recruitment"
        edits = _outcome_edits(change.detail)
        text = (
            f"primary outcome changed on {after.registry_date} {where} (started "
            f"{shown(start)}): {edits} [{change.grade}]"
        )
        detail = {"phase": phase, "edits": edits}
        found.append(
            Finding(
                "outcome_switch",
                _key(after),
                change.grade,
                after.registry_date,
                _pair(before, after),
                text,
                detail,
            )
        )
    return found


def _outcome_edits(detail: dict[str, Any]) -> str:
    def quote(value: Any) -> str:
        parts = value if isinstance(value, list) else [value]
        text = "; ".join(str(p.get("measure", "")) for p in parts if isinstance(p, dict))
        text = " ".join(text.split())
        return f'"{text[:_SHOWN]}{"…" if len(text) > _SHOWN else ""}"'

    words = []
    for label, key in (("added", "added"), ("removed", "removed"), ("demoted", "demoted")):
        values = detail.get(key) or []
        if values:
            words.append(f"{label} {', '.join(quote(v) for v in values[:2])}")
            if len(values) > 2:
                words[-1] += f" and {len(values) - 2} more"
    changed = detail.get("changed") or []
    if changed:
        words.append(f"reworded {quote(changed[0][0])} as {quote(changed[0][1])}")
        if len(changed) > 1:
            words[-1] += f" and {len(changed) - 1} more"
    promoted = detail.get("promoted") or []
    if promoted:
        words.append(f"promoted {', '.join(quote(v) for v in promoted[:2])} from secondary")
    return "; ".join(words) or "outcomes restated"


def registration(steps: Sequence[Step]) -> str | None:
    for step in reversed(steps):
        if step.record.first_submitted:
            return step.record.first_submitted
    return None


def retro_prospective(steps: Sequence[Step]) -> list[Finding]:
    """A trial registered after its start whose start date was later moved to on or after
    its registration date: it now looks prospectively registered."""
    registered = registration(steps)
    if registered is None:
        return []
    on = day(registered)
    for before, after in zip(steps, steps[1:], strict=False):
        old, new = before.record.start_date, after.record.start_date
        if old is None or new is None or old.date == new.date:
            continue
        if last_day(old) < on <= first_day(new):
            text = (
                f"start date moved from {old.date} to {new.date} on {after.registry_date}, "
                f"after registration on {registered}"
            )
            detail = {"registered": registered, "start_before": old.date, "start_after": new.date}
            return [
                Finding(
                    "retro_prospective",
                    "",
                    "major",
                    after.registry_date,
                    _pair(before, after),
                    text,
                    detail,
                )
            ]
    return []


def stale_status(steps: Sequence[Step], limits: Thresholds) -> list[Finding]:
    """A status left open long after primary completion: still open at the latest version
    (holding from the day it becomes more than ``stale_days`` late), or set to COMPLETED
    more than ``stale_days`` after it."""
    found = []
    for before, after in zip(steps, steps[1:], strict=False):
        completion = after.record.primary_completion_date
        if (
            completion is None
            or before.record.overall_status not in OPEN_STATUSES
            or after.record.overall_status != "COMPLETED"
        ):
            continue
        lag = (day(after.registry_date) - last_day(completion)).days
        if lag > limits.stale_days:
            text = (
                f"status set to COMPLETED on {after.registry_date}, {lag} days after "
                f"primary completion {shown(completion)}"
            )
            found.append(
                Finding(
                    "stale_status",
                    f"late/{_key(after)}",
                    "major",
                    after.registry_date,
                    _pair(before, after),
                    text,
                    {"lag_days": lag, "state": "late"},
                )
            )
    latest = steps[-1]
    status, completion = latest.record.overall_status, latest.record.primary_completion_date
    if status in OPEN_STATUSES and completion is not None:
        since = last_day(completion) + timedelta(days=limits.stale_days + 1)
        text = (
            f"status still {status} at its last update on {latest.registry_date}, more than "
            f"{limits.stale_days} days after primary completion {shown(completion)} "
            f"(from {since})"
        )
        found.append(
            Finding(
                "stale_status",
                f"open/{completion.date}",
                "major",
                since.isoformat(),
                ((latest.version_id, latest.registry_date),),
                text,
                {"state": "open"},
            )
        )
    return found


def results_due(steps: Sequence[Step], limits: Thresholds) -> list[Finding]:
    """Primary completion (actual) more than ``results_days`` ago and no results posted, for
    an interventional trial beyond phase 1 that completed under FDAAA 801's results rule.
    Whether the trial is an applicable one under the rule is not in the record."""
    latest = steps[-1]
    record = latest.record
    completion = record.primary_completion_date
    if (
        record.results_first_posted is not None
        or completion is None
        or completion.type != "ACTUAL"
        or record.study_type not in (None, "INTERVENTIONAL")
        or record.overall_status == "WITHDRAWN"
        or (record.phases and set(record.phases) <= _EARLY_PHASES)
        or first_day(completion) < RESULTS_RULE_FROM
    ):
        return []
    since = last_day(completion) + timedelta(days=limits.results_days + 1)
    text = (
        f"no results posted at its last update on {latest.registry_date}; primary completion "
        f"{shown(completion)}, results due within {limits.results_days} days (from {since})"
    )
    return [
        Finding(
            "results_due",
            completion.date,
            "major",
            since.isoformat(),
            ((latest.version_id, latest.registry_date),),
            text,
            {},
        )
    ]


def repeated_slips(steps: Sequence[Step], limits: Thresholds) -> list[Finding]:
    """The primary completion date moved later ``slips`` times or more, or by more than
    ``slip_days`` in all (from the first date given to the latest)."""
    first: TrialDate | None = None
    slips: list[tuple[Step, Step, int]] = []
    since: str | None = None
    for before, after in zip(steps, steps[1:], strict=False):
        old, new = before.record.primary_completion_date, after.record.primary_completion_date
        first = first or old
        if old is None or new is None or first is None:
            continue
        delta = (first_day(new) - first_day(old)).days
        more_precise = new.date.startswith(old.date) and len(new.date) > len(old.date)
        if delta > 0 and not more_precise:
            slips.append((before, after, delta))
        net = (first_day(new) - first_day(first)).days
        holds = len(slips) >= limits.slips or net > limits.slip_days
        if holds and since is None:
            since = after.registry_date
        elif not holds:
            since = None
    latest = steps[-1].record.primary_completion_date
    if since is None or first is None or latest is None:
        return []
    net = (first_day(latest) - first_day(first)).days
    dates = ", ".join(a.registry_date for _, a, _ in slips[:6])
    more = f" and {len(slips) - 6} more" if len(slips) > 6 else ""
    times = "once" if len(slips) == 1 else f"{len(slips)} times"
    text = (
        f"primary completion date moved later {times}, from {first.date} to {latest.date} "
        f"({net:+d} days): on {dates}{more}"
    )
    versions = tuple(dict.fromkeys(v for b, a, _ in slips for v in _pair(b, a)))
    detail = {"slips": len(slips), "net_days": net}
    return [Finding("repeated_slips", "", "major", since, versions, text, detail)]


def enrollment_change(steps: Sequence[Step], limits: Thresholds) -> list[Finding]:
    """The enrollment target (an estimated count) changed by more than ``enrollment_pct``
    after the start, against the target in force at the start (or, for a trial registered
    after it started, when first registered)."""
    start = _started(steps)
    if start is None:
        return []
    end = last_day(start)
    before_start = [s for s in steps if day(s.registry_date) <= end]
    base = before_start[-1] if before_start else steps[0]
    target = base.record.enrollment
    if target is None or target.type != "ESTIMATED" or target.count <= 0:
        return []
    at = "at the start" if before_start else f"when first held on {base.registry_date}"
    for step in steps:
        count = step.record.enrollment
        if day(step.registry_date) <= end or count is None or count.type != "ESTIMATED":
            continue
        pct = (count.count - target.count) * 100.0 / target.count
        if abs(pct) > limits.enrollment_pct:
            text = (
                f"enrollment target changed from {target.count} ({at}) to {count.count} "
                f"({pct:+.0f}%) on {step.registry_date}, after the start in {start.date}"
            )
            detail = {"before": target.count, "after": count.count, "pct": round(pct, 1)}
            return [
                Finding(
                    "enrollment_change",
                    "",
                    "major",
                    step.registry_date,
                    _pair(base, step),
                    text,
                    detail,
                )
            ]
    return []
