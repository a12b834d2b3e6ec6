"""The options that bound a fetch (`--timeout`, `--deadline`), shared by crawl and backfill."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from trialwatch.ingest.crawling import parse_duration
from trialwatch.spiders.limits import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    NETWORK_RETRIES,
    seconds_text,
)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def duration(most: float) -> Callable[[click.Context, click.Parameter, str | None], float | None]:
    """A click callback reading "90", "90s", "30m", "6h" as seconds, at most ``most``."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
        try:
            return None if value is None else parse_duration(value, maximum=most)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return convert


def timeout_option(failed: str) -> Decorator:
    """`--timeout`; ``failed`` says what a request that never answers counts as."""
    return click.option(
        "--timeout",
        metavar="DURATION",
        callback=duration(3600),
        help=f"How long to wait for an answer to one request (default: "
        f"{seconds_text(DEFAULT_TIMEOUT)}): 20, 20s, 2m. A request that times out (or is "
        f"refused) is tried {NETWORK_RETRIES + 1} times in all, then counted as {failed}.",
    )


def deadline_option(what: str, kept: str) -> Decorator:
    """`--deadline` for the whole ``what``; ``kept`` says what is kept when it is reached."""
    return click.option(
        "--deadline",
        metavar="DURATION",
        callback=duration(30 * 86400),
        help=f"How long the whole {what} may take (default: {seconds_text(DEFAULT_DEADLINE)}): "
        f"90s, 30m, 6h. Then it stops, {kept}, and the run is failed.",
    )
