"""What the analyst commands (changes, stats) share: their filter options, usage errors on
one line, and the parsing of their time bounds and phase words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import IO, Any, TypeVar

import click

from trialwatch.cli.util import check_nct, parse_time
from trialwatch.kinds import CHANGE_KINDS, GRADES
from trialwatch.registry.queries import CLOCKS, phase_word


class OneLineUsageError(click.ClickException):
    """A usage error shown as one line on stderr (the option and what is wrong); exit 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


class OneLineUsage(click.Command):
    """A command whose bad options end it with one line instead of the usage text."""

    prefix = "Error: "  # what the line starts with

    def _one_line(self, ctx: click.Context, exc: click.UsageError) -> OneLineUsageError:
        return OneLineUsageError(f"{self.prefix}{exc.format_message()}")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise self._one_line(ctx, exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise self._one_line(ctx, exc) from None


def time_bounds(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since (a date means its start) and --until (a date means its end), in UTC."""
    low = _moment(since, "--since") if since else None
    high = _moment(until, "--until", end_of_day=True) if until else None
    if low is not None and high is not None and low > high:
        raise click.BadParameter(f"{since!r} is after --until {until!r}", param_hint="'--since'")
    return low, high


def _moment(value: str, hint: str, *, end_of_day: bool = False) -> datetime:
    try:
        return parse_time(value, end_of_day=end_of_day)
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint=f"'{hint}'") from None


def normalise_phase(value: str) -> str:
    """A phase as people write it, as the registry's word; else a usage error naming it."""
    try:
        return phase_word(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--phase'") from None


clock_option = click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    default="observed",
    show_default=True,
    help="Which time --since/--until (and months) read: 'observed' (when trialwatch saw the "
    "change) or 'registry' (the registry's date of the version that brought it; a site's "
    "change counts on the UTC day it was seen).",
)


_FILTERS = (
    click.option(
        "--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable)."
    ),
    click.option(
        "--kind",
        "kinds",
        multiple=True,
        type=click.Choice(CHANGE_KINDS),
        help="Only this kind (repeatable).",
    ),
    click.option(
        "--since", metavar="ISO8601", help="Only changes at or after this time (a date: its start)."
    ),
    click.option(
        "--until", metavar="ISO8601", help="Only changes at or before this time (a date: its end)."
    ),
    clock_option,
    click.option(
        "--min-grade",
        type=click.Choice(GRADES),
        help="Only changes of this grade or higher (editorial < minor < major). Default: all.",
    ),
    click.option(
        "--source",
        "sources",
        multiple=True,
        metavar="SLUG",
        help="Only changes from this origin: ctgov (the registry) or a site's slug (repeatable).",
    ),
    click.option(
        "--min-delay-days",
        type=click.IntRange(min=0),
        metavar="N",
        help="Only start, primary completion and completion date changes that moved the date "
        "later by at least N days.",
    ),
    click.option(
        "--phase",
        "phases",
        multiple=True,
        metavar="PHASE",
        help="Only trials whose current record lists this phase: 1, 2, 3, 4, early1 or na "
        "(also phase3, 'Phase 3', PHASE3, EARLY_PHASE1; repeatable: any of them).",
    ),
    click.option(
        "--sponsor",
        "sponsors",
        multiple=True,
        metavar="TEXT",
        help="Only trials whose current lead sponsor contains this text, in any case "
        "(repeatable: any of them).",
    ),
)
F = TypeVar("F", bound=Callable[..., Any])


def filter_options(command: F) -> F:
    """The change filters, as options of ``command`` (read back with ``change_filters``)."""
    for option in reversed(_FILTERS):
        command = option(command)
    return command


def asked(params: dict[str, Any]) -> str:
    """The filters given, in the options' words ("kind status, since 2024-01-01"): what a
    line saying nothing matched names. Read before ``change_filters`` pops them."""
    parts = []
    for key, flag in (
        ("ncts", "nct"),
        ("kinds", "kind"),
        ("since", "since"),
        ("until", "until"),
        ("min_grade", "min-grade"),
        ("sources", "source"),
        ("min_delay_days", "min-delay-days"),
        ("phases", "phase"),
        ("sponsors", "sponsor"),
    ):
        value = params.get(key)
        values = [str(v) for v in value] if isinstance(value, tuple | list) else [value]
        given = [str(v).strip() for v in values if v is not None and str(v).strip()]
        given = [v.upper() for v in given] if key == "ncts" else given
        if given:
            parts.append(f"{flag} {' or '.join(given)}")
    if params.get("clock", "observed") != "observed":
        parts.append(f"clock {params['clock']}")
    return ", ".join(parts)


def nothing_matches(noun: str, filters: str) -> str:
    """The stderr line for an empty answer: ``no changes match (kind status)``, or with no
    filter given ``no changes held``."""
    return f"no {noun} match ({filters})" if filters else f"no {noun} held"


def change_filters(params: dict[str, Any]) -> dict[str, Any]:
    """``list_changes``' filters from the options ``filter_options`` added (popped from
    ``params``), checked: a bad value is a usage error naming its option."""
    low, high = time_bounds(params.pop("since"), params.pop("until"))
    return {
        "nct_ids": [check_nct(n) for n in params.pop("ncts")],
        "kinds": params.pop("kinds"),
        "since": low,
        "until": high,
        "min_grade": params.pop("min_grade"),
        "sources": params.pop("sources"),
        "min_delay_days": params.pop("min_delay_days"),
        "phases": [normalise_phase(p) for p in params.pop("phases")],
        "sponsors": [s for s in params.pop("sponsors") if s.strip()],
        "clock": params.pop("clock"),
    }
