"""The outbox: compose pending deliveries into one message per watch, send, mark sent.

Exactly once in normal operation: a message row (with its Message-ID) is committed before
it is sent and marked sent only after the SMTP server accepted it. A run that dies in
between sends the same message again with the same Message-ID, so mail systems can drop
the copy; a refused or failed send stays pending and is retried with backoff.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from trialwatch.alerts.render import AlertItem, render_message
from trialwatch.alerts.smtp import SendError, SmtpSettings, build_email, send_email
from trialwatch.alerts.watches import describe
from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage, Change, Delivery, Trial, Watch

DIGEST_EVERY = timedelta(days=1)
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)


@dataclass
class SendTally:
    composed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 1, 2, 4 ... minutes, capped."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


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


def compose(session: Session, *, now: datetime, domain: str) -> list[AlertMessage]:
    """Gather each active watch's unassigned deliveries into one new message (digests at most
    once a day). The caller commits, before anything is sent."""
    rows = session.exec(
        select(Delivery, Change, Watch)
        .join(Change, col(Change.id) == Delivery.change_id)
        .join(Watch, col(Watch.id) == Delivery.watch_id)
        .where(col(Delivery.message_pk).is_(None), col(Watch.active).is_(True))
        .order_by(col(Delivery.watch_id), col(Change.observed_at), col(Change.id))
    ).all()
    grouped: dict[int, tuple[Watch, list[tuple[Delivery, Change]]]] = {}
    for delivery, change, watch in rows:
        grouped.setdefault(delivery.watch_id, (watch, []))[1].append((delivery, change))
    titles = _titles(session, {c.nct_id for _, c, _ in rows})
    messages = []
    for watch, pairs in grouped.values():
        if not _due_for_digest(session, watch, now):
            continue
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
        rendered = render_message(items, recipient=watch.email, watch_label=describe(watch))
        message = AlertMessage(
            watch_id=watch.id or 0,
            message_id=f"<{uuid.uuid4().hex}.w{watch.id}@{domain}>",
            recipient=watch.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        session.flush()
        for delivery, _ in pairs:
            delivery.message_pk = message.id
            session.add(delivery)
        messages.append(message)
    return messages


def _titles(session: Session, nct_ids: set[str]) -> dict[str, str | None]:
    if not nct_ids:
        return {}
    rows = session.exec(select(Trial).where(col(Trial.nct_id).in_(nct_ids)))
    return {t.nct_id: t.brief_title for t in rows}


def send_pending(
    engine: Engine,
    settings: SmtpSettings,
    *,
    now: Callable[[], datetime],
    ssl_context: ssl.SSLContext | None = None,
    report: Callable[[str], None] = lambda _line: None,
) -> SendTally:
    """Compose what is pending, then send every message that is due."""
    tally = SendTally()
    domain = settings.sender.rpartition("@")[2] or "trialwatch.invalid"
    with transaction(engine) as session:
        tally.composed = len(compose(session, now=now(), domain=domain))
    with transaction(engine) as session:
        due = session.exec(
            select(AlertMessage)
            .where(AlertMessage.status == "pending", AlertMessage.next_attempt_at <= now())
            .order_by(col(AlertMessage.id))
        ).all()
    for message in due:
        email = build_email(
            settings,
            to=message.recipient,
            subject=message.subject,
            text=message.text,
            html=message.html,
            message_id=message.message_id,
        )
        try:
            send_email(settings, email, ssl_context=ssl_context)
        except SendError as exc:
            _record_failure(engine, message, exc, now(), tally)
            report(tally.problems[-1])
            continue
        with transaction(engine) as session:
            message.status, message.sent_at = "sent", now()
            message.attempts += 1
            message.last_error = None
            session.add(message)
        tally.sent += 1
        report(f"sent {message.message_id} to {message.recipient}: {message.subject}")
    return tally


def _record_failure(
    engine: Engine, message: AlertMessage, exc: SendError, when: datetime, tally: SendTally
) -> None:
    with transaction(engine) as session:
        message.attempts += 1
        message.last_error = str(exc)
        if exc.temporary:
            message.next_attempt_at = when + backoff(message.attempts)
            tally.retrying += 1
            verdict = f"will retry after {message.next_attempt_at.isoformat(timespec='seconds')}"
        else:
            message.status = "failed"
            tally.failed += 1
            verdict = "given up"
        session.add(message)
    tally.problems.append(f"message {message.id} to {message.recipient}: {exc} ({verdict})")
