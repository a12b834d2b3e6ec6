"""Writers that never race: one trial is written by one transaction at a time.

Ingest reads a trial's latest version and then writes what is new, so two writers of the same
trial must not interleave. A lock per trial does that without a constraint that could not say
what a duplicate is (the same content may come back later as a new version):

- PostgreSQL: a transaction-scoped advisory lock per trial, taken in NCT order (so two
  batches never wait on each other in a cycle) and released at commit or rollback;
- SQLite: the database's own write lock, taken when the transaction begins (``BEGIN
  IMMEDIATE``), so a writer's reads and writes see no other writer in between (readers go on,
  in WAL mode). A waiting writer waits ``busy_timeout``; past it, the batch is retried.

A transaction that still loses (a lock wait timed out, a deadlock through a lock taken late)
is rolled back whole and retried by ``retrying``; a conflict is never a traceback.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

T = TypeVar("T")

_NAMESPACE = 0x7477  # the advisory locks' first key: this program's, apart from others'
ATTEMPTS = 6


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A write transaction: commits on success, rolls back on any error. On SQLite it holds
    the write lock from its first statement."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            if engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


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
