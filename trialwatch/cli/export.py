"""`trialwatch export`: the analyst views as CSV, JSON Lines, Parquet or a DuckDB file,
streamed."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from trialwatch.cli.filters import OneLineUsage
from trialwatch.cli.util import Context, check_nct, err, parse_time, reads_only
from trialwatch.exports.writers import (
    FILE_ONLY,
    FORMATS,
    WriteFailed,
    Writer,
    format_for,
    open_writer,
)
from trialwatch.kinds import CHANGE_KINDS, FINDING_KINDS, GRADES
from trialwatch.registry.export import (
    EXPORTS,
    Column,
    ExportFilters,
    check_filters,
    open_rows,
)
from trialwatch.registry.queries import CLOCKS


class _ExportCommand(OneLineUsage):
    prefix = "trialwatch export: "


def _moment(value: str | None, flag: str, *, end_of_day: bool = False) -> Any:
    if value is None:
        return None
    try:
        return parse_time(value, end_of_day=end_of_day)
    except click.BadParameter as exc:
        raise click.UsageError(f"{flag} {exc.message}") from None


@click.command("export", cls=_ExportCommand)
@click.argument("what", type=click.Choice(EXPORTS))
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="The file to write ('-': stdout, for csv and jsonl). An existing FILE is replaced "
    "whole, once the export is complete (a DuckDB file's other tables too).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Default: from FILE's extension (.csv, .jsonl or .ndjson, .parquet or .pq, .duckdb "
    "or .ddb), else csv. duckdb: a DuckDB database file holding one table named after the "
    "export (trials, versions, changes or findings), typed as the Parquet export; it needs "
    "the duckdb package (pip install 'trialwatch[analysts]').",
)
@click.option("--nct", "ncts", multiple=True, metavar="NCT", help="Only this trial (repeatable).")
@click.option(
    "--since",
    metavar="ISO8601",
    help="versions, changes, findings: from this date or time on (see --clock).",
)
@click.option(
    "--until",
    metavar="ISO8601",
    help="versions, changes, findings: up to this time, inclusive (a date: its end).",
)
@click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    help="versions, changes, findings: what --since/--until compare. observed (default): when "
    "trialwatch first saw it; registry: the registry's date (valid_from, registry_date; a "
    "finding's since), else the day it was observed.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(CHANGE_KINDS + FINDING_KINDS),
    help="changes: only this change kind; findings: only this finding kind (repeatable).",
)
@click.option(
    "--min-grade",
    type=click.Choice(GRADES),
    help="changes, findings: only this grade or higher (editorial < minor < major; ungraded "
    "is major).",
)
@click.option(
    "--as-of",
    metavar="DATE",
    help="trials: each trial as the registry had it that day (where it had none in force, "
    "each site's version in force); versions: only the versions in force that day.",
)
@click.pass_obj
@reads_only
def export(
    obj: Context,
    what: str,
    output: str,
    fmt: str | None,
    ncts: tuple[str, ...],
    since: str | None,
    until: str | None,
    clock: str | None,
    kinds: tuple[str, ...],
    min_grade: str | None,
    as_of: str | None,
) -> None:
    """Export trials (the merged record, one row each), versions (every version, with its
    validity on both clocks) or changes (one row per typed change) for analysis.

    Or findings: one row per integrity finding that holds today (resolved ones, and those
    whose day lies ahead, are left out).

    Rows are streamed from the database and written as they come; memory stays flat
    however many there are. Columns are the views' own: see docs/exports.md. A progress bar
    and a summary go to stderr. The file is written beside FILE under a temporary name and
    moved into place only when whole.

    \b
    trialwatch export changes -o changes.csv
    trialwatch export changes --kind primary_completion_date --since 2026-01-01 -o slips.parquet
    trialwatch export changes --clock registry --since 2024-01-01 --until 2024-12-31 -o 2024.jsonl
    trialwatch export trials --as-of 2024-06-01 -o trials-2024-06-01.parquet
    trialwatch export changes -o changes.duckdb     # a DuckDB file: table changes
    trialwatch export findings --kind results_due -o results-due.csv
    trialwatch export versions --nct NCT04280705 --format jsonl -o - | jq .overall_status
    """
    fmt = fmt or format_for(output)
    if fmt in FILE_ONLY and output == "-":
        raise click.UsageError(f"{fmt} needs a file (-o FILE); only csv and jsonl go to stdout")
    if fmt == "duckdb":
        from trialwatch.exports.duckdb_file import NEEDED, duckdb_missing

        if duckdb_missing():
            raise click.UsageError(NEEDED)
    day = _moment(as_of, "--as-of")
    filters = ExportFilters(
        nct_ids=tuple(dict.fromkeys(check_nct(n) for n in ncts)),
        since=_moment(since, "--since"),
        until=_moment(until, "--until", end_of_day=True),
        clock=clock,
        kinds=tuple(dict.fromkeys(kinds)),
        min_grade=min_grade,
        as_of=day.date() if day else None,
    )
    try:
        check_filters(what, filters)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        written = _write(obj, what, filters, fmt, output)
    except WriteFailed as exc:
        err(f"trialwatch export: cannot write {output}: {exc}")
        sys.exit(1)
    err(f"exported {written:,} {what} to {'stdout' if output == '-' else output}")


def _write(obj: Context, what: str, filters: ExportFilters, fmt: str, output: str) -> int:
    """The export written to ``output``; the number of rows."""
    target = _duckdb_target(output) if fmt == "duckdb" else _target(output)
    with target as out, open_rows(obj.engine, what, filters) as rows:
        writer = _writer(fmt, what, rows.columns, out)
        written = 0
        label = f"exporting {rows.total:,} {what} to {'stdout' if output == '-' else output}"
        with click.progressbar(length=rows.total, label=label, file=sys.stderr) as bar:
            for batch in rows.batches:
                writer.write(batch)
                written += len(batch)
                bar.update(len(batch))
                del batch  # before the next one is fetched: one batch in memory at a time
        writer.close()
    return written


def _writer(fmt: str, what: str, columns: Sequence[Column], out: IO[bytes] | Path) -> Writer:
    if isinstance(out, Path):
        from trialwatch.exports.duckdb_file import DuckdbWriter

        return DuckdbWriter(columns, out, table=what)
    return open_writer(fmt, columns, out)


@contextmanager
def _target(output: str) -> Iterator[IO[bytes]]:
    """stdout, or the file (see ``_partial``) open for writing."""
    if output == "-":
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    with _partial(output) as partial, partial.open("wb") as handle:
        yield handle


@contextmanager
def _duckdb_target(output: str) -> Iterator[Path]:
    """The path DuckDB creates its database at (see ``_partial``): none there yet, since
    DuckDB refuses to open an empty file, and no log left beside it."""
    from trialwatch.exports.duckdb_file import side_files

    with _partial(output) as partial:
        partial.unlink()
        try:
            yield partial
        finally:
            _remove(side_files(partial))
        # a log beside FILE is the replaced file's: DuckDB would replay it into this one
        Path(f"{output}.wal").unlink(missing_ok=True)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextmanager
def _partial(output: str) -> Iterator[Path]:
    """The file, written beside it under a temporary name (made empty here: the folder is
    writable) and moved into place only when whole, so an interrupted export never leaves a
    partial file."""
    path = Path(output)
    if path.is_dir():
        raise click.UsageError(f"-o {output}: is a folder; name a file")
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.open("wb").close()
    except OSError as exc:
        err(f"trialwatch export: cannot write {output}: {exc.strerror or exc}")
        sys.exit(1)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
