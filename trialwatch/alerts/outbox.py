"""The outbox: compose pending deliveries into one message per channel, send, mark sent.

A channel is an email address (sent over SMTP with trialwatch's settings) or an Apprise URL
(alerts.channels); both go through the same claims, retries and holds.

Exactly once, however many senders run at once: a watch's deliveries are composed into a
message by one sender only (see compose.py), and a message is claimed before it is sent (see
claims.py), so each goes out once with one Message-ID. A
message is marked sent only after the SMTP server accepted it; a sender that dies in between
leaves a claim that is taken over, and the message goes again with the same Message-ID, so
mail systems can drop the copy.

A temporary failure (server down, 4xx) leaves the message pending, retried with backoff. A
permanent one holds it for a person, with the reason: when the SMTP settings were at fault
(TLS or login mismatch, login refused, sender or relaying refused), the other due messages
are held with it untried, and all go again once the settings change; `alerts retry` sends any
held message again.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from trialwatch.alerts import claims
from trialwatch.alerts.claims import CLAIM_TIMEOUT, Claimant
from trialwatch.alerts.compose import compose, compose_each
from trialwatch.alerts.smtp import SendError, SmtpSettings, build_email, send_email
from trialwatch.alerts.watches import announce
from trialwatch.registry.db import transaction
from trialwatch.registry.findings import due_findings
from trialwatch.registry.models import AlertMessage, WatchChannel

__all__ = ["SendTally", "backoff", "compose", "send_pending"]

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
HELD_HINT = "held: fix the SMTP settings, or run `trialwatch alerts retry`"
HELD_ALONE_HINT = "held: refused for this message or its recipient; `trialwatch alerts retry`"
Report = Callable[[str], None]


@dataclass
class SendTally:
    composed: int = 0
    released: int = 0  # held by settings that have changed since: back to pending
    sent: int = 0
    retrying: int = 0
    held: int = 0  # held in this run
    untried: int = 0  # of those, held without trying: the settings had just failed
    taken: int = 0  # claimed by another sender first
    waiting: int = 0  # pending, waiting out their backoff
    no_smtp: int = 0  # email messages pending while no SMTP server is set
    still_held: list[AlertMessage] = field(default_factory=list)  # by the current settings
    problems: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 1, 2, 4 ... minutes, capped."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _candidates(
    engine: Engine,
    *,
    me: Claimant,
    now: datetime,
    due_by: datetime | None,
    only: Collection[int] | None,
    claim_timeout: timedelta,
    tally: SendTally,
    smtp: bool,
) -> list[tuple[int, str | None, bool]]:
    """Messages to claim, in order: (id, None, by Apprise) for a pending one that is due,
    (id, the claim, by Apprise) for one whose sender's claim is stale. Email waits while no
    SMTP server is set."""
    with transaction(engine) as session:
        stmt = select(AlertMessage, WatchChannel.kind).join(
            WatchChannel, col(WatchChannel.id) == AlertMessage.channel_id, isouter=True
        )
        stmt = stmt.where(col(AlertMessage.status).in_(("pending", "sending")))
        if only is not None:
            stmt = stmt.where(col(AlertMessage.id).in_(only))
        rows = session.exec(stmt.order_by(col(AlertMessage.id))).all()
    found: list[tuple[int, str | None, bool]] = []
    for m, kind in rows:
        assert m.id is not None
        if not smtp and kind != "apprise":
            tally.no_smtp += 1
        elif m.status == "pending":
            if due_by is None or m.next_attempt_at <= due_by:
                found.append((m.id, None, kind == "apprise"))
            else:
                tally.waiting += 1
        elif claims.is_stale(m, me=me, now=now, timeout=claim_timeout):
            found.append((m.id, m.claimed_by, kind == "apprise"))
    return found


def announce_due(engine: Engine, *, now: datetime) -> int:
    """Write the deliveries of findings that time has brought about since they were stored
    (results now overdue, a status now stale); each finding is announced once."""
    with transaction(engine) as session:
        due = due_findings(session, now.date())
        return announce(session, due, created_at=now) if due else 0


def send_pending(
    engine: Engine,
    settings: SmtpSettings | None,
    *,
    now: Callable[[], datetime],
    ssl_context: ssl.SSLContext | None = None,
    report: Report = lambda _line: None,
    ignore_backoff: bool = False,
    only: Collection[int] | None = None,
    claim_timeout: timedelta = CLAIM_TIMEOUT,
) -> SendTally:
    """Release messages held by settings that have changed, compose what is pending, then
    claim and send every message that is due (``ignore_backoff``: every pending one). With
    ``only``, send just those messages (nothing released or composed). Without ``settings``
    (no SMTP server), email stays pending and the other channels are sent."""
    tally = SendTally()
    me = Claimant.here()
    if settings is not None and ssl_context is None and settings.security != "none":
        ssl_context = ssl.create_default_context()  # one for the run: it reads the system's CAs
    sender = settings.sender if settings is not None else ""
    domain = sender.rpartition("@")[2] or "trialwatch.invalid"
    try:
        if only is None and settings is not None:
            tally.released, tally.still_held = claims.release_changed_settings(
                engine, settings.fingerprint, now()
            )
            if tally.released:
                report(
                    f"alerts: {tally.released} held message(s) go again: the SMTP settings changed"
                )
        if only is None:
            announce_due(engine, now=now())
            tally.composed = compose_each(engine, now=now, domain=domain, report=report)
        due_by = None if ignore_backoff else now()
        due = _candidates(
            engine,
            me=me,
            now=now(),
            due_by=due_by,
            only=only,
            claim_timeout=claim_timeout,
            tally=tally,
            smtp=settings is not None,
        )
        # These very settings already failed: new messages are held untried, as a wrong
        # password tried on every run could lock the account.
        known = tally.still_held[-1] if tally.still_held else None
        broken = (
            SendError(known.last_error or "the SMTP settings failed", temporary=False)
            if known
            else None
        )
        _send_each(
            engine,
            settings,
            due,
            me=me,
            now=now,
            due_by=due_by,
            broken=broken,
            fingerprint=known.held_settings or "" if known else "",
            ssl_context=ssl_context,
            tally=tally,
            report=report,
        )
    except OperationalError as exc:  # e.g. SQLite busy past its timeout, a lost connection
        reason = " ".join(str(exc.orig or exc).split())
        tally.problems.append(f"alerts: database error ({reason}); the rest waits for the next run")
        report(tally.problems[-1])
    return tally


def _send_each(
    engine: Engine,
    settings: SmtpSettings | None,
    due: list[tuple[int, str | None, bool]],
    *,
    me: Claimant,
    now: Callable[[], datetime],
    due_by: datetime | None,
    broken: SendError | None,
    fingerprint: str,
    ssl_context: ssl.SSLContext | None,
    tally: SendTally,
    report: Report,
) -> None:
    """Claim and send each message; once ``broken`` (the settings failed, with the
    ``fingerprint`` of those settings), hold the rest untried."""
    for pk, stale_claim, by_apprise in due:
        at = now()
        message = claims.claim(engine, pk, me, at, due_by=due_by, stale_claim=stale_claim)
        if message is None:
            tally.taken += 1
            continue
        channel = _channel(engine, message) if by_apprise else None
        if channel is not None:
            _send_apprise(engine, message, channel, me=me, now=now, tally=tally, report=report)
            continue
        assert settings is not None  # email is a candidate only with SMTP settings
        if broken is not None:
            claims.settle(
                engine,
                message,
                me,
                status="held",
                last_error=str(broken),
                held_settings=fingerprint,
            )
            tally.held += 1
            tally.untried += 1
            continue
        try:
            send_email(settings, _email(settings, message), ssl_context=ssl_context)
        except SendError as exc:
            if exc.settings and not exc.temporary:
                broken, fingerprint = exc, settings.fingerprint()
            _record_failure(engine, message, me, exc, now(), fingerprint if broken else None, tally)
            report(tally.problems[-1])
            continue
        _settle_sent(engine, message, me, now=now, tally=tally, report=report)


def _channel(engine: Engine, message: AlertMessage) -> WatchChannel | None:
    if message.channel_id is None:
        return None
    with transaction(engine) as session:
        return session.get(WatchChannel, message.channel_id)


def _send_apprise(
    engine: Engine,
    message: AlertMessage,
    channel: WatchChannel,
    *,
    me: Claimant,
    now: Callable[[], datetime],
    tally: SendTally,
    report: Report,
) -> None:
    from trialwatch.alerts import channels  # Apprise loads only where a channel needs it

    try:
        channels.send_message(
            channel.sealed,
            subject=message.subject,
            text=message.text,
            message_id=message.message_id,
        )
    except SendError as exc:
        _record_failure(engine, message, me, exc, now(), None, tally)
        report(tally.problems[-1])
        return
    _settle_sent(engine, message, me, now=now, tally=tally, report=report)


def _settle_sent(
    engine: Engine,
    message: AlertMessage,
    me: Claimant,
    *,
    now: Callable[[], datetime],
    tally: SendTally,
    report: Report,
) -> None:
    done = claims.settle(
        engine,
        message,
        me,
        status="sent",
        sent_at=now(),
        attempts=message.attempts + 1,
        last_error=None,
        held_settings=None,
    )
    if done:
        tally.sent += 1
        report(f"sent {message.message_id} to {message.recipient}: {message.subject}")
    else:
        tally.problems.append(
            f"message {message.id} to {message.recipient}: sent, but another sender took it "
            "over meanwhile (its claim had expired); it may arrive twice, with one Message-ID"
        )
        report(tally.problems[-1])


def _email(settings: SmtpSettings, message: AlertMessage) -> EmailMessage:
    try:
        return build_email(
            settings,
            to=message.recipient,
            subject=message.subject,
            text=message.text,
            html=message.html,
            message_id=message.message_id,
        )
    except ValueError as exc:  # a stored row that cannot make an email: a person must look
        raise SendError(str(exc), temporary=False) from None


def _record_failure(
    engine: Engine,
    message: AlertMessage,
    me: Claimant,
    exc: SendError,
    when: datetime,
    fingerprint: str | None,
    tally: SendTally,
) -> None:
    attempts = message.attempts + 1
    if exc.temporary:
        retry_at = when + backoff(attempts)
        values: dict[str, object] = {"status": "pending", "next_attempt_at": retry_at}
        tally.retrying += 1
        verdict = f"will retry after {retry_at.isoformat(timespec='seconds')}"
    else:
        values = {"status": "held", "held_settings": fingerprint}
        tally.held += 1
        verdict = HELD_HINT if fingerprint else HELD_ALONE_HINT
    claims.settle(engine, message, me, attempts=attempts, last_error=str(exc), **values)
    tally.problems.append(f"message {message.id} to {message.recipient}: {exc} ({verdict})")
