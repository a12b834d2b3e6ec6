"""The offline demo command."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database and data in this folder.",
)
def demo(keep: Path | None) -> None:
    """Offline first look: crawl recorded responses twice from a local server and show
    what changed between the two crawls."""
    from trialwatch.demo import run_demo

    sys.exit(run_demo(keep))
