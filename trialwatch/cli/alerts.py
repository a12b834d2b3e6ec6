"""`trialwatch alerts`: the outbox, on every channel."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy import select as sql_select
from sqlmodel import col

from trialwatch.cli.util import Context, err, print_json
from trialwatch.registry.db import transaction
from trialwatch.registry.models import (
    AlertMessage,
    Change,
    Delivery,
    Finding,
    WatchChannel,
    utcnow,
)

if TYPE_CHECKING:
    from trialwatch.alerts.outbox import SendTally

RETRYABLE = ("held", "failed")


@click.group()
def alerts() -> None:
    """The outbox of alerts: send what is pending, list what was sent, retry what is held.

    Each message (one per channel of a watch: its email, each --notify URL) is claimed before
    it is sent, so any number of `alerts send` and schedulers may run at once and each
    message goes once, with one id (the email's Message-ID; a webhook's
    X-Trialwatch-Message-Id header). A message refused for good is held, with the reason,
    until a person acts.
    """


def _exit(tally: SendTally | None) -> None:
    trouble = (
        tally is None
        or tally.retrying
        or tally.held
        or tally.still_held
        or tally.problems
        or tally.no_smtp
    )
    sys.exit(1 if trouble else 0)


@alerts.command("send")
@click.option(
    "--now", "ignore_backoff", is_flag=True, help="Also send messages waiting out a backoff."
)
@click.pass_obj
def alerts_send(obj: Context, ignore_backoff: bool) -> None:
    """Compose and send pending alerts now: email over SMTP (TRIALWATCH_SMTP_* or the config
    file), every other channel through its Apprise URL. Digests whose time has passed go too.

    A message the server refused for a while (down, 4xx) waits 1, 2, 4 ... minutes (at most
    6 hours) before its next try; --now sends it at once. A message refused for good (5xx, a
    TLS or login mismatch, login refused) is held with the reason (`alerts list --held`).
    When the SMTP settings were at fault, the other due messages are held with it untried,
    and all of them go again on the first `alerts send` after the settings change; `alerts
    retry` sends held messages again whatever the cause. Exits 1 when anything was deferred
    or held, or is still held by the current settings. A channel that answers 5xx or times
    out is retried the same way; one that answers 4xx (a wrong URL or token) is held.
    """
    from trialwatch.ingest.jobs import send_alerts

    _exit(send_alerts(obj.engine, report=err, ignore_backoff=ignore_backoff))


@alerts.command("retry")
@click.argument("message_ids", nargs=-1, type=int, metavar="[MESSAGE]...")
@click.option("--all", "retry_all", is_flag=True, help="Every held message.")
@click.pass_obj
def alerts_retry(obj: Context, message_ids: tuple[int, ...], retry_all: bool) -> None:
    """Send held messages again now: those named (the message numbers `alerts list` shows),
    or --all. Each goes back to pending with its Message-ID and is sent at once; one that
    fails again is held again, with the new reason."""
    from trialwatch.alerts.claims import release_held
    from trialwatch.ingest.jobs import send_alerts

    if retry_all == bool(message_ids):
        raise click.UsageError("name the held messages to retry, or pass --all (not both)")
    released, problems = release_held(obj.engine, None if retry_all else message_ids, utcnow())
    for line in problems:
        err(line)
    if not released:
        err("alerts: no held message to retry")
        sys.exit(1)
    err(f"alerts: {len(released)} held message(s) back to pending")
    tally = send_alerts(obj.engine, report=err, ignore_backoff=True, only=released)
    if problems:
        sys.exit(1)
    _exit(tally)


@alerts.command("list")
@click.option(
    "--pending",
    is_flag=True,
    help="Only alerts not yet accepted by the SMTP server or channel (held too).",
)
@click.option("--held", is_flag=True, help="Only held alerts, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def alerts_list(obj: Context, pending: bool, held: bool, as_json: bool) -> None:
    """List alert deliveries: one per (channel, change), with the channel (URLs masked),
    their message (the number
    `alerts retry` takes), its state and, when held or retrying, the reason. With none, one
    line on stderr says so (and --json prints an empty array)."""
    with transaction(obj.engine) as session:
        stmt = (
            sql_select(Delivery, Change, Finding, AlertMessage, WatchChannel)
            .join(Change, col(Change.id) == Delivery.change_id, isouter=True)
            .join(Finding, col(Finding.id) == Delivery.finding_id, isouter=True)
            .join(WatchChannel, col(WatchChannel.id) == Delivery.channel_id)
            .join(AlertMessage, col(AlertMessage.id) == Delivery.message_pk, isouter=True)
            .order_by(col(Delivery.id))
        )
        data = []
        for delivery, change, finding, message, channel in session.execute(stmt):
            about = change or finding
            if about is None:
                continue  # check reports it
            status = message.status if message else "pending"
            if (pending and status == "sent") or (held and status not in RETRYABLE):
                continue
            data.append(
                {
                    "id": delivery.id,
                    "watch_id": delivery.watch_id,
                    "channel": channel.target,
                    "nct_id": about.nct_id,
                    "kind": about.kind if change else f"finding {about.kind}",
                    "status": status,
                    "message": message.id if message else None,
                    "message_id": message.message_id if message else None,
                    "attempts": message.attempts if message else 0,
                    "next_attempt_at": _iso(message.next_attempt_at) if message else None,
                    "sent_at": _iso(message.sent_at) if message else None,
                    "last_error": message.last_error if message else None,
                }
            )
    if not data:
        err(f"no {'held ' if held else 'pending ' if pending else ''}alert deliveries")
    if as_json:
        print_json(data)
        return
    for d in data:
        line = (
            f"{d['id']:>5}  watch {d['watch_id']:<4} {d['channel']}  {d['nct_id']}  "
            f"{d['kind']:<24} {d['status']}"
        )
        if d["message"] is not None:
            line += f"  message {d['message']}"
        if d["last_error"] and d["status"] != "sent":
            line += f": {d['last_error']}"
        click.echo(line)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@alerts.command("preview")
@click.argument("watch_id", type=int)
@click.pass_obj
def alerts_preview(obj: Context, watch_id: int) -> None:
    """Print the next message (or digest) WATCH would send, for each of its channels: an
    email's text part, or the title and text handed to the channel's Apprise URL (sized for
    it). Nothing is claimed, composed or sent."""
    from trialwatch.alerts.preview import preview

    shown = preview(obj.engine, watch_id, now=utcnow())
    if shown is None:
        err(f"watch {watch_id}: no such watch")
        sys.exit(1)
    if not shown:
        err(f"watch {watch_id}: no channels")
    for view in shown:
        click.echo(f"--- channel {view.channel.id}: {view.channel.kind} {view.channel.target}")
        click.echo(f"when: {view.when}")
        if view.title or view.body:
            click.echo(f"title: {view.title}\n")
            click.echo(view.body.rstrip("\n"))
        click.echo("")
