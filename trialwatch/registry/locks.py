"""Writers that never race: one trial is written by one transaction at a time.

Ingest reads a trial's latest version and then writes what is new, so two writers of the same
trial must not interleave. A lock per trial does that without a constraint that could not say
what a duplicate is (the same content may come back later as a new version):

- PostgreSQL: a transaction-scoped advisory lock per trial, taken in NCT order (so two
  batches never wait on each other in a cycle) and released at commit or rollback;
- SQLite: the database's own write lock, taken when the transaction begins (``BEGIN
  IMMEDIATE``), so a writer's reads and writes see no other writer in between (readers go on,
  in WAL mode). A writer waits for it up to $TRIALWATCH_LOCK_WAIT seconds (default 60), and
  can be told once the wait is a long one; past it, ``LockedOut``.

A transaction that still loses (a lock wait timed out, a deadlock through a lock taken late)
is rolled back whole and retried by ``retrying``; a conflict is never a traceback. A
``fault`` (the database read-only, its disk full) is no one record's doing: it ends the work.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from trialwatch.registry.db import DatabaseError

T = TypeVar("T")

_NAMESPACE = 0x7477  # the advisory locks' first key: this program's, apart from others'
ATTEMPTS = 6
LOCK_WAIT_ENV = "TRIALWATCH_LOCK_WAIT"
LOCK_WAIT = 60.0  # seconds a SQLite writer waits for the write lock, unless the env says
QUIET_WAIT = 1.0  # a wait shorter than this is a writer finishing: not worth a line


class LockedOut(DatabaseError):
    """Another writer held SQLite's write lock for the whole wait."""


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine, *, waiting: Callable[[], None] | None = None) -> Iterator[Session]:
    """A write transaction: commits on success, rolls back on any error. On SQLite it holds
    the write lock from its first statement; ``waiting`` is called when another writer has
    held it for a while (the wait goes on)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            if engine.dialect.name == "sqlite":
                _begin_immediate(session.connection(), waiting)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def lock_wait() -> float:
    """Seconds a writer waits for SQLite's write lock: $TRIALWATCH_LOCK_WAIT, else 60."""
    given = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        return max(float(given), 0.0) if given else LOCK_WAIT
    except ValueError:
        return LOCK_WAIT


def _begin_immediate(conn: Connection, waiting: Callable[[], None] | None) -> None:
    """Take the write lock: a short quiet wait, then (``waiting`` told) the rest of it."""
    total = lock_wait()
    quiet = min(QUIET_WAIT, total)
    before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    try:
        for turn, limit in enumerate((quiet, total - quiet)):
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(limit * 1000)}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not _sqlite_error(exc, "SQLITE_BUSY", "SQLITE_LOCKED"):
                    raise
            if turn == 0 and waiting is not None:
                waiting()
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(before or 0)}")
    where = conn.engine.url.render_as_string(hide_password=True)
    raise LockedOut(
        f"{where}: the database is locked by another writer "
        f"(waited {total:g} s for its write lock; ${LOCK_WAIT_ENV} sets how long)"
    )


def _sqlite_error(exc: DBAPIError, *names: str) -> bool:
    """SQLite's own error name (SQLITE_BUSY, SQLITE_READONLY_DBMOVED, ...) is one of these."""
    return str(getattr(exc.orig, "sqlite_errorname", "")).startswith(names)


def _trial_number(nct_id: str) -> int | None:
    digits = nct_id[3:]
    return int(digits) if len(nct_id) == 11 and digits.isascii() and digits.isdigit() else None


def lock_trials(session: Session, nct_ids: Iterable[str]) -> None:
    """Hold each trial's lock until the transaction ends (PostgreSQL; SQLite's write lock
    already covers every trial). Locks already held by this transaction are taken again at no
    cost."""
    if is_sqlite(session):
        return
    keys = sorted({n for n in (_trial_number(i) for i in nct_ids) if n is not None})
    if not keys:
        return
    session.connection().execute(
        text("SELECT count(pg_advisory_xact_lock(:ns, k)) FROM unnest(CAST(:keys AS int[])) k"),
        {"ns": _NAMESPACE, "keys": keys},
    )


def conflict(exc: BaseException) -> bool:
    """A failure that another writer caused and a retry can cure."""
    if isinstance(exc, OperationalError):
        said = str(exc.orig).lower()
        return "locked" in said or "busy" in said or "deadlock" in said
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in ("40001", "40P01", "55P03")  # serialization, deadlock, lock timeout
    return False


def fault(exc: BaseException) -> str | None:
    """What is wrong, for a failure of the database or its disk that no retry, and no record
    set aside, can cure (the driver's words in brackets); None for any other failure."""
    if not isinstance(exc, DBAPIError):
        return None
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    said = f" ({lines[0]})" if lines else ""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if _sqlite_error(exc, "SQLITE_READONLY") or code == "25006":
        return f"the database is read-only{said}"
    if _sqlite_error(exc, "SQLITE_FULL") or code == "53100":
        return f"cannot write: the disk is full{said}"
    if _sqlite_error(exc, "SQLITE_IOERR"):
        return f"the disk failed{said}"
    if _sqlite_error(exc, "SQLITE_BUSY", "SQLITE_LOCKED") or code == "55P03":
        return f"the database is locked by another writer{said}"
    return None


def retrying(work: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run ``work`` (one whole transaction), again after a conflict, with a growing random
    pause; the last conflict is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == attempts or not conflict(exc):
                raise
            time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
    raise AssertionError("unreachable")
