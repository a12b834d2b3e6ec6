"""Is the database consistent? Read-only checks, one ``Problem`` per thing found wrong.

Each problem has a stable short code (``CODES``), where it is (a row or a snapshot) and one
line saying what is wrong. Errors break a promise the rest of trialwatch relies on (a version
whose raw payload is gone cannot be re-read; a change that does not link consecutive versions
shows a history that never happened); warnings are states that may be fine but deserve a
look (a crawl that has been "running" for a day).

Work goes a chunk of trials at a time, so memory stays flat on a large database.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import func, literal, union_all
from sqlalchemy import select as sql_select  # core: a union of plain columns
from sqlmodel import Session, col, select

from trialwatch.snapshots import PayloadStore

from .lease import LEASE_NAME
from .models import (
    AlertMessage,
    Change,
    CrawlRun,
    Delivery,
    Finding,
    ParseFailure,
    SchedulerLease,
    Trial,
    TrialVersion,
    Watch,
    WatchChannel,
    utcnow,
)

# code -> severity; the codes are stable (scripts may match on them)
CODES: dict[str, str] = {
    "snapshot-none": "error",  # a version with no raw payload recorded
    "snapshot-missing": "error",  # the payload's file is not in the store
    "snapshot-unreadable": "error",  # the file is there but does not decompress
    "snapshot-mismatch": "error",  # its bytes do not hash to its name
    "trial-duplicate": "error",
    "trial-empty": "error",  # a trial with no version
    "version-misfiled": "error",  # NCT id or origin disagrees with its trial / timeline
    "version-repeat": "error",  # two consecutive versions with one content
    "version-duplicate": "error",  # one content twice in one slot of a timeline
    "order-tie": "warning",  # two versions only their row ids put in order
    "order-clock": "warning",  # registry version numbers run against the registry dates
    "change-orphan": "error",  # points to a version that does not exist
    "change-misfiled": "error",  # trial, NCT id or origin differ from its versions'
    "change-not-consecutive": "error",
    "change-identical": "error",  # a change between two versions with the same content
    "change-duplicate": "error",
    "change-date": "error",  # registry_date differs from the date of its to-version
    "deep-hash": "error",  # a version's record_hash is not the hash of its content
    "deep-missing": "error",  # compare() finds a change not stored
    "deep-extra": "error",  # a stored change compare() no longer finds
    "deep-described": "warning",  # the same change stored with another grade or detail
    "deep-unreadable": "error",  # a stored record no longer reads as a TrialRecord
    "deep-finding-missing": "error",  # the versions show a finding not stored
    "deep-finding-extra": "error",  # a stored finding the versions no longer show
    "delivery-orphan": "error",  # its change, watch or message does not exist
    "delivery-message-channel": "error",  # a delivery in a message for another channel
    "delivery-message-watch": "error",  # its message is for another watch
    "message-orphan": "error",  # its watch does not exist
    "message-sent-no-time": "error",
    "message-claim-stale": "warning",  # claimed for sending long ago, never finished
    "watch-duplicate": "warning",
    "run-interrupted": "warning",
}
CLAIM_STALE = timedelta(hours=1)
RUN_STALE = timedelta(hours=24)
_SHOWN = 5  # rows named in one line before "and N more"


@dataclass(frozen=True)
class Problem:
    code: str
    where: str
    message: str

    @property
    def severity(self) -> str:
        return CODES.get(self.code, "error")

    def line(self) -> str:
        return f"{self.severity} {self.code} {self.where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "code": self.code,
            "where": self.where,
            "message": self.message,
        }


@dataclass
class CheckReport:
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def check_database(
    session: Session,
    store: PayloadStore,
    *,
    deep: bool = False,
    now: datetime | None = None,
    claim_stale: timedelta = CLAIM_STALE,
    run_stale: timedelta = RUN_STALE,
) -> CheckReport:
    """Run every check. ``deep`` also recomputes each version's hash and compare() for each
    consecutive pair, and reports where they differ from what is stored."""
    moment = now or utcnow()
    report = CheckReport()
    report.problems += check_trials(session)
    from .check_history import check_timelines  # it builds on Problem, defined here

    report.problems += check_timelines(session, deep=deep, counts=report.counts)
    report.problems += check_snapshots(session, store, counts=report.counts)
    report.problems += check_outbox(session, now=moment, claim_stale=claim_stale)
    report.problems += check_watches(session)
    report.problems += check_runs(session, now=moment, run_stale=run_stale)
    for name, table in (
        ("deliveries", Delivery),
        ("messages", AlertMessage),
        ("watches", Watch),
        ("crawl runs", CrawlRun),
    ):
        report.counts[name] = session.exec(select(func.count()).select_from(table)).one()
    return report


def label(v: TrialVersion) -> str:
    when = v.registry_date or v.first_seen_at.date().isoformat()
    number = f" v{v.registry_version}" if v.registry_version else ""
    return f"version {v.id} ({v.nct_id} {v.source}{number} {when})"


def _some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def check_trials(session: Session) -> list[Problem]:
    """Trials held twice under one NCT id (in any letter case), and trials with no version."""
    problems = []
    key = func.upper(col(Trial.nct_id))
    dupes = session.exec(select(key, func.count()).group_by(key).having(func.count() > 1)).all()
    for nct, count in dupes:
        problems.append(Problem("trial-duplicate", f"trial {nct}", f"held {count} times"))
    empty = session.exec(
        select(Trial.id, Trial.nct_id)
        .outerjoin(TrialVersion, col(TrialVersion.trial_id) == Trial.id)
        .where(col(TrialVersion.id).is_(None))
        .order_by(col(Trial.id))
    ).all()
    for trial_id, nct in empty:
        problems.append(Problem("trial-empty", f"trial {nct}", f"row {trial_id} has no version"))
    return problems


def check_snapshots(
    session: Session, store: PayloadStore, *, counts: dict[str, int] | None = None
) -> list[Problem]:
    """Every raw payload a version (or a set-aside payload) names is in the store, whole.
    Each payload is read once however many rows hold it, in one pass sorted by digest."""
    problems = []
    for version_id, nct in session.exec(
        select(TrialVersion.id, TrialVersion.nct_id)
        .where(col(TrialVersion.snapshot).is_(None))
        .order_by(col(TrialVersion.id))
    ):
        problems.append(
            Problem(
                "snapshot-none",
                f"version {version_id} ({nct})",
                "no raw payload recorded: it cannot be re-read",
            )
        )
    held = union_all(
        sql_select(
            col(TrialVersion.snapshot).label("digest"),
            literal("version").label("kind"),
            col(TrialVersion.id).label("row"),
            col(TrialVersion.nct_id).label("nct"),
        ).where(col(TrialVersion.snapshot).is_not(None)),
        sql_select(
            col(ParseFailure.snapshot).label("digest"),
            literal("parse_failure").label("kind"),
            col(ParseFailure.id).label("row"),
            literal(None).label("nct"),
        ).where(col(ParseFailure.snapshot).is_not(None)),
    ).subquery()
    rows = session.connection().execute(
        sql_select(held)
        .order_by(held.c.digest, held.c.kind, held.c.row)
        .execution_options(yield_per=1000)
    )
    distinct = 0
    for digest, group in groupby(rows, key=lambda row: str(row.digest)):
        distinct += 1
        code, detail = store.verify(digest)
        if code is not None:
            users = [f"{r.kind} {r.row}" + (f" ({r.nct})" if r.nct else "") for r in group]
            problems.append(
                Problem(code, f"snapshot {digest[:16]}", f"{detail}; held by {_some(users)}")
            )
    if counts is not None:
        counts["snapshots"] = distinct
    return problems


def check_outbox(
    session: Session, *, now: datetime, claim_stale: timedelta = CLAIM_STALE
) -> list[Problem]:
    """Deliveries point to rows that exist (a change or a finding); sent messages say when;
    no claim lasts forever."""
    problems = []
    found = session.execute(
        sql_select(Delivery, col(Change.id), col(Finding.id), col(Watch.id), AlertMessage)
        .outerjoin(Change, col(Change.id) == Delivery.change_id)
        .outerjoin(Finding, col(Finding.id) == Delivery.finding_id)
        .outerjoin(Watch, col(Watch.id) == Delivery.watch_id)
        .outerjoin(AlertMessage, col(AlertMessage.id) == Delivery.message_pk)
        .where(
            (col(Change.id).is_(None) & col(Finding.id).is_(None))
            | col(Watch.id).is_(None)
            | (col(Delivery.message_pk).is_not(None) & col(AlertMessage.id).is_(None))
            | (col(AlertMessage.watch_id) != Delivery.watch_id)
            | (col(AlertMessage.channel_id) != Delivery.channel_id)
        )
        .order_by(col(Delivery.id))
    ).all()
    for delivery, change_id, finding_id, watch_id, message in found:
        where = f"delivery {delivery.id}"
        about = (
            f"finding {delivery.finding_id}"
            if delivery.finding_id
            else f"change {delivery.change_id}"
        )
        missing = [
            about if change_id is None and finding_id is None else "",
            f"watch {delivery.watch_id}" if watch_id is None else "",
            f"message {delivery.message_pk}"
            if delivery.message_pk is not None and message is None
            else "",
        ]
        if any(missing):
            gone = ", ".join(m for m in missing if m)
            problems.append(Problem("delivery-orphan", where, f"points to {gone}, not stored"))
        if (
            message is not None
            and message.watch_id == delivery.watch_id
            and message.channel_id not in (None, delivery.channel_id)
        ):
            problems.append(
                Problem(
                    "delivery-message-channel",
                    where,
                    f"for channel {delivery.channel_id}, but its message {message.id} is for "
                    f"channel {message.channel_id}",
                )
            )
        if message is not None and message.watch_id != delivery.watch_id:
            problems.append(
                Problem(
                    "delivery-message-watch",
                    where,
                    f"for watch {delivery.watch_id}, but its message {message.id} is for "
                    f"watch {message.watch_id}",
                )
            )
    orphans = session.exec(
        select(AlertMessage.id, AlertMessage.watch_id)
        .outerjoin(Watch, col(Watch.id) == AlertMessage.watch_id)
        .where(col(Watch.id).is_(None))
    ).all()
    for message_id, watch_id in orphans:
        problems.append(
            Problem("message-orphan", f"message {message_id}", f"watch {watch_id} is not stored")
        )
    unsent = session.exec(
        select(AlertMessage.id).where(
            AlertMessage.status == "sent", col(AlertMessage.sent_at).is_(None)
        )
    ).all()
    for message_id in unsent:
        problems.append(
            Problem("message-sent-no-time", f"message {message_id}", "marked sent with no sent_at")
        )
    problems += _stale_claims(session, now=now, claim_stale=claim_stale)
    return problems


def _stale_claims(session: Session, *, now: datetime, claim_stale: timedelta) -> list[Problem]:
    rows = session.exec(
        select(AlertMessage.id, AlertMessage.claimed_by, AlertMessage.claimed_at).where(
            AlertMessage.status == "sending",
            col(AlertMessage.claimed_at).is_(None)
            | (col(AlertMessage.claimed_at) < now - claim_stale),
        )
    ).all()
    problems = []
    for message_id, who, when in rows:
        since = when.isoformat(timespec="seconds") if when else "an unknown time"
        problems.append(
            Problem(
                "message-claim-stale",
                f"message {message_id}",
                f"claimed for sending by {who or 'an unknown sender'} at {since} and never "
                "finished: did its sender die?",
            )
        )
    return problems


def _watch_key(w: Watch, channels: list[WatchChannel]) -> str:
    # A sealed URL is encrypted afresh each time, so two watches on one URL never compare
    # equal here: this finds duplicate email watches only, never a false one.
    where = sorted((c.kind, c.target if c.kind == "email" else c.sealed or "") for c in channels)
    fields: list[object] = [w.nct_ids, w.query, w.source, w.kinds, w.findings, w.digest]
    fields += [w.digest_at]
    fields += [w.digest_tz, w.digest_weekday, w.min_grade, where]
    return json.dumps(fields, sort_keys=True, default=str)


def check_watches(session: Session) -> list[Problem]:
    """Active watches the same in every field and channel: each change would go twice."""
    seen: dict[str, Watch] = {}
    problems = []
    watches = session.exec(select(Watch).where(col(Watch.active).is_(True)).order_by(col(Watch.id)))
    channels: dict[int, list[WatchChannel]] = {}
    for c in session.exec(select(WatchChannel).order_by(col(WatchChannel.id))):
        channels.setdefault(c.watch_id, []).append(c)
    for w in watches:
        first = seen.setdefault(_watch_key(w, channels.get(w.id or 0, [])), w)
        if first is not w:
            problems.append(
                Problem("watch-duplicate", f"watch {w.id}", f"the same as watch {first.id}")
            )
    return problems


def _scheduler_alive(lease: SchedulerLease | None, started: datetime, now: datetime) -> bool:
    """Is the scheduler that started a run at ``started`` still serving?"""
    if lease is None or lease.started_at > started:  # none now, or a later one took over
        return False
    if now - lease.heartbeat_at > timedelta(seconds=lease.timeout_seconds):
        return False
    if lease.host == socket.gethostname():
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # there, under another user
            return True
    return True


def check_runs(
    session: Session, *, now: datetime, run_stale: timedelta = RUN_STALE
) -> list[Problem]:
    """Crawl runs still marked running whose process is gone: a scheduled run whose
    scheduler no longer serves, or any run begun long ago (a crawl that ends, even by an
    error, records how it ended; a killed one cannot)."""
    rows = session.exec(
        select(CrawlRun.id, CrawlRun.source, CrawlRun.started_at, CrawlRun.job_id)
        .where(CrawlRun.status == "running")
        .order_by(col(CrawlRun.id))
    ).all()
    lease = session.get(SchedulerLease, LEASE_NAME) if any(r[3] for r in rows) else None
    problems = []
    for run_id, source, started, job_id in rows:
        if started < now - run_stale:
            why = f"running since {started.isoformat(timespec='seconds')}: interrupted?"
        elif job_id is not None and not _scheduler_alive(lease, started, now):
            why = f"scheduled job {job_id}, but the scheduler that ran it is gone: interrupted?"
        else:
            continue
        problems.append(Problem("run-interrupted", f"crawl_run {run_id} ({source})", why))
    return problems
