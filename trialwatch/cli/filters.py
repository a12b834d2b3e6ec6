"""What the analyst commands (changes, stats) share: usage errors on one line, and the
parsing of their time bounds and phase words."""

from __future__ import annotations

import re
from datetime import datetime
from typing import IO, Any

import click

from trialwatch.cli.util import parse_time
from trialwatch.registry.queries import CLOCKS, PHASES


class OneLineUsageError(click.ClickException):
    """A usage error shown as one line on stderr (the option and what is wrong); exit 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


class OneLineUsage(click.Command):
    """A command whose bad options end it with one line instead of the usage text."""

    def _one_line(self, ctx: click.Context, exc: click.UsageError) -> OneLineUsageError:
        return OneLineUsageError(f"Error: {exc.format_message()}")

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


_PHASE_WORDS = {
    **{str(n): f"PHASE{n}" for n in range(1, 5)},
    **{f"PHASE{n}": f"PHASE{n}" for n in range(1, 5)},
    "EARLY1": "EARLY_PHASE1",
    "EARLYPHASE1": "EARLY_PHASE1",
    "NA": "NA",
    "N/A": "NA",
    "NOTAPPLICABLE": "NA",
}


def normalise_phase(value: str) -> str:
    """A phase as people write it (``3``, ``phase3``, ``Phase 3``, ``early1``,
    ``EARLY_PHASE1``, ``na``) as the registry's word; else a usage error naming it."""
    key = re.sub(r"[\s_\-]+", "", value.strip().upper())
    if key in PHASES:
        return key
    if key in _PHASE_WORDS:
        return _PHASE_WORDS[key]
    raise click.BadParameter(
        f"{value!r} is not a phase (1, 2, 3, 4, early1, na, or the registry's {', '.join(PHASES)})",
        param_hint="'--phase'",
    )


clock_option = click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    default="observed",
    show_default=True,
    help="Which time --since/--until (and months) read: 'observed' (when trialwatch saw the "
    "change) or 'registry' (the registry's date of the version that brought it; a site's "
    "change counts on the UTC day it was seen).",
)
