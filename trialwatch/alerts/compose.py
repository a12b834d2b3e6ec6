"""Compose a channel's pending deliveries into one message, by one sender only.

Each channel of a watch (its email address, each Apprise URL) gets its own messages, so one
that fails is retried or held alone. A digest channel's message gathers what it was owed
before the end of the latest period (alerts.digests) and is stored under that period.

The deliveries are assigned to the new message under a lock on the channel (PostgreSQL: its
row, ``FOR NO KEY UPDATE SKIP LOCKED``, so a second sender skips a channel being composed; SQLite:
the database's single writer, so a second sender waits, then finds the deliveries taken),
and only while still unassigned: a delivery lands in exactly one message. Rendering, the slow
part, is done before the lock is taken, so concurrent senders hold it only briefly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from trialwatch.alerts import claims
from trialwatch.alerts.digests import period_end, period_name
from trialwatch.alerts.render import AlertItem, RenderedMessage, render_message, truncate
from trialwatch.alerts.watches import describe
from trialwatch.registry.db import transaction
from trialwatch.registry.models import (
    AlertMessage,
    Change,
    Delivery,
    Finding,
    Trial,
    Watch,
    WatchChannel,
)

Pairs = Sequence[tuple[Delivery, Change | Finding]]
Waiting = tuple[int, int]  # (watch id, channel id)


class ClaimLost(RuntimeError):
    """Another sender assigned some of a watch's deliveries while this one composed."""


@dataclass(frozen=True)
class Draft:
    """A message rendered outside the lock, and what it was rendered from."""

    deliveries: tuple[int, ...]
    recipient: str
    label: str
    period: str | None
    rendered: RenderedMessage


def waiting_channels(session: Session) -> list[Waiting]:
    """(watch, channel) of active watches with deliveries not yet in a message."""
    rows = session.exec(
        select(Delivery.watch_id, Delivery.channel_id)
        .join(Watch, col(Watch.id) == Delivery.watch_id)
        .where(col(Delivery.message_pk).is_(None), col(Watch.active).is_(True))
        .distinct()
        .order_by(col(Delivery.watch_id), col(Delivery.channel_id))
    )
    return [(w, c) for w, c in rows]


def _period(
    session: Session, watch: Watch, channel_id: int, now: datetime
) -> tuple[bool, datetime | None]:
    """(due, end): a channel told at once is always due (end None); a digest channel is due
    when the latest period has ended and has no digest yet."""
    end = period_end(
        watch.digest, now, at=watch.digest_at, tz=watch.digest_tz, weekday=watch.digest_weekday
    )
    if end is None:
        return True, None
    sent = session.exec(
        select(AlertMessage.id).where(
            AlertMessage.channel_id == channel_id, AlertMessage.period == period_name(end)
        )
    ).first()
    return sent is None, end


def unassigned(session: Session, channel_id: int, before: datetime | None = None) -> Pairs:
    """The channel's deliveries in no message yet (``before``: written before that moment),
    each with its change or finding, in the order they were found."""
    waiting = [col(Delivery.channel_id) == channel_id, col(Delivery.message_pk).is_(None)]
    if before is not None:
        waiting.append(col(Delivery.created_at) < before)
    changes = session.exec(
        select(Delivery, Change).join(Change, col(Change.id) == Delivery.change_id).where(*waiting)
    ).all()
    findings = session.exec(
        select(Delivery, Finding)
        .join(Finding, col(Finding.id) == Delivery.finding_id)
        .where(*waiting)
    ).all()
    pairs: list[tuple[Delivery, Change | Finding]] = [*changes, *findings]
    return sorted(pairs, key=lambda p: (p[0].created_at, p[0].id or 0))


def items_of(session: Session, pairs: Pairs) -> list[AlertItem]:
    nct_ids = {c.nct_id for _, c in pairs}
    trials = session.exec(select(Trial).where(col(Trial.nct_id).in_(nct_ids)))
    titles = {t.nct_id: t.brief_title for t in trials}
    return [_item(c, titles.get(c.nct_id)) for _, c in pairs]


def _item(found: Change | Finding, title: str | None) -> AlertItem:
    if isinstance(found, Finding):
        return AlertItem(
            nct_id=found.nct_id,
            title=title,
            kind=found.kind,
            before=None,
            after=None,
            detail={**found.detail, "finding": found.text},
            source="ctgov",
            observed_at=found.announced_at or found.first_seen_at,
            grade=found.grade,
        )
    return AlertItem(
        nct_id=found.nct_id,
        title=title,
        kind=found.kind,
        before=found.before,
        after=found.after,
        detail=found.detail,
        source=found.source,
        observed_at=found.observed_at,
        grade=found.grade,
    )


def _draft(
    session: Session, watch: Watch, channel: WatchChannel, pairs: Pairs, period: str | None
) -> Draft:
    label = describe(watch)
    rendered = render_message(items_of(session, pairs), recipient=channel.target, watch_label=label)
    ids = tuple(d.id or 0 for d, _ in pairs)
    return Draft(ids, truncate(channel.target, 320), label, period, rendered)


def _due(
    session: Session, watch_id: int, channel_id: int, now: datetime
) -> tuple[Watch, WatchChannel, Pairs, str | None] | None:
    watch = session.get(Watch, watch_id)
    channel = session.get(WatchChannel, channel_id)
    if watch is None or not watch.active or channel is None:
        return None
    due, end = _period(session, watch, channel_id, now)
    if not due:
        return None
    pairs = unassigned(session, channel_id, end)
    if not pairs:
        return None
    return watch, channel, pairs, period_name(end) if end else None


def draft(engine: Engine, watch_id: int, channel_id: int, *, now: datetime) -> Draft | None:
    """Render the channel's message as things stand, without any lock (None: nothing due)."""
    with transaction(engine) as session:
        found = _due(session, watch_id, channel_id, now)
        return _draft(session, *found) if found else None


def compose_channel(
    session: Session,
    watch_id: int,
    channel_id: int,
    *,
    now: datetime,
    domain: str,
    ready: Draft | None = None,
) -> AlertMessage | None:
    """One message from this channel's unassigned deliveries that are due, unless another
    sender is composing it (the caller has taken the SQLite writer:
    ``claims.take_write_lock``). Uses ``ready`` when nothing changed since it was rendered."""
    # The channel's row, not the watch's: a sender composing another channel of the same
    # watch must not make this one be skipped by everyone.
    locked = session.exec(
        select(WatchChannel.id)
        .where(WatchChannel.id == channel_id)
        .with_for_update(skip_locked=True, key_share=True)
    ).first()
    if locked is None:
        return None
    found = _due(session, watch_id, channel_id, now)
    if found is None:
        return None
    watch, channel, pairs, period = found
    ids = tuple(d.id or 0 for d, _ in pairs)
    if ready is None or (ready.deliveries, ready.recipient, ready.label, ready.period) != (
        ids,
        truncate(channel.target, 320),
        describe(watch),
        period,
    ):
        ready = _draft(session, watch, channel, pairs, period)
    message = AlertMessage(
        watch_id=watch_id,
        channel_id=channel_id,
        period=period,
        message_id=f"<{uuid.uuid4().hex}.w{watch_id}.c{channel_id}@{domain}>",
        recipient=ready.recipient,
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
        raise ClaimLost(
            f"watch {watch_id}, channel {channel_id}: its deliveries were composed by another "
            "sender"
        )
    for delivery, _ in pairs:  # the rows in this session say what the database now holds
        delivery.message_pk = message.id
    return message


def compose(session: Session, *, now: datetime, domain: str) -> list[AlertMessage]:
    """Gather each channel's unassigned deliveries into one new message (a digest once a
    period), in the caller's transaction; the caller commits before anything is sent."""
    claims.take_write_lock(session)
    messages = []
    for watch_id, channel_id in waiting_channels(session):
        message = compose_channel(session, watch_id, channel_id, now=now, domain=domain)
        if message is not None:
            messages.append(message)
    return messages


def compose_each(
    engine: Engine, *, now: Callable[[], datetime], domain: str, report: Callable[[str], None]
) -> int:
    """Compose each waiting channel in a transaction of its own, rendered beforehand, so that
    concurrent senders take turns. Returns how many messages this sender composed."""
    with transaction(engine) as session:
        waiting = waiting_channels(session)
    composed = 0
    for watch_id, channel_id in waiting:
        ready = draft(engine, watch_id, channel_id, now=now())
        if ready is None:
            continue
        try:
            with transaction(engine) as session:
                claims.take_write_lock(session)
                made = compose_channel(
                    session, watch_id, channel_id, now=now(), domain=domain, ready=ready
                )
                composed += made is not None
        except ClaimLost as exc:
            report(f"alerts: {exc}; left to it")
        except IntegrityError:  # another sender stored this period's digest first
            report(f"alerts: watch {watch_id}, channel {channel_id}: digest composed elsewhere")
    return composed
