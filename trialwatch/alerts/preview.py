"""What a watch would send next on each of its channels, rendered as the sender would render
it, without claiming, composing or sending anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from trialwatch.alerts.compose import items_of, unassigned
from trialwatch.alerts.digests import next_end, period_end
from trialwatch.alerts.render import render_message, truncate
from trialwatch.alerts.watches import channels_of, describe
from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage, Watch, WatchChannel


@dataclass(frozen=True)
class Preview:
    channel: WatchChannel
    when: str  # when it would go, in words
    title: str = ""
    body: str = ""  # as the channel would get it (an email: its text part)
    composed: bool = False  # already composed, waiting in the outbox


def preview(engine: Engine, watch_id: int, *, now: datetime) -> list[Preview] | None:
    """One preview per channel of the watch (None: no such watch)."""
    with transaction(engine) as session:
        watch = session.get(Watch, watch_id)
        if watch is None:
            return None
        channels = channels_of(session, [watch_id]).get(watch_id, [])
        shown = []
        for channel in channels:
            assert channel.id is not None
            waiting = session.exec(
                select(AlertMessage)
                .where(
                    AlertMessage.channel_id == channel.id,
                    col(AlertMessage.status).in_(("pending", "sending", "held")),
                )
                .order_by(col(AlertMessage.id))
            ).first()
            if waiting is not None:
                when = f"composed as message {waiting.id} ({waiting.status}); goes on the next send"
                shown.append(_rendered(channel, when, waiting.subject, waiting.text, waiting))
                continue
            pairs = unassigned(session, channel.id)
            if not pairs:
                shown.append(Preview(channel, "nothing to send"))
                continue
            rendered = render_message(
                items_of(session, pairs), recipient=channel.target, watch_label=describe(watch)
            )
            shown.append(_rendered(channel, _when(watch, now), rendered.subject, rendered.text))
        return shown


def _when(watch: Watch, now: datetime) -> str:
    at, tz, weekday = watch.digest_at, watch.digest_tz, watch.digest_weekday
    ended = period_end(watch.digest, now, at=at, tz=tz, weekday=weekday)
    if ended is None:
        return "at once: on the next send"
    upcoming = next_end(watch.digest, now, at=at, tz=tz, weekday=weekday)
    assert upcoming is not None
    return (
        f"{watch.digest} digest; what came before {ended:%Y-%m-%d %H:%M} UTC goes on the next "
        f"send, the rest at {upcoming:%Y-%m-%d %H:%M} UTC"
    )


def _rendered(
    channel: WatchChannel,
    when: str,
    subject: str,
    text: str,
    message: AlertMessage | None = None,
) -> Preview:
    if channel.kind != "apprise":
        return Preview(channel, when, subject, text, composed=message is not None)
    from trialwatch.alerts.channels import fitted
    from trialwatch.alerts.smtp import SendError

    message_id = message.message_id if message else "<the id it gets when composed>"
    try:
        _, shown = fitted(channel.sealed, subject=subject, text=text, message_id=message_id)
    except SendError as exc:
        note = f"(shown as the email's text: the channel's URL cannot be opened: {exc})"
        return Preview(channel, f"{when} {note}", subject, text, composed=message is not None)
    title = truncate(shown.title, 1000)
    return Preview(channel, when, title, shown.body, composed=message is not None)
