"""`trialwatch watch`: which trials, and which kinds of change, are sent to whom and where."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlmodel import col, select

from trialwatch.alerts.digests import (
    DEFAULT_AT,
    DEFAULT_TZ,
    DIGESTS,
    WEEKDAYS,
    check_at,
    check_tz,
    check_weekday,
)
from trialwatch.alerts.watches import (
    DEFAULT_KINDS,
    WATCH_SOURCES,
    Target,
    add_watch,
    channels_of,
    check_email,
    check_source,
    describe,
)
from trialwatch.cli.util import Context, check_nct, err, parse_query, print_json
from trialwatch.kinds import CHANGE_KINDS, DEFAULT_MIN_GRADE, FINDING_KINDS, GRADES
from trialwatch.registry.db import transaction
from trialwatch.registry.models import Watch, WatchChannel, utcnow


@click.group()
def watch() -> None:
    """Say which trials, and which kinds of change, should be sent to whom: by email, or to
    Slack, Teams, Discord, ntfy, a webhook or any other Apprise URL."""


def _bad(option: str, exc: ValueError) -> click.BadParameter:
    return click.BadParameter(str(exc), param_hint=option)


def _targets(urls: tuple[str, ...]) -> list[Target]:
    from trialwatch.alerts.channels import check_url

    found = []
    for number, url in enumerate(urls, start=1):
        try:
            channel = check_url(url)
        except ValueError as exc:
            hint = "--notify" if len(urls) == 1 else f"--notify (the {_nth(number)})"
            raise _bad(hint, exc) from None
        found.append(Target("apprise", channel.url, channel.shown))
    return found


def _nth(number: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(number, f"#{number}")


@watch.command("add")
@click.option("--email", metavar="ADDRESS", help="Email the alerts: one bare address.")
@click.option(
    "--notify",
    "urls",
    multiple=True,
    metavar="URL",
    help="Also send them here: an Apprise URL such as slack://…, workflows://… (Teams), "
    "discord://…, ntfy://…, json://host/path (a webhook) or mailto://… (repeatable).",
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
    help=f"A change kind that matters (repeatable). Default: {', '.join(DEFAULT_KINDS)}, "
    "unless --finding is given.",
)
@click.option(
    "--finding",
    "findings",
    multiple=True,
    type=click.Choice(FINDING_KINDS),
    help="Also tell when this integrity finding comes to hold for a followed trial "
    "(repeatable; see `trialwatch audit`).",
)
@click.option(
    "--digest",
    type=click.Choice(DIGESTS),
    default="immediate",
    show_default=True,
    help="Each change as it is found, or one message a day or a week.",
)
@click.option("--at", "at", metavar="HH:MM", help=f"When a digest goes. Default: {DEFAULT_AT}.")
@click.option(
    "--tz", metavar="ZONE", help=f"The time zone of --at (Europe/Paris...). Default: {DEFAULT_TZ}."
)
@click.option("--day", metavar="WEEKDAY", help="A weekly digest's day. Default: monday.")
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
    email: str | None,
    urls: tuple[str, ...],
    ncts: tuple[str, ...],
    queries: tuple[str, ...],
    source: str | None,
    kinds: tuple[str, ...],
    findings: tuple[str, ...],
    digest: str,
    at: str | None,
    tz: str | None,
    day: str | None,
    min_grade: str,
) -> None:
    """Add a watch: --nct, --query or --source; --email and/or --notify; the kinds of change
    that matter, and the least grade worth a message.

    A query watch follows the trials that `crawl ctgov --query` with the same parameters
    returns, including those that enter the search later. A grade is how much a change
    matters: editorial (meaning kept: spelling, case, punctuation), minor (detail added or
    clarified) or major (anything added, removed or with a number, date or status changed);
    by default editorial edits are not sent.

    A --notify URL is checked now (an unknown scheme or a URL its channel cannot use is
    refused) and stored sealed with the key in $TRIALWATCH_SECRET_KEY_FILE (default
    ~/.config/trialwatch/secret.key, made on first use): every machine that sends the alerts
    needs that key. Its tokens and passwords are never printed.

    A digest (--digest daily or weekly) gathers everything since the last one into one
    message per channel, sent once the time --at (in --tz; weekly: on --day) has passed: by
    `schedule run`, or by `alerts send`. A period with nothing to say sends nothing.

    A --finding watch is told once when an integrity finding of that kind (`trialwatch
    audit`) comes to hold for a followed trial: revealed by a new registry version, or
    brought about by time (results now overdue). Findings in history that a backfill, a
    first load or `reparse` reveals are never sent. With --finding alone, no changes are sent.
    """
    try:
        email = check_email(email) if email is not None else None
    except ValueError as exc:
        raise _bad("--email", exc) from None
    if email is None and not urls:
        raise click.UsageError("say where to send the alerts: --email ADDRESS or --notify URL")
    try:
        source = check_source(source) if source is not None else None
    except ValueError as exc:
        raise _bad("--source", exc) from None
    digest_at, digest_tz, weekday = _digest_options(digest, at, tz, day)
    targets = _targets(urls)
    ids = [check_nct(n) for n in ncts]
    query = parse_query(queries)
    seal = None
    if targets:
        from trialwatch.alerts.secrets import SecretError
        from trialwatch.alerts.secrets import seal as seal_url

        def seal(url: str) -> str:
            try:
                return seal_url(url)
            except SecretError as exc:
                raise click.ClickException(str(exc)) from None

    try:
        with transaction(obj.engine) as session:
            found = add_watch(
                session,
                email=email,
                notify=targets,
                created_at=utcnow(),
                nct_ids=ids,
                query=query,
                source=source,
                kinds=kinds,
                findings=findings,
                digest=digest,
                digest_at=digest_at,
                digest_tz=digest_tz,
                digest_weekday=weekday,
                min_grade=min_grade,
                seal=seal,
            )
            label = describe(found)
            where = [c.target for c in channels_of(session, [found.id or 0]).get(found.id or 0, [])]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{label} -> {', '.join(where)}")


def _digest_options(
    digest: str, at: str | None, tz: str | None, day: str | None
) -> tuple[str | None, str | None, int | None]:
    if digest == "immediate":
        given = [name for name, value in (("--at", at), ("--tz", tz), ("--day", day)) if value]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only with --digest daily or weekly")
        return None, None, None
    if day is not None and digest != "weekly":
        raise click.UsageError("--day: only with --digest weekly")
    try:
        digest_at = check_at(at) if at is not None else DEFAULT_AT
    except ValueError as exc:
        raise _bad("--at", exc) from None
    try:
        digest_tz = check_tz(tz) if tz is not None else DEFAULT_TZ
    except ValueError as exc:
        raise _bad("--tz", exc) from None
    try:
        weekday = check_weekday(day) if day is not None else 0
    except ValueError as exc:
        raise _bad("--day", exc) from None
    return digest_at, digest_tz, weekday if digest == "weekly" else None


def _watch_dict(w: Watch, channels: list[WatchChannel]) -> dict[str, Any]:
    return {
        "id": w.id,
        "email": w.email or None,
        "channels": [{"id": c.id, "kind": c.kind, "target": c.target} for c in channels],
        "nct_ids": w.nct_ids,
        "query": w.query,
        "source": w.source,
        "kinds": w.kinds,
        "findings": w.findings or [],
        "digest": w.digest,
        "digest_at": w.digest_at,
        "digest_tz": w.digest_tz,
        "digest_day": WEEKDAYS[w.digest_weekday] if w.digest_weekday is not None else None,
        "min_grade": w.min_grade,
        "created_at": w.created_at.isoformat(),
    }


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def watch_list(obj: Context, as_json: bool) -> None:
    """List the active watches and where each sends (URLs with their secrets masked; none:
    one line on stderr, and --json prints [])."""
    with transaction(obj.engine) as session:
        rows = session.exec(select(Watch).where(col(Watch.active).is_(True))).all()
        channels = channels_of(session, [w.id for w in rows if w.id is not None])
        data = [(_watch_dict(w, channels.get(w.id or 0, [])), describe(w)) for w in rows]
    if not data:
        err("no active watches")
    if as_json:
        print_json([d for d, _ in data])
        return
    for d, label in data:
        click.echo(f"{label} -> {', '.join(c['target'] for c in d['channels'])}")


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
