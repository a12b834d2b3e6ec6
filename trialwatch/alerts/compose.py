"""Compose a watch's pending deliveries into one message, by one sender only.

The deliveries are assigned to the new message under a lock on the watch (PostgreSQL: its row,
``FOR NO KEY UPDATE SKIP LOCKED``, so a second sender skips a watch being composed; SQLite:
the database's single writer, so a second sender waits, then finds the deliveries taken),
and only while still unassigned: a delivery lands in exactly one message. Rendering, the slow
part, is done before the lock is taken, so concurrent senders hold it only briefly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from trialwatch.alerts import claims
from trialwatch.alerts.render import AlertItem, RenderedMessage, render_message
from trialwatch.alerts.watches import describe
from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage, Change, Delivery, Trial, Watch

DIGEST_EVERY = timedelta(days=1)
Pairs = Sequence[tuple[Delivery, Change]]


class ClaimLost(RuntimeError):
    """Another sender assigned some of a watch's deliveries while this one composed."""


@dataclass(frozen=True)
class Draft:
    """A message rendered outside the lock, and what it was rendered from."""

    deliveries: tuple[int, ...]
    email: str
    label: str
    rendered: RenderedMessage


def waiting_watches(session: Session) -> list[int]:
    """Active watches with deliveries not yet in a message."""
    rows = session.exec(
        select(Delivery.watch_id)
        .join(Watch, col(Watch.id) == Delivery.watch_id)
        .where(col(Delivery.message_pk).is_(None), col(Watch.active).is_(True))
        .distinct()
        .order_by(col(Delivery.watch_id))
    )
    return list(rows)


def _due_for_digest(session: Session, watch: Watch, now: datetime) -> bool:
    if watch.digest != "daily":
        return True
    last = session.exec(
        select(AlertMessage.created_at)
        .where(AlertMessage.watch_id == watch.id)
        .order_by(col(AlertMessage.created_at).desc())
        .limit(1)
    ).first()
    return last is None or now - last >= DIGEST_EVERY


def _unassigned(session: Session, watch_id: int) -> Pairs:
    return session.exec(
        select(Delivery, Change)
        .join(Change, col(Change.id) == Delivery.change_id)
        .where(Delivery.watch_id == watch_id, col(Delivery.message_pk).is_(None))
        .order_by(col(Change.observed_at), col(Change.id))
    ).all()


def _draft(session: Session, watch: Watch, pairs: Pairs) -> Draft:
    nct_ids = {c.nct_id for _, c in pairs}
    trials = session.exec(select(Trial).where(col(Trial.nct_id).in_(nct_ids)))
    titles = {t.nct_id: t.brief_title for t in trials}
    items = [
        AlertItem(
            nct_id=c.nct_id,
            title=titles.get(c.nct_id),
            kind=c.kind,
            before=c.before,
            after=c.after,
            detail=c.detail,
            source=c.source,
            observed_at=c.observed_at,
            grade=c.grade,
        )
        for _, c in pairs
    ]
    label = describe(watch)
    rendered = render_message(items, recipient=watch.email, watch_label=label)
    return Draft(tuple(d.id or 0 for d, _ in pairs), watch.email, label, rendered)


def draft(engine: Engine, watch_id: int, *, now: datetime) -> Draft | None:
    """Render the watch's message as things stand, without any lock (None: nothing due)."""
    with transaction(engine) as session:
        watch = session.get(Watch, watch_id)
        if watch is None or not watch.active:
            return None
        pairs = _unassigned(session, watch_id)
        if not pairs or not _due_for_digest(session, watch, now):
            return None
        return _draft(session, watch, pairs)


def compose_watch(
    session: Session, watch_id: int, *, now: datetime, domain: str, ready: Draft | None = None
) -> AlertMessage | None:
    """One message from this watch's unassigned deliveries, unless another sender is
    composing it (the caller has taken the SQLite writer: ``claims.take_write_lock``). Uses
    ``ready`` when nothing changed since it was rendered."""
    watch = session.exec(
        select(Watch).where(Watch.id == watch_id).with_for_update(skip_locked=True, key_share=True)
    ).first()
    if watch is None or not watch.active:
        return None
    pairs = _unassigned(session, watch_id)
    if not pairs or not _due_for_digest(session, watch, now):
        return None
    ids = tuple(d.id or 0 for d, _ in pairs)
    if ready is None or (ready.deliveries, ready.email, ready.label) != (
        ids,
        watch.email,
        describe(watch),
    ):
        ready = _draft(session, watch, pairs)
    message = AlertMessage(
        watch_id=watch_id,
        message_id=f"<{uuid.uuid4().hex}.w{watch_id}@{domain}>",
        recipient=watch.email,
        subject=ready.rendered.subject,
        text=ready.rendered.text,
        html=ready.rendered.html,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    assign = (
        update(Delivery)
        .where(col(Delivery.id).in_(ids), col(Delivery.message_pk).is_(None))
        .values(message_pk=message.id)
    )
    if session.connection().execute(assign).rowcount != len(ids):
        raise ClaimLost(f"watch {watch_id}: its deliveries were composed by another sender")
    for delivery, _ in pairs:  # the rows in this session say what the database now holds
        delivery.message_pk = message.id
    return message


def compose(session: Session, *, now: datetime, domain: str) -> list[AlertMessage]:
    """Gather each active watch's unassigned deliveries into one new message (digests at most
    once a day), in the caller's transaction; the caller commits before anything is sent."""
    claims.take_write_lock(session)
    messages = []
    for watch_id in waiting_watches(session):
        message = compose_watch(session, watch_id, now=now, domain=domain)
        if message is not None:
            messages.append(message)
    return messages


def compose_each(
    engine: Engine, *, now: Callable[[], datetime], domain: str, report: Callable[[str], None]
) -> int:
    """Compose each waiting watch in a transaction of its own, rendered beforehand, so that
    concurrent senders take turns. Returns how many messages this sender composed."""
    with transaction(engine) as session:
        waiting = waiting_watches(session)
    composed = 0
    for watch_id in waiting:
        ready = draft(engine, watch_id, now=now())
        if ready is None:
            continue
        try:
            with transaction(engine) as session:
                claims.take_write_lock(session)
                made = compose_watch(session, watch_id, now=now(), domain=domain, ready=ready)
                composed += made is not None
        except ClaimLost as exc:
            report(f"alerts: {exc}; left to it")
    return composed
