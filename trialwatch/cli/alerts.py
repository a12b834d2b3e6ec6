"""Commands for being told: watches and the alert outbox."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlmodel import col, select

from trialwatch.alerts.watches import DEFAULT_KINDS, DIGESTS, add_watch, describe
from trialwatch.cli.util import Context, check_nct, err, parse_query, print_json
from trialwatch.kinds import CHANGE_KINDS, DEFAULT_MIN_GRADE, GRADES
from trialwatch.registry.db import transaction
from trialwatch.registry.models import AlertMessage, Change, Delivery, Watch, utcnow


@click.group()
def watch() -> None:
    """Say which trials, and which kinds of change, should be emailed to whom."""


@watch.command("add")
@click.option("--email", required=True, metavar="ADDRESS", help="Who gets the alerts.")
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="A trial to follow (repeatable).")
@click.option(
    "--query",
    "queries",
    multiple=True,
    metavar="PARAM=VALUE",
    help="Follow every trial a search returns, now and later (same form as crawl --query).",
)
@click.option("--source", metavar="SLUG", help="Follow every trial from this source.")
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
    if "@" not in email or any(c in email for c in "\r\n ,;<>"):
        raise click.BadParameter(f"{email!r} is not one email address", param_hint="--email")
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
    """List the active watches."""
    with transaction(obj.engine) as session:
        rows = session.exec(select(Watch).where(col(Watch.active).is_(True))).all()
        data = [(_watch_dict(w), describe(w)) for w in rows]
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
    """The outbox of alerts: send what is pending, list what was sent."""


@alerts.command("send")
@click.pass_obj
def alerts_send(obj: Context) -> None:
    """Compose and send pending alerts now (SMTP from TRIALWATCH_SMTP_* or the config file)."""
    from trialwatch.jobs import send_alerts

    tally = send_alerts(obj.engine, report=err)
    sys.exit(1 if tally is None or tally.failed or tally.retrying else 0)


@alerts.command("list")
@click.option("--pending", is_flag=True, help="Only alerts not yet accepted by the SMTP server.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def alerts_list(obj: Context, pending: bool, as_json: bool) -> None:
    """List alert deliveries: one per (watch, change), with their message's state."""
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
            if pending and status != "pending":
                continue
            data.append(
                {
                    "id": delivery.id,
                    "watch_id": delivery.watch_id,
                    "nct_id": change.nct_id,
                    "kind": change.kind,
                    "status": status,
                    "message_id": message.message_id if message else None,
                    "attempts": message.attempts if message else 0,
                    "sent_at": message.sent_at.isoformat() if message and message.sent_at else None,
                    "last_error": message.last_error if message else None,
                }
            )
    if as_json:
        print_json(data)
        return
    for d in data:
        click.echo(
            f"{d['id']:>5}  watch {d['watch_id']:<4} {d['nct_id']}  {d['kind']:<24} {d['status']}"
        )
