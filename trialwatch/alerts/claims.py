"""Claims on alert messages: one sender at a time, and a claim left by a dead sender expires.

A sender moves a message from ``pending`` to ``sending`` with a conditional UPDATE that only
one sender can win (the database row lock on PostgreSQL, the single writer on SQLite), sends
it, then marks it ``sent``, puts it back to ``pending`` with a backoff, or ``held`` for a
person. Every later transition names the claim, so a sender whose claim was taken over
changes nothing.

A claim names its sender: this machine (kernel boot and process namespace), the process and
its start time, and the run. A claim whose process is gone from this machine is taken over at
once; any other claim only once it is older than the timeout. Either way the message goes
again with the Message-ID it was composed with.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage

# Far longer than one send can take (each SMTP step times out after 30 s).
CLAIM_TIMEOUT = timedelta(minutes=15)
RETRYABLE = ("held", "failed")  # failed: written before messages were held


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _node() -> str:
    """This kernel boot and process namespace; empty where they cannot be read."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    if not boot or not namespace:
        return ""
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:16]


def _started(pid: int) -> str | None:
    """When the process started (kernel ticks since boot); None if it is gone or a zombie."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


@dataclass(frozen=True)
class Claimant:
    node: str
    pid: int
    started: str
    run: str

    @classmethod
    def here(cls) -> Claimant:
        """This process, as a new run (two runs in one process never share a claim)."""
        pid = os.getpid()
        return cls(_node(), pid, _started(pid) or "", uuid.uuid4().hex[:12])

    @property
    def token(self) -> str:
        return f"{self.node}:{self.pid}:{self.started}:{self.run}"

    def gone(self, token: str) -> bool:
        """True when ``token`` names a process of this machine that no longer runs."""
        node, _, rest = token.partition(":")
        pid, _, rest = rest.partition(":")
        started = rest.partition(":")[0]
        if not self.node or node != self.node or not started or not pid.isdigit():
            return False
        return _started(int(pid)) != started


def is_stale(
    message: AlertMessage, *, me: Claimant, now: datetime, timeout: timedelta = CLAIM_TIMEOUT
) -> bool:
    """A ``sending`` claim that may be taken over: its sender died here, or it timed out."""
    if message.status != "sending":
        return False
    if message.claimed_at is None or message.claimed_by is None:
        return True
    return now - message.claimed_at >= timeout or me.gone(message.claimed_by)


def take_write_lock(session: Session) -> None:
    """On SQLite, make the transaction's first statement a write: a second sender then waits
    for the first to commit (and reads what it wrote) rather than failing at its first write.
    The statement matches no row. On PostgreSQL nothing is done: rows are locked instead."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().execute(
            update(AlertMessage).where(col(AlertMessage.id) == -1).values(status="pending")
        )


def claim(
    engine: Engine,
    message_pk: int,
    me: Claimant,
    at: datetime,
    *,
    due_by: datetime | None,
    stale_claim: str | None = None,
) -> AlertMessage | None:
    """Claim a pending message (due by ``due_by``; None: whatever its backoff), or take over
    the stale claim ``stale_claim``. Returns the message, or None when another sender won."""
    stmt = update(AlertMessage).where(col(AlertMessage.id) == message_pk)
    if stale_claim is None:
        stmt = stmt.where(col(AlertMessage.status) == "pending")
        if due_by is not None:
            stmt = stmt.where(col(AlertMessage.next_attempt_at) <= due_by)
    else:
        stmt = stmt.where(
            col(AlertMessage.status) == "sending", col(AlertMessage.claimed_by) == stale_claim
        )
    stmt = stmt.values(status="sending", claimed_by=me.token, claimed_at=at)
    with transaction(engine) as session:
        if session.connection().execute(stmt).rowcount != 1:
            return None
        return session.get(AlertMessage, message_pk)


def settle(engine: Engine, message: AlertMessage, me: Claimant, **values: object) -> bool:
    """Move a message this sender claimed on (sent, pending or held). False when the claim
    was taken over meanwhile (then the other sender settles it)."""
    stmt = (
        update(AlertMessage)
        .where(
            col(AlertMessage.id) == message.id,
            col(AlertMessage.status) == "sending",
            col(AlertMessage.claimed_by) == me.token,
        )
        .values(**values)
    )
    with transaction(engine) as session:
        return session.connection().execute(stmt).rowcount == 1


def release_changed_settings(
    engine: Engine, fingerprint: Callable[[str], str], at: datetime
) -> tuple[int, list[AlertMessage]]:
    """Held messages whose hold came from SMTP settings other than the current ones go back to
    pending. ``fingerprint(salt)`` gives the current settings' fingerprint with that salt.
    Returns how many went back, and the messages still held by the current settings."""
    with transaction(engine) as session:
        held = session.exec(
            select(AlertMessage).where(
                col(AlertMessage.status) == "held", col(AlertMessage.held_settings).is_not(None)
            )
        ).all()
    current: dict[str, str] = {}
    changed: set[str] = set()
    still: list[AlertMessage] = []
    for message in held:
        stored = message.held_settings or ""
        salt, sep, _ = stored.partition("$")
        if sep and salt not in current:
            current[salt] = fingerprint(salt)
        if sep and current[salt] == stored:
            still.append(message)
        else:
            changed.add(stored)
    released = 0
    for stored in sorted(changed):
        stmt = (
            update(AlertMessage)
            .where(col(AlertMessage.status) == "held", col(AlertMessage.held_settings) == stored)
            .values(status="pending", next_attempt_at=at, held_settings=None)
        )
        with transaction(engine) as session:
            released += session.connection().execute(stmt).rowcount
    return released, still


def release_held(
    engine: Engine, message_pks: Sequence[int] | None, at: datetime
) -> tuple[list[int], list[str]]:
    """Held (or failed) messages back to pending, due now: those named, or all (None).
    Returns the ones released and one line for each named one that is not held."""
    with transaction(engine) as session:
        stmt = select(AlertMessage)
        if message_pks is None:
            stmt = stmt.where(col(AlertMessage.status).in_(RETRYABLE))
        else:
            stmt = stmt.where(col(AlertMessage.id).in_(message_pks))
        found = {m.id: m for m in session.exec(stmt.order_by(col(AlertMessage.id)))}
    problems = []
    for pk in message_pks or ():
        if pk not in found:
            problems.append(f"message {pk}: no such message")
        elif found[pk].status not in RETRYABLE:
            problems.append(f"message {pk}: not held (it is {found[pk].status})")
    released = []
    for message in found.values():
        if message.id is None or message.status not in RETRYABLE:
            continue
        back = (
            update(AlertMessage)
            .where(col(AlertMessage.id) == message.id, col(AlertMessage.status).in_(RETRYABLE))
            .values(status="pending", next_attempt_at=at, held_settings=None)
        )
        with transaction(engine) as session:
            if session.connection().execute(back).rowcount == 1:
                released.append(message.id)
    return released, problems
