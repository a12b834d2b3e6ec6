"""`trialwatch db`: the database's schema revision, and upgrading it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trialwatch.cli.util import Context, err, print_json
from trialwatch.registry.db import (
    SchemaState,
    head_revision,
    schema_state,
    shown_url,
    upgrade,
)
from trialwatch.registry.rawstore import (
    OLD_FOLDER,
    DatabaseStore,
    missing_payloads,
    move_folder_in,
)


@click.group("db")
def db() -> None:
    """The database's schema: which revision it is at, and upgrading it.

    A new, empty database is created at the latest revision on first use; one whose schema
    is older is refused by every other command until `trialwatch db upgrade` has run.
    """


@db.command("upgrade")
@click.option(
    "--payloads",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="PostgreSQL: a folder of raw payloads kept before they moved into the database "
    f"(default: ./{OLD_FOLDER} if it is there); those the database names are copied in.",
)
@click.pass_obj
def db_upgrade(obj: Context, payloads: Path | None) -> None:
    """Run the schema migrations up to this trialwatch's revision.

    Says what it did on stderr. Safe to repeat, and to run from several places at once: one
    upgrades, the others wait for it and find the schema current. A PostgreSQL database
    keeps its raw payloads in itself (unless $TRIALWATCH_DATA_DIR names a folder); those
    kept before in ./trialwatch-data/snapshots of the folder commands ran from (or in
    --payloads DIR) are copied in, and the folder can go once `trialwatch check` passes.
    """
    before, after = upgrade(obj.url)
    where = shown_url(obj.url)
    if before.revisions == after.revisions:
        err(f"{where}: already at {after.revision}")
    elif before.status == "empty":
        err(f"{where}: created the schema at {after.revision}")
    else:
        err(f"{where}: upgraded from {before.revision} to {after.revision}")
    if isinstance(obj.store(), DatabaseStore):
        _move_payloads(obj, payloads)


def _move_payloads(obj: Context, given: Path | None) -> None:
    """Bring a folder's raw payloads into the database; say what moved, and what is still
    missing."""
    where = shown_url(obj.url)
    folder = given or OLD_FOLDER
    if given is not None or folder.is_dir():
        moved, nowhere = move_folder_in(obj.engine, folder, err)
        if moved:
            err(
                f"{where}: copied {moved} raw payload(s) from {folder} into the database; the "
                "folder can be removed once `trialwatch check` passes"
            )
        missing = len(nowhere)
    else:
        missing = sum(1 for _ in missing_payloads(obj.engine))
    if missing:
        err(
            f"{where}: {missing} raw payload(s) the database names are not in it: run "
            "`trialwatch db upgrade --payloads DIR` with the folder that holds them (before, "
            f"./{OLD_FOLDER} in the folder commands ran from)"
        )


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def db_status(obj: Context, as_json: bool) -> None:
    """Print the schema's revision and whether it is behind this trialwatch.

    Exit status 0 when the database can be used as it is (current, or empty: created on
    first use), 1 when it needs `trialwatch db upgrade` or a newer trialwatch.
    """
    state = schema_state(obj.url)
    usable = state.status in ("current", "empty")
    if as_json:
        print_json(
            {
                "url": shown_url(obj.url),
                "revision": list(state.revisions),
                "head": head_revision(),
                "status": state.status,
            }
        )
    else:
        click.echo(f"{shown_url(obj.url)}: revision {state.revision}, {_verdict(state)}")
    if not usable:
        sys.exit(1)


def _verdict(state: SchemaState) -> str:
    head = head_revision()
    return {
        "current": "current",
        "empty": f"empty (the schema is created at {head} on first use)",
        "behind": f"behind: this trialwatch needs {head} (run `trialwatch db upgrade`)",
        "ahead": f"ahead: this trialwatch knows revisions up to {head} only",
        "unversioned": "not a trialwatch schema: it has tables but no revision "
        "(`trialwatch db upgrade` adds trialwatch's tables)",
    }[state.status]
