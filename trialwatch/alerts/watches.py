"""Watches: which trials (by NCT id, by search, or by source), which change kinds and from
which grade up matter to whom, and which stored changes each watch must hear about."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.utils import parseaddr

from sqlalchemy import update
from sqlmodel import Session, col, select

from trialwatch.alerts.digests import DIGESTS, describe_digest
from trialwatch.kinds import CHANGE_KINDS, DEFAULT_MIN_GRADE, FINDING_KINDS, GRADES, grade_rank
from trialwatch.parsers import REGISTRY_SOURCES, SITE_SOURCES
from trialwatch.registry.models import (
    Change,
    Delivery,
    Finding,
    QueryMember,
    Watch,
    WatchChannel,
)

DEFAULT_KINDS: tuple[str, ...] = (
    "status",
    "primary_completion_date",
    "completion_date",
    "eligibility_criteria",
)
# The origins a change can come from: the registry (whatever its payload format) and each site.
WATCH_SOURCES: tuple[str, ...] = ("ctgov", *SITE_SOURCES)
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_email(value: str) -> str:
    """``value`` (its host name in ASCII) if it is exactly one addressable mailbox
    (``local@host.name``), else a ValueError saying what is wrong: no display name, comment,
    list or line break."""
    address = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in address):
        raise ValueError(
            f"{value!r} is not an email address: it holds a line break or a control character"
        )
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, MessageError):
        raise ValueError(
            f"{value!r} is not one email address (expected the form name@example.org, "
            "without a display name, comment or second address)"
        ) from None
    if parseaddr(address) != ("", address) or parsed.addr_spec != address:
        raise ValueError(f"{value!r} is not one bare email address (name@example.org)")
    if not parsed.username or len(address) > 254 or len(parsed.username) > 64:
        raise ValueError(f"{value!r} is not an email address: empty or too long")
    try:
        host = parsed.domain.encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not host or not all(_LABEL.match(label) for label in host.split(".")):
        raise ValueError(f"{value!r} is not an email address: {parsed.domain!r} is not a host name")
    return Address(username=parsed.username, domain=host).addr_spec  # host in ASCII (IDNA)


def check_source(value: str) -> str:
    """A source a watch can follow: ``ctgov`` or a site's slug (one line otherwise)."""
    slug = value.strip().lower()
    if slug in WATCH_SOURCES:
        return slug
    if slug in REGISTRY_SOURCES:
        raise ValueError(
            f"{value!r} is a payload format of the registry, whose changes all come from "
            "source 'ctgov' (watch --source ctgov)"
        )
    raise ValueError(f"unknown source {value!r} (expected one of {', '.join(WATCH_SOURCES)})")


def query_key(query: Mapping[str, str]) -> str:
    """A stable name for a search: the same parameters in any order give the same key."""
    text = json.dumps(dict(sorted(query.items())), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Target:
    """A channel to add: an email address, or an Apprise URL (shown: its masked form)."""

    kind: str  # "email" or "apprise"
    address: str  # the address, or the whole URL
    shown: str


def add_watch(
    session: Session,
    *,
    email: str | None = None,
    created_at: datetime,
    notify: Sequence[Target] = (),
    nct_ids: Sequence[str] = (),
    query: Mapping[str, str] | None = None,
    source: str | None = None,
    kinds: Sequence[str] = (),
    findings: Sequence[str] = (),
    digest: str = "immediate",
    digest_at: str | None = None,
    digest_tz: str | None = None,
    digest_weekday: int | None = None,
    min_grade: str = DEFAULT_MIN_GRADE,
    seal: Callable[[str], str] | None = None,
) -> Watch:
    """A new watch with its channels: ``email`` (sent over SMTP) and each of ``notify``
    (Apprise URLs, stored sealed by ``seal``)."""
    targets = sum(bool(x) for x in (nct_ids, query, source))
    if targets != 1:
        raise ValueError("a watch follows exactly one of: NCT ids, a query, a source")
    unknown = sorted(set(kinds) - set(CHANGE_KINDS))
    if unknown:
        raise ValueError(f"unknown change kind(s): {', '.join(unknown)}")
    unknown = sorted(set(findings) - set(FINDING_KINDS))
    if unknown:
        raise ValueError(
            f"unknown finding kind(s): {', '.join(unknown)} (expected {', '.join(FINDING_KINDS)})"
        )
    if findings and source not in (None, "ctgov"):
        raise ValueError("findings come from the registry's history: not with a site's --source")
    if digest not in DIGESTS:
        raise ValueError(f"digest must be one of {', '.join(DIGESTS)}, not {digest!r}")
    if min_grade not in GRADES:
        raise ValueError(f"min grade must be one of {', '.join(GRADES)}, not {min_grade!r}")
    if not email and not notify:
        raise ValueError("a watch needs somewhere to send: --email or --notify")
    email = check_email(email) if email else None
    source = check_source(source) if source else None
    watch = Watch(
        email=email or "",
        nct_ids=sorted(set(nct_ids)) or None,
        query=dict(query) if query else None,
        query_key=query_key(query) if query else None,
        source=source,
        # a watch on findings alone hears no changes unless kinds are named too
        kinds=list(dict.fromkeys(kinds or ([] if findings else DEFAULT_KINDS))),
        findings=list(dict.fromkeys(findings)) or None,
        digest=digest,
        digest_at=digest_at if digest != "immediate" else None,
        digest_tz=digest_tz if digest != "immediate" else None,
        digest_weekday=digest_weekday if digest == "weekly" else None,
        min_grade=min_grade,
        created_at=created_at,
    )
    session.add(watch)
    session.flush()
    assert watch.id is not None
    first = [Target("email", email, email)] if email else []
    for target in [*first, *notify]:
        sealed = None
        if target.kind == "apprise":
            if seal is None:
                raise ValueError("an Apprise URL is stored sealed: no key to seal it with")
            sealed = seal(target.address)
        session.add(
            WatchChannel(
                watch_id=watch.id,
                kind=target.kind,
                target=target.shown if target.kind == "apprise" else target.address,
                sealed=sealed,
                created_at=created_at,
            )
        )
    session.flush()
    return watch


def channels_of(session: Session, watch_ids: Iterable[int]) -> dict[int, list[WatchChannel]]:
    """Each watch's channels, in the order they were added."""
    found: dict[int, list[WatchChannel]] = {}
    ids = sorted(set(watch_ids))
    if not ids:
        return found
    rows = session.exec(
        select(WatchChannel)
        .where(col(WatchChannel.watch_id).in_(ids))
        .order_by(col(WatchChannel.id))
    )
    for row in rows:
        found.setdefault(row.watch_id, []).append(row)
    return found


def describe(watch: Watch) -> str:
    if watch.nct_ids:
        what = ", ".join(watch.nct_ids)
    elif watch.query:
        what = "search " + " ".join(f"{k}={v}" for k, v in sorted(watch.query.items()))
    else:
        what = f"source {watch.source}"
    grades = f"{watch.min_grade} and up" if grade_rank(watch.min_grade) else "every grade"
    digest = describe_digest(
        watch.digest, at=watch.digest_at, tz=watch.digest_tz, weekday=watch.digest_weekday
    )
    heard = [*watch.kinds, *(f"finding {k}" for k in watch.findings or ())]
    return f"watch {watch.id}: {what} ({', '.join(heard)}; {grades}; {digest})"


def note_query_member(session: Session, *, key: str, nct_id: str, seen_at: datetime) -> None:
    """Remember that a search returned this trial (once)."""
    stmt = select(QueryMember).where(QueryMember.query_key == key, QueryMember.nct_id == nct_id)
    if session.exec(stmt).first() is None:
        session.add(QueryMember(query_key=key, nct_id=nct_id, first_seen_at=seen_at))
        session.flush()


def _members(session: Session, watches: Sequence[Watch], nct_ids: set[str]) -> dict[str, set[str]]:
    """For each watched search, which of these trials it returned."""
    members: dict[str, set[str]] = {}
    keys = {w.query_key for w in watches if w.query_key}
    if keys:
        rows = session.exec(
            select(QueryMember).where(
                col(QueryMember.query_key).in_(keys), col(QueryMember.nct_id).in_(nct_ids)
            )
        )
        for row in rows:
            members.setdefault(row.query_key, set()).add(row.nct_id)
    return members


def _follows(watch: Watch, nct_id: str, members: dict[str, set[str]]) -> bool:
    if watch.nct_ids and nct_id not in watch.nct_ids:
        return False
    return not (watch.query_key and nct_id not in members.get(watch.query_key, ()))


def announce(session: Session, findings: Sequence[Finding], *, created_at: datetime) -> int:
    """Write a delivery for every active watch on each finding's kind and trial, once per
    finding: a finding already announced (by this or another process) is skipped. In the
    caller's transaction. Returns how many deliveries."""
    count = 0
    watches = [
        w
        for w in session.exec(select(Watch).where(col(Watch.active).is_(True)))
        if w.findings and w.source in (None, "ctgov")  # findings come from the registry
    ]
    members = _members(session, watches, {f.nct_id for f in findings})
    channels = channels_of(session, [w.id for w in watches if w.id is not None])
    for finding in findings:
        claim = (
            update(Finding)
            .where(col(Finding.id) == finding.id, col(Finding.announced_at).is_(None))
            .values(announced_at=created_at)
        )
        if session.connection().execute(claim).rowcount != 1:
            continue  # announced already
        for watch in watches:
            if finding.kind not in (watch.findings or ()):
                continue
            if grade_rank(finding.grade) < grade_rank(watch.min_grade):
                continue
            if not _follows(watch, finding.nct_id, members):
                continue
            for channel in channels.get(watch.id or 0, ()):
                session.add(_delivery(channel, created_at, finding_id=finding.id))
                count += 1
    session.flush()
    return count


def enqueue(session: Session, changes: Sequence[Change], *, created_at: datetime) -> int:
    """Write a delivery for every active watch that asked for each change (its kind, and a
    grade at or above the watch's least grade); in the caller's transaction, so changes and
    their deliveries land together. Returns how many."""
    if not changes:
        return 0
    watches = session.exec(select(Watch).where(col(Watch.active).is_(True))).all()
    if not watches:
        return 0
    channels = channels_of(session, [w.id for w in watches if w.id is not None])
    members = _members(session, watches, {c.nct_id for c in changes})
    count = 0
    for change in changes:
        for watch in watches:
            if change.kind not in watch.kinds:
                continue
            if grade_rank(change.grade) < grade_rank(watch.min_grade):
                continue
            if not _follows(watch, change.nct_id, members):
                continue
            if watch.source and change.source != watch.source:
                continue
            assert change.id is not None
            for channel in channels.get(watch.id or 0, ()):
                session.add(_delivery(channel, created_at, change_id=change.id))
                count += 1
    return count


def _delivery(channel: WatchChannel, created_at: datetime, **about: int | None) -> Delivery:
    """An outbox row for one channel: ``change_id`` or ``finding_id``."""
    assert channel.id is not None
    return Delivery(
        watch_id=channel.watch_id, channel_id=channel.id, created_at=created_at, **about
    )
