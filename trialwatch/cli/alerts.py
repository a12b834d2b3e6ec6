"""Commands for being told: watches and the alert outbox."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from sqlmodel import col, select

from trialwatch.alerts.watches import (
    DEFAULT_KINDS,
    DIGESTS,
    WATCH_SOURCES,
    add_watch,
    check_email,
    check_source,
    describe,
)
from trialwatch.cli.util import Context, check_nct, err, parse_query, print_json
from trialwatch.kinds import CHANGE_KINDS, DEFAULT_MIN_GRADE, GRADES
from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage, Change, Delivery, Watch, utcnow

if TYPE_CHECKING:
    from trialwatch.alerts.outbox import SendTally

RETRYABLE = ("held", "failed")


@click.group()
def watch() -> None:
    """Say which trials, and which kinds of change, should be emailed to whom."""


@watch.command("add")
@click.option(
    "--email",
    required=True,
    metavar="ADDRESS",
    help="Who gets the alerts: one bare address (name@example.org).",
)
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="A trial to follow (repeatable).")
@click.option(
    "--query",
    "queries",
    multiple=True,
    metavar="PARAM=VALUE",
    help="Follow every trial a search returns, now and later (same form as crawl --query).",
)
@click.option(
    "--source",
    metavar="SLUG",
    help=f"Follow every trial from this source: {', '.join(WATCH_SOURCES)}.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(CHANGE_KINDS),
    help=f"A change kind that matters (repeatable). Default: {', '.join(DEFAULT_KINDS)}.",
)
@click.option("--digest", type=click.Choice(DIGESTS), default="immediate", show_default=True)
@click.option(
    "--min-grade",
    type=click.Choice(GRADES),
    default=DEFAULT_MIN_GRADE,
    show_default=True,
    help="Only changes of this grade or higher (editorial < minor < major).",
)
@click.pass_obj
def watch_add(
    obj: Context,
    email: str,
    ncts: tuple[str, ...],
    queries: tuple[str, ...],
    source: str | None,
    kinds: tuple[str, ...],
    digest: str,
    min_grade: str,
) -> None:
    """Add a watch: --nct, --query or --source, the kinds of change that matter, and the
    least grade worth an email.

    A query watch follows the trials that `crawl ctgov --query` with the same parameters
    returns, including those that enter the search later. A grade is how much a change
    matters: editorial (meaning kept: spelling, case, punctuation), minor (detail added or
    clarified) or major (anything added, removed or with a number, date or status changed);
    by default editorial edits are not emailed.
    """
    try:
        email = check_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from None
    try:
        source = check_source(source) if source is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from None
    ids = [check_nct(n) for n in ncts]
    query = parse_query(queries)
    try:
        with transaction(obj.engine) as session:
            found = add_watch(
                session,
                email=email,
                created_at=utcnow(),
                nct_ids=ids,
                query=query,
                source=source,
                kinds=kinds,
                digest=digest,
                min_grade=min_grade,
            )
            label = describe(found)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(label)


def _watch_dict(w: Watch) -> dict[str, Any]:
    return {
        "id": w.id,
        "email": w.email,
        "nct_ids": w.nct_ids,
        "query": w.query,
        "source": w.source,
        "kinds": w.kinds,
        "digest": w.digest,
        "min_grade": w.min_grade,
        "created_at": w.created_at.isoformat(),
    }


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def watch_list(obj: Context, as_json: bool) -> None:
    """List the active watches (none: one line on stderr, and --json prints [])."""
    with transaction(obj.engine) as session:
        rows = session.exec(select(Watch).where(col(Watch.active).is_(True))).all()
        data = [(_watch_dict(w), describe(w)) for w in rows]
    if not data:
        err("no active watches")
    if as_json:
        print_json([d for d, _ in data])
        return
    for d, label in data:
        click.echo(f"{label} -> {d['email']}")


@watch.command("remove")
@click.argument("watch_id", type=int)
@click.pass_obj
def watch_remove(obj: Context, watch_id: int) -> None:
    """Stop a watch (its past alerts stay on record)."""
    with transaction(obj.engine) as session:
        found = session.get(Watch, watch_id)
        if found is None or not found.active:
            err(f"watch {watch_id}: no such active watch")
            sys.exit(1)
        found.active = False
        session.add(found)
    err(f"watch {watch_id}: removed")


@click.group()
def alerts() -> None:
    """The outbox of alerts: send what is pending, list what was sent, retry what is held.

    Each message is claimed before it is sent, so any number of `alerts send` and schedulers
    may run at once and each message goes once, with one Message-ID. A message the SMTP
    server refused for good is held, with the reason, until a person acts.
    """


def _exit(tally: SendTally | None) -> None:
    trouble = tally is None or tally.retrying or tally.held or tally.still_held or tally.problems
    sys.exit(1 if trouble else 0)


@alerts.command("send")
@click.option(
    "--now", "ignore_backoff", is_flag=True, help="Also send messages waiting out a backoff."
)
@click.pass_obj
def alerts_send(obj: Context, ignore_backoff: bool) -> None:
    """Compose and send pending alerts now (SMTP from TRIALWATCH_SMTP_* or the config file).

    A message the server refused for a while (down, 4xx) waits 1, 2, 4 ... minutes (at most
    6 hours) before its next try; --now sends it at once. A message refused for good (5xx, a
    TLS or login mismatch, login refused) is held with the reason (`alerts list --held`).
    When the SMTP settings were at fault, the other due messages are held with it untried,
    and all of them go again on the first `alerts send` after the settings change; `alerts
    retry` sends held messages again whatever the cause. Exits 1 when anything was deferred
    or held, or is still held by the current settings.
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
    "--pending", is_flag=True, help="Only alerts not yet accepted by the SMTP server (held too)."
)
@click.option("--held", is_flag=True, help="Only held alerts, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def alerts_list(obj: Context, pending: bool, held: bool, as_json: bool) -> None:
    """List alert deliveries: one per (watch, change), with their message (the number
    `alerts retry` takes), its state and, when held or retrying, the reason. With none, one
    line on stderr says so (and --json prints an empty array)."""
    with transaction(obj.engine) as session:
        stmt = (
            select(Delivery, Change, AlertMessage)
            .join(Change, col(Change.id) == Delivery.change_id)
            .join(AlertMessage, col(AlertMessage.id) == Delivery.message_pk, isouter=True)
            .order_by(col(Delivery.id))
        )
        data = []
        for delivery, change, message in session.exec(stmt):
            status = message.status if message else "pending"
            if (pending and status == "sent") or (held and status not in RETRYABLE):
                continue
            data.append(
                {
                    "id": delivery.id,
                    "watch_id": delivery.watch_id,
                    "nct_id": change.nct_id,
                    "kind": change.kind,
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
            f"{d['id']:>5}  watch {d['watch_id']:<4} {d['nct_id']}  {d['kind']:<24} {d['status']}"
        )
        if d["message"] is not None:
            line += f"  message {d['message']}"
        if d["last_error"] and d["status"] != "sent":
            line += f": {d['last_error']}"
        click.echo(line)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
