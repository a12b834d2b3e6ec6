"""Ingest: upsert a parsed record as a version of its trial, with the changes it brings.

Functions here take the session as a keyword and never commit: the caller owns the
transaction, so a version, its changes (and whatever the caller adds, such as outbox rows)
land together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from trialwatch.diffing.canonical import record_hash
from trialwatch.record import TrialRecord

from .discrepancies import update_discrepancies
from .findings import refresh_findings
from .locks import lock_trials
from .merge import DEFAULT_PRIORITY, refresh_trial
from .models import Change, Finding, Trial, TrialAlias, TrialIdentifier, TrialVersion
from .rederive import Reread, rederive
from .timeline import (
    REGISTRY_FORMATS,
    REGISTRY_ORIGIN,
    latest_of,
    ordered,
    origin_of,
    payload_key,
    relink,
    version_key,
)

# A site page that suddenly shows less than this share of the fields its last version had is
# more likely a redesign or a login wall than a trial that lost its data.
KEEP_SHARE = 0.5


class IngestRefused(ValueError):
    """A record that is not stored; the message says why, naming the trial."""


class Degraded(IngestRefused):
    """A site page that lost most of its fields since its last version."""


class UnknownTrial(IngestRefused):
    """A page with no NCT id whose other identifiers match no stored trial (or several)."""


def norm_id(value: str) -> str:
    return "".join(value.split()).upper()


def resolve_nct(session: Session, record: TrialRecord) -> TrialRecord:
    """Give a record without an NCT id the one its secondary ids point to."""
    if record.nct_id is not None:
        return record
    ids = sorted({norm_id(s) for s in record.secondary_ids or [] if len(norm_id(s)) >= 4})
    where = record.source_url or record.source
    if not ids:
        raise UnknownTrial(f"{where}: no NCT id and no other identifier on the page")
    found = session.exec(
        select(TrialIdentifier.nct_id).where(col(TrialIdentifier.identifier).in_(ids))
    ).all()
    matches = sorted(set(found))
    if len(matches) != 1:
        what = "no stored trial" if not matches else f"several trials ({', '.join(matches)})"
        raise UnknownTrial(f"{where}: no NCT id, and {what} has the id(s) {', '.join(ids)}")
    return record.model_copy(update={"nct_id": matches[0]})


def _remember_ids(session: Session, record: TrialRecord) -> None:
    assert record.nct_id is not None
    wanted = {norm_id(s) for s in [record.nct_id, *(record.secondary_ids or [])]}
    wanted = {i for i in wanted if len(i) >= 4}
    known = set(
        session.exec(
            select(TrialIdentifier.identifier).where(
                TrialIdentifier.nct_id == record.nct_id, col(TrialIdentifier.identifier).in_(wanted)
            )
        ).all()
    )
    for identifier in sorted(wanted - known):
        session.add(
            TrialIdentifier(identifier=identifier, nct_id=record.nct_id, source=record.source)
        )


def _filled(record: dict[str, object]) -> int:
    skip = {"nct_id", "source", "source_url"}
    return sum(1 for k, v in record.items() if k not in skip and v is not None)


@dataclass
class IngestResult:
    """What one record did. ``outcome``: "first" (the origin's first version of the trial),
    "new" (a new latest version), "inserted" (a new version older than the latest: slotted
    into the timeline), "unchanged" (content already in its slot). ``changes``: the changes
    the caller may alert on (only those a new latest version brought, plus new discrepancies);
    Changes rewritten around a slotted version are never alerted."""

    outcome: Literal["first", "new", "inserted", "unchanged"]
    version: TrialVersion
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # versions that could not be re-read
    # integrity findings this version brought to hold that are news (the caller announces)
    findings: list[Finding] = field(default_factory=list)


def ingest_record(
    record: TrialRecord,
    *,
    session: Session,
    observed_at: datetime,
    snapshot: str | None = None,
    crawl_run_id: int | None = None,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    parser_version: str | None = None,
    reread: Reread | None = None,
    digest: str | None = None,
    live: bool = True,
    findings: bool = True,
) -> IngestResult:
    """Store ``record`` as seen at ``observed_at`` in its slot of its origin's timeline.

    Content equal to the version before its slot only moves that version's seen times; content
    equal to the version after it means that version's content was there earlier (its registry
    date moves back). Otherwise a version is written and the changes on both sides of it are
    recomputed. ``reread`` re-derives versions read by an older parser first, so a parser fix
    is never mistaken for a registry edit.

    The trial's integrity findings are recomputed when its registry versions change (unless
    ``findings`` is False: the caller does it once after several); with ``live``, those a
    new latest version reveals are news.
    """
    record = resolve_nct(session, record)
    assert record.nct_id is not None
    lock_trials(session, [record.nct_id])
    digest = digest or record_hash(record)  # the caller may have taken it already
    origin = origin_of(record.source)
    trial = session.exec(select(Trial).where(Trial.nct_id == record.nct_id)).first()
    if trial is None:
        trial = Trial(
            nct_id=record.nct_id,
            record={},
            record_source=origin,
            first_seen_at=observed_at,
            updated_at=observed_at,
        )
        session.add(trial)
        session.flush()
    assert trial.id is not None
    problems: list[str] = []
    held = list(session.exec(select(TrialVersion).where(TrialVersion.trial_id == trial.id)))
    if reread is not None and parser_version is not None:
        found = rederive(
            session,
            trial,
            reread,
            parser_version=parser_version,
            priority=priority,
            versions=held,
        )
        problems = found.problems
    versions = ordered([v for v in held if v.source == origin])
    key = payload_key(record.last_update_posted, record.registry_version, observed_at)
    slot = sum(1 for v in versions if version_key(v) <= key)
    before = versions[slot - 1] if slot > 0 else None
    after = versions[slot] if slot < len(versions) else None

    if before is not None and before.record_hash == digest:
        _seen_again(session, before, observed_at)
        return IngestResult("unchanged", before, problems=problems)
    if after is not None and after.record_hash == digest:
        # The same content, published earlier than we knew: its version starts here.
        after.registry_date = record.last_update_posted or after.registry_date
        after.registry_version = record.registry_version or after.registry_version
        _seen_again(session, after, observed_at)
        relink(session, before, after)
        if findings and origin == REGISTRY_ORIGIN:
            refresh_findings(session, trial, observed_at=observed_at, versions=held)
        return IngestResult("unchanged", after, problems=problems)
    data = record.model_dump(mode="json")
    if before is not None and origin not in REGISTRY_FORMATS:
        had, now = _filled(before.record), _filled(data)
        if now < had * KEEP_SHARE:
            raise Degraded(
                f"{record.nct_id}: the {record.source} page shows {now} of the {had} fields "
                "its last version had; a changed layout or a login wall? not stored as a version"
            )

    version = TrialVersion(
        trial_id=trial.id,
        nct_id=record.nct_id,
        source=origin,
        format=record.source,
        parser_version=parser_version,
        source_url=record.source_url,
        record_hash=digest,
        snapshot=snapshot,
        record=data,
        first_seen_at=observed_at,
        last_seen_at=observed_at,
        registry_date=record.last_update_posted,
        registry_version=record.registry_version,
        crawl_run_id=crawl_run_id,
    )
    session.add(version)
    session.flush()
    assert version.id is not None
    _remember_ids(session, record)
    rows = relink(session, before, version).inserted
    if after is not None:
        relink(session, version, after)
        rows = []  # older than what is already held: never alerted
    current = latest_of([*held, version])
    refresh_trial(session, trial, current, priority=priority)
    rows += update_discrepancies(session, trial, current, observed_at=observed_at)
    outcome: Literal["first", "new", "inserted"] = (
        "first" if not versions else ("inserted" if after is not None else "new")
    )
    news: list[Finding] = []
    if findings and origin == REGISTRY_ORIGIN:
        fresh = version.id if live and outcome == "new" else None
        news = refresh_findings(
            session, trial, observed_at=observed_at, live=fresh, versions=[*held, version]
        )
    return IngestResult(outcome, version, rows, problems=problems, findings=news)


def _seen_again(session: Session, version: TrialVersion, observed_at: datetime) -> None:
    version.last_seen_at = max(version.last_seen_at, observed_at)
    version.first_seen_at = min(version.first_seen_at, observed_at)
    session.add(version)


def record_alias(session: Session, *, alias: str, nct_id: str, observed_at: datetime) -> None:
    """Remember that the registry redirected ``alias`` to ``nct_id`` (kept once)."""
    if alias == nct_id:
        return
    if session.exec(select(TrialAlias).where(TrialAlias.alias == alias)).first() is None:
        session.add(TrialAlias(alias=alias, nct_id=nct_id, first_seen_at=observed_at))
