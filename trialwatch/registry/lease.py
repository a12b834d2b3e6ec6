"""One scheduler per database, enforced by the database itself.

PostgreSQL: a session-level advisory lock, keyed to the database, held on a connection kept
open while the scheduler serves; the server drops it when that process dies. SQLite: the lease
row is the lock; it is taken with a compare-and-set, so two contenders never both win.

On both, the holder renews its row (``heartbeat_at``) every few seconds. A holder whose
heartbeat is older than its own timeout is taken for dead (on PostgreSQL a hung holder's
session is ended so its lock goes), and so is a holder on this host whose process is gone.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from trialwatch.registry.models import SchedulerLease, utcnow

LEASE_NAME = "scheduler"
TABLE = SchedulerLease.__table__  # type: ignore[attr-defined]


class LeaseHeld(RuntimeError):
    """Another live scheduler serves this database."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        super().__init__(describe_holder(holder))


class _Moved(Exception):
    """The lease row changed between reading and writing it."""


class LeaseLost(RuntimeError):
    """This scheduler's lease was taken over (it was taken for dead) or its lock went."""


@dataclass(frozen=True)
class Holder:
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    timeout_seconds: float

    def stale(self, now: datetime) -> bool:
        return now - self.heartbeat_at > timedelta(seconds=self.timeout_seconds)

    def gone_from_this_host(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # someone else's process: alive
            return False
        return False


def describe_holder(holder: Holder | None) -> str:
    if holder is None:
        return "another 'trialwatch schedule run' serves this database (no lease row yet)"
    return (
        f"another 'trialwatch schedule run' serves this database: holder {holder.holder} "
        f"(pid {holder.pid} on {holder.host}) since {holder.started_at:%Y-%m-%dT%H:%M:%SZ}, "
        f"last heartbeat {holder.heartbeat_at:%Y-%m-%dT%H:%M:%SZ}"
    )


def _row(conn: Connection) -> Holder | None:
    found = conn.execute(select(TABLE).where(TABLE.c.name == LEASE_NAME)).mappings().first()
    if found is None:
        return None
    return Holder(**{k: found[k] for k in Holder.__dataclass_fields__})


def advisory_key(database: str) -> int:
    """A signed 64-bit key derived from the database's name: one lock per database."""
    digest = hashlib.sha256(b"trialwatch.scheduler\0" + database.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Lease:
    """``acquire()`` once, ``renew()`` every ``interval`` seconds, ``release()`` at the end."""

    def __init__(self, engine: Engine, *, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError(f"lease timeout must be positive, got {timeout!r}")
        self.engine = engine
        self.timeout = float(timeout)
        self.interval = min(5.0, max(0.1, self.timeout / 4))
        self.me = Holder(
            holder=uuid.uuid4().hex[:16],
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            timeout_seconds=self.timeout,
        )
        self._postgres = engine.dialect.name == "postgresql"
        self._lock_conn: Connection | None = None
        self._key = 0
        self._using = threading.Lock()  # the heartbeat and a starting job both renew

    # -- taking it ------------------------------------------------------------------------

    def acquire(self) -> Holder | None:
        """Become the holder; returns the holder taken over from (dead or hung), if any.
        Raises LeaseHeld naming the live holder."""
        if self._postgres:
            return self._acquire_postgres()
        return self._acquire_sqlite()

    def _acquire_sqlite(self) -> Holder | None:
        # Two contenders can read the same row; only one conditional write succeeds. SQLite
        # may refuse the loser's write as "locked" rather than let it wait: read again.
        for attempt in range(5):
            try:
                return self._set_sqlite_row()
            except OperationalError:
                if attempt == 4:
                    raise
            except (IntegrityError, _Moved):
                if attempt == 4:  # another contender keeps winning: it is the holder
                    with self.engine.connect() as conn:
                        raise LeaseHeld(_row(conn)) from None
            time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def _set_sqlite_row(self) -> Holder | None:
        with self.engine.begin() as conn:
            old = _row(conn)
            now = utcnow()
            if old is None:
                conn.execute(insert(TABLE).values(self._values(now)))
                return None
            if not (old.holder == self.me.holder or old.stale(now) or old.gone_from_this_host()):
                raise LeaseHeld(old)
            taken = conn.execute(
                update(TABLE)
                .where(
                    TABLE.c.name == LEASE_NAME,
                    TABLE.c.holder == old.holder,
                    TABLE.c.heartbeat_at == old.heartbeat_at,
                )
                .values(self._values(now))
            )
            if taken.rowcount != 1:  # renewed or taken in between: look again
                raise _Moved
            return old

    def _acquire_postgres(self) -> Holder | None:
        conn = self.engine.connect()
        try:
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            self._key = advisory_key(database)
            got = self._try_lock(conn)
            if not got:
                old = self._holder_row(conn)
                if old is None or not old.stale(self._db_now(conn)):
                    raise LeaseHeld(old)
                # Hung: alive enough to keep its session, too stuck to renew. End that session.
                self._end_holder_session(conn, old)
                for _ in range(20):  # the server lets the lock go once that session has ended
                    if got := self._try_lock(conn):
                        break
                    time.sleep(0.25)
                if not got:
                    raise LeaseHeld(old)
            old = _row(conn)
            now = self._db_now(conn)
            conn.execute(delete(TABLE).where(TABLE.c.name == LEASE_NAME))
            conn.execute(insert(TABLE).values(self._values(now)))
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self._lock_conn = conn
        return old if old is not None and old.holder != self.me.holder else None

    def _try_lock(self, conn: Connection) -> bool:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
        conn.commit()  # a session lock outlives transactions; leave none open
        return bool(got)

    @staticmethod
    def _holder_row(conn: Connection) -> Holder | None:
        # The lock is taken before the row is written: give a holder that just won a moment.
        for _ in range(10):
            old = _row(conn)
            conn.commit()
            if old is not None:
                return old
            time.sleep(0.1)
        return None

    def _end_holder_session(self, conn: Connection, old: Holder) -> None:
        # pg_locks splits a bigint advisory key into two 32-bit halves. Only a session that
        # already existed at the stale heartbeat can be the hung holder's, not one that has
        # just taken the lock and is about to write its own row.
        high, low = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        pids = conn.execute(
            text(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.classid = CAST(:high AS bigint)::oid"
                " AND l.objid = CAST(:low AS bigint)::oid AND l.objsubid = 1"
                " AND a.backend_start <= :heartbeat"
            ),
            {"high": high, "low": low, "heartbeat": old.heartbeat_at},
        ).scalars()
        for pid in list(pids):
            try:
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            except DBAPIError:  # not allowed to: the lock stays with the hung holder
                conn.rollback()
        conn.commit()

    @staticmethod
    def _db_now(conn: Connection) -> datetime:
        # The server's clock judges heartbeats, whichever machine each scheduler runs on.
        value: datetime = conn.execute(text("SELECT now()")).scalar_one()
        return value

    def _values(self, now: datetime) -> dict[str, object]:
        return {
            "name": LEASE_NAME,
            "holder": self.me.holder,
            "host": self.me.host,
            "pid": self.me.pid,
            "started_at": now,
            "heartbeat_at": now,
            "timeout_seconds": self.timeout,
        }

    # -- keeping it -----------------------------------------------------------------------

    def renew(self) -> None:
        """Move this holder's heartbeat; LeaseLost when another holder has the lease now or
        (PostgreSQL) the lock's session is gone. Other database errors are raised as they are:
        a busy or unreachable database is not yet a lost lease."""
        with self._using:
            self._renew()

    def _renew(self) -> None:
        if self._postgres:
            conn = self._lock_conn
            if conn is None or conn.invalidated:
                raise LeaseLost("the lock's database session has ended")
            try:
                done = conn.execute(self._renewal(self._db_now(conn)))
                conn.commit()
            except DBAPIError as exc:
                if exc.connection_invalidated or conn.invalidated:
                    raise LeaseLost(f"the lock's database session ended: {exc.orig}") from None
                conn.rollback()
                raise
        else:
            with self.engine.begin() as conn:
                done = conn.execute(self._renewal(utcnow()))
        if done.rowcount != 1:
            with self.engine.connect() as conn:
                now_holder = _row(conn)
            raise LeaseLost(
                "the lease was taken over: " + describe_holder(now_holder).split(": ", 1)[-1]
            )

    def _renewal(self, now: datetime):  # type: ignore[no-untyped-def]
        return (
            update(TABLE)
            .where(TABLE.c.name == LEASE_NAME, TABLE.c.holder == self.me.holder)
            .values(heartbeat_at=now)
        )

    def release(self) -> None:
        """Give the lease up (best effort: a dead process's lease is taken over anyway)."""
        with self._using:
            self._release()

    def _release(self) -> None:
        try:
            if self._postgres and self._lock_conn is not None:
                conn, self._lock_conn = self._lock_conn, None
                try:
                    conn.execute(delete(TABLE).where(TABLE.c.holder == self.me.holder))
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                    conn.commit()
                finally:
                    conn.close()
            elif not self._postgres:
                with self.engine.begin() as conn:
                    conn.execute(delete(TABLE).where(TABLE.c.holder == self.me.holder))
        except SQLAlchemyError:
            pass  # the database or the session is gone: the lock went with it / times out


def current_holder(engine: Engine) -> Holder | None:
    with engine.connect() as conn:
        return _row(conn)
