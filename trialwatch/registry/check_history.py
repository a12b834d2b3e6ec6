"""The timeline checks: each (trial, origin) timeline's versions, and the changes linking
them; with ``deep``, the stored hashes and changes against what the current code derives.

Read a chunk of trials at a time (the session's identity map holds rows weakly), so memory
stays flat on a large database.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from trialwatch.diffing.canonical import record_hash
from trialwatch.diffing.changes import compare
from trialwatch.diffing.findings import find

from .check import Problem, label
from .findings import steps_of
from .models import Change, Finding, Trial, TrialVersion
from .timeline import (
    DISCREPANCY,
    REGISTRY_FORMATS,
    REGISTRY_ORIGIN,
    ordered,
    record_of,
    version_key,
)

CHUNK = 500  # trials per round trip


def _trial_chunks(session: Session) -> Iterator[dict[int, str]]:
    last = 0
    while True:
        rows = session.exec(
            select(Trial.id, Trial.nct_id)
            .where(col(Trial.id) > last)
            .order_by(col(Trial.id))
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield {int(i): n for i, n in rows if i is not None}
        last = max(int(i) for i, _ in rows if i is not None)


def check_timelines(
    session: Session, *, deep: bool = False, counts: dict[str, int] | None = None
) -> list[Problem]:
    """Each (trial, origin) timeline, and the changes that link its versions."""
    problems: list[Problem] = []
    tally: Counter[str] = Counter()
    for chunk in _trial_chunks(session):
        trial_ids = list(chunk)
        versions = session.exec(
            select(TrialVersion).where(col(TrialVersion.trial_id).in_(trial_ids))
        ).all()
        changes = session.exec(
            select(Change).where(col(Change.trial_id).in_(trial_ids)).order_by(col(Change.id))
        ).all()
        tally["trials"] += len(chunk)
        tally["versions"] += len(versions)
        tally["changes"] += len(changes)
        problems += _chunk(chunk, list(versions), list(changes), deep=deep)
        if deep:
            problems += _findings(session, chunk, list(versions))
    problems += _stray_changes(session)
    if counts is not None:
        counts.update(tally)
    return problems


def _findings(
    session: Session, trials: dict[int, str], versions: list[TrialVersion]
) -> list[Problem]:
    """The stored findings that hold against those the current code finds in the registry
    versions (a deep check: findings are derived, never frozen)."""
    by_trial: dict[int, list[TrialVersion]] = defaultdict(list)
    for v in versions:
        by_trial[v.trial_id].append(v)
    rows = session.exec(
        select(Finding).where(
            col(Finding.trial_id).in_(list(trials)), col(Finding.resolved_at).is_(None)
        )
    ).all()
    held: dict[int, set[tuple[str, str, str, str]]] = defaultdict(set)
    for row in rows:
        held[row.trial_id].add((row.kind, row.key, row.since, row.text))
    problems = []
    for trial_id, nct_id in trials.items():
        try:
            steps = steps_of(by_trial.get(trial_id, []))
        except ValueError:
            continue  # deep-unreadable says so
        found = {(f.kind, f.key, f.since, f.text) for f in find(steps)}
        for kind, _key, _since, text in sorted(found - held[trial_id]):
            problems.append(Problem("deep-finding-missing", f"{nct_id} {kind}", text))
        for kind, _key, _since, text in sorted(held[trial_id] - found):
            problems.append(
                Problem("deep-finding-extra", f"{nct_id} {kind}", f"stored, not found now: {text}")
            )
    return problems


def _chunk(
    trials: dict[int, str],
    versions: list[TrialVersion],
    changes: list[Change],
    *,
    deep: bool,
) -> list[Problem]:
    problems: list[Problem] = []
    lines: dict[tuple[int, str], list[TrialVersion]] = defaultdict(list)
    for v in versions:
        if v.nct_id != trials.get(v.trial_id) or v.source in REGISTRY_FORMATS[1:]:
            why = (
                f"its NCT id is not its trial's ({trials.get(v.trial_id)})"
                if v.nct_id != trials.get(v.trial_id)
                else f"filed under the format {v.source!r}, not the origin {REGISTRY_ORIGIN!r}"
            )
            problems.append(Problem("version-misfiled", label(v), why))
        lines[(v.trial_id, v.source)].append(v)
    previous: dict[int, TrialVersion | None] = {}
    by_id = {v.id: v for v in versions if v.id is not None}
    for line in lines.values():
        timeline = ordered(line)
        problems += _timeline(timeline)
        for before, after in zip([None, *timeline], timeline, strict=False):
            assert after.id is not None
            previous[after.id] = before
    stored: dict[int, list[Change]] = defaultdict(list)
    for change in changes:
        problems += _change(change, by_id, previous)
        if change.kind != DISCREPANCY:
            stored[change.to_version_id].append(change)
    problems += _duplicates(stored)
    for after_id, before in previous.items():
        after = by_id[after_id]
        if before is not None and before.record_hash == after.record_hash and stored[after_id]:
            problems.append(
                Problem(
                    "change-identical",
                    label(after),
                    f"{len(stored[after_id])} change(s) from {label(before)}, "
                    "which has the same content",
                )
            )
        if deep:
            problems += _deep(before, after, stored[after_id])
    return problems


def _timeline(timeline: list[TrialVersion]) -> list[Problem]:
    problems = []
    slots: dict[str, TrialVersion] = {}
    for before, after in zip(timeline, timeline[1:], strict=False):
        if before.record_hash == after.record_hash:
            problems.append(
                Problem("version-repeat", label(after), f"same content as {label(before)}")
            )
        if version_key(before) == version_key(after):
            problems.append(
                Problem(
                    "order-tie",
                    label(after),
                    f"same registry date, number and first-seen time as {label(before)}: "
                    "only the row ids order them",
                )
            )
    numbered = [v for v in timeline if (v.registry_version or "").strip().isdigit()]
    for before, after in zip(numbered, numbered[1:], strict=False):
        if int(str(after.registry_version)) <= int(str(before.registry_version)):
            problems.append(
                Problem(
                    "order-clock",
                    label(after),
                    f"comes after {label(before)} by registry date but its version number "
                    "is not higher",
                )
            )
    for i, v in enumerate(timeline):
        # One content may come back later (A, B, A), never twice in one slot.
        slot = json.dumps([v.record_hash, *version_key(v)], default=str)
        held = slots.setdefault(slot, v)
        if held is not v and held is not timeline[i - 1]:  # consecutive: version-repeat
            problems.append(
                Problem("version-duplicate", label(v), f"same content and slot as {label(held)}")
            )
    return problems


def _change(
    change: Change,
    by_id: dict[int, TrialVersion],
    previous: dict[int, TrialVersion | None],
) -> list[Problem]:
    where = f"change {change.id} ({change.nct_id} {change.kind})"
    before, after = by_id.get(change.from_version_id), by_id.get(change.to_version_id)
    if before is None or after is None:
        return []  # a version of another trial, or none: see _stray_changes
    if change.kind == DISCREPANCY:
        if before.source != REGISTRY_ORIGIN or after.source == REGISTRY_ORIGIN:
            return [
                Problem(
                    "change-misfiled",
                    where,
                    f"a discrepancy must go from a registry version to a site's, not "
                    f"{label(before)} -> {label(after)}",
                )
            ]
        return []
    problems = []
    if change.source != after.source or change.nct_id != after.nct_id:
        problems.append(
            Problem("change-misfiled", where, f"its NCT id or origin is not {label(after)}'s")
        )
    expected = previous.get(after.id or 0)
    if expected is None or expected.id != before.id:
        what = "the first of its timeline" if expected is None else f"after {label(expected)}"
        problems.append(
            Problem(
                "change-not-consecutive",
                where,
                f"links {label(before)} -> {label(after)}, but the latter is {what}",
            )
        )
    if change.registry_date != after.registry_date:
        problems.append(
            Problem(
                "change-date",
                where,
                f"registry date {change.registry_date} is not its version's "
                f"({after.registry_date})",
            )
        )
    return problems


def _identity(change: Change) -> str:
    field_name = (change.detail or {}).get("field")
    return json.dumps([change.kind, field_name, change.before, change.after], sort_keys=True)


def _duplicates(stored: dict[int, list[Change]]) -> list[Problem]:
    problems = []
    for changes in stored.values():
        seen: dict[str, Change] = {}
        for change in changes:
            first = seen.setdefault(_identity(change), change)
            if first is not change:
                problems.append(
                    Problem(
                        "change-duplicate",
                        f"change {change.id} ({change.nct_id} {change.kind})",
                        f"the same change as change {first.id} into version {change.to_version_id}",
                    )
                )
    return problems


def _fingerprint(kind: str, before: Any, after: Any, detail: Any, grade: str | None) -> str:
    return json.dumps([kind, before, after, detail, grade], sort_keys=True, default=str)


def _deep(before: TrialVersion | None, after: TrialVersion, stored: list[Change]) -> list[Problem]:
    """The stored hash and changes against what the current code derives from the content."""
    problems = []
    try:
        record = record_of(after)
        if record_hash(record) != after.record_hash:
            problems.append(
                Problem("deep-hash", label(after), "record_hash is not the hash of its content")
            )
        found = [] if before is None else compare(record_of(before), record)
    except ValueError as exc:  # pydantic's ValidationError is one
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [Problem("deep-unreadable", label(after), f"stored content: {first}")]
    exact: dict[str, list[Change]] = defaultdict(list)
    for row in stored:
        exact[_fingerprint(row.kind, row.before, row.after, row.detail, row.grade)].append(row)
    unmatched = []
    for item in found:
        rows = exact.get(_fingerprint(item.kind, item.before, item.after, item.detail, item.grade))
        if rows:
            rows.pop(0)
        else:
            unmatched.append(item)
    loose: dict[str, list[Change]] = defaultdict(list)
    for row in (r for rows in exact.values() for r in rows):
        loose[_identity(row)].append(row)
    for item in unmatched:
        key = json.dumps(
            [item.kind, item.detail.get("field"), item.before, item.after], sort_keys=True
        )
        if loose.get(key):
            row = loose[key].pop(0)
            problems.append(
                Problem(
                    "deep-described",
                    f"change {row.id} ({row.nct_id} {row.kind})",
                    f"stored as {row.grade}, compare() now grades it {item.grade} or "
                    "describes it otherwise",
                )
            )
        else:
            problems.append(
                Problem(
                    "deep-missing",
                    label(after),
                    f"compare() finds a {item.kind} change from version "
                    f"{before.id if before else None} that is not stored",
                )
            )
    for rows in loose.values():
        for row in rows:
            problems.append(
                Problem(
                    "deep-extra",
                    f"change {row.id} ({row.nct_id} {row.kind})",
                    "compare() no longer finds this change between its versions",
                )
            )
    return problems


def _stray_changes(session: Session) -> list[Problem]:
    """Changes pointing to a version that does not exist, or to another trial's."""
    problems = []
    for end in ("from_version_id", "to_version_id"):
        rows = session.exec(
            select(Change.id, Change.nct_id, getattr(Change, end), TrialVersion.nct_id)
            .outerjoin(TrialVersion, col(TrialVersion.id) == getattr(Change, end))
            .where(col(TrialVersion.id).is_(None) | (TrialVersion.trial_id != Change.trial_id))
            .order_by(col(Change.id))
        ).all()
        for change_id, nct, version_id, version_nct in rows:
            where = f"change {change_id} ({nct})"
            if version_nct is None:
                problems.append(
                    Problem("change-orphan", where, f"{end} {version_id} is not stored")
                )
            else:
                problems.append(
                    Problem(
                        "change-misfiled",
                        where,
                        f"{end} {version_id} is a version of another trial ({version_nct})",
                    )
                )
    return problems
