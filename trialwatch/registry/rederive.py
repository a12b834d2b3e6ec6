"""Derived, not frozen: re-read stored raw payloads with the current parsers and recompute
each version's canonical content and the changes between versions.

A difference that comes only from the parser is never alerted: re-deriving writes no outbox
rows. The caller supplies ``reread`` (it does the I/O: the snapshot store and the parsers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from trialwatch.diffing.canonical import record_hash
from trialwatch.record import TrialRecord

from .findings import refresh_findings
from .merge import refresh_trial
from .models import Trial, TrialVersion, utcnow
from .timeline import relink, timeline, tips


class RereadError(ValueError):
    """A version's raw payload could not be read again; the message says why in one line."""


Reread = Callable[[TrialVersion], TrialRecord]


@dataclass
class RederiveReport:
    versions: int = 0  # versions re-read
    moved: list[str] = field(default_factory=list)  # one line per version whose content moved
    changes_added: int = 0
    changes_removed: int = 0
    changes_rewritten: int = 0  # the same change, graded or described anew
    problems: list[str] = field(default_factory=list)


def _label(version: TrialVersion) -> str:
    when = version.registry_date or version.first_seen_at.date().isoformat()
    number = f" v{version.registry_version}" if version.registry_version else ""
    return f"{version.nct_id} {version.source}{number} {when} (version {version.id})"


def _moved_fields(old: dict[str, object], new: dict[str, object]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def rederive(
    session: Session,
    trial: Trial,
    reread: Reread,
    *,
    parser_version: str,
    priority: Sequence[str],
    force: bool = False,
    versions: Sequence[TrialVersion] | None = None,
) -> RederiveReport:
    """Re-read the trial's versions read by another parser version (all with ``force``),
    then relink every timeline touched. Returns what moved."""
    report = RederiveReport()
    assert trial.id is not None
    if versions is None:
        versions = session.exec(select(TrialVersion).where(TrialVersion.trial_id == trial.id)).all()
    stale = [v for v in versions if force or v.parser_version != parser_version]
    if not stale:
        return report
    for version in stale:
        try:
            record = reread(version)
        except RereadError as exc:
            report.problems.append(f"{_label(version)}: {exc}")
            continue
        report.versions += 1
        data = record.model_dump(mode="json")
        digest = record_hash(record)
        if digest != version.record_hash:
            fields = ", ".join(_moved_fields(version.record, data))
            report.moved.append(f"{_label(version)}: content now reads differently ({fields})")
        version.record, version.record_hash = data, digest
        version.parser_version = parser_version
        session.add(version)
    session.flush()
    for origin in sorted({v.source for v in stale}):
        before: TrialVersion | None = None
        for version in timeline(session, trial.id, origin):
            done = relink(session, before, version)
            report.changes_added += len(done.inserted)
            report.changes_removed += done.dropped
            report.changes_rewritten += done.rewritten
            before = version
    refresh_trial(session, trial, tips(session, trial.id), priority=priority)
    # never news (see the module's note)
    refresh_findings(session, trial, observed_at=utcnow(), versions=versions)
    return report
