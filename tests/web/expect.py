"""What the change feed and search should show, read from the database the app serves by
other ways than the app's own (list_changes, the tables, the alert outbox)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from trialwatch.alerts.watches import add_watch, enqueue
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change, Delivery, Trial
from trialwatch.registry.queries import list_changes


@contextmanager
def session_on(url: str) -> Iterator[Session]:
    engine = open_engine(url)
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


def oldest_first(url: str, **filters: Any) -> list[int]:
    """Change ids as ``list_changes`` gives them (oldest first)."""
    with session_on(url) as session:
        return [c.id for c in list_changes(session, **filters) if c.id is not None]


def newest_first(url: str, **filters: Any) -> list[int]:
    """The feed's order: ``list_changes``' order reversed."""
    return oldest_first(url, **filters)[::-1]


def trials(url: str) -> dict[str, Trial]:
    with session_on(url) as session:
        found = {t.nct_id: t for t in session.exec(select(Trial)).all()}
        session.expunge_all()
        return found


def changes(url: str) -> dict[int, Change]:
    with session_on(url) as session:
        found = {c.id or 0: c for c in session.exec(select(Change)).all()}
        session.expunge_all()
        return found


def new_watch(url: str, **terms: Any) -> int:
    """A watch added as `trialwatch watch add` adds one; its id."""
    with session_on(url) as session:
        watch = add_watch(session, created_at=datetime.now(UTC), **terms)
        assert watch.id is not None
        return watch.id


def heard(url: str) -> dict[int, set[int]]:
    """Per watch, the stored changes the alert outbox would queue for it: ``enqueue`` run
    on every change, its deliveries read and then rolled back."""
    engine = open_engine(url)
    try:
        with Session(engine) as session:
            everything = session.exec(select(Change).order_by(col(Change.id))).all()
            enqueue(session, everything, created_at=datetime.now(UTC))
            session.flush()
            out: dict[int, set[int]] = {}
            for row in session.exec(select(Delivery)).all():
                out.setdefault(row.watch_id, set()).add(row.change_id)
            session.rollback()
            return out
    finally:
        engine.dispose()
