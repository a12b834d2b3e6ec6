"""`export --format duckdb`: one table in a new DuckDB database file, typed as the Parquet
export (DATE, TIMESTAMP WITH TIME ZONE, BIGINT, VARCHAR).

Each batch of rows becomes an Arrow record batch of the Parquet export's schema, which DuckDB
reads in place and appends to the table: one batch is held at a time, and DuckDB needs no
extension (nothing is downloaded). duckdb is an optional package (the ``analysts`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trialwatch.exports.writers import WriteFailed, arrow_batch, arrow_schema
from trialwatch.registry.export import Column

# DuckDB keeps the blocks it wrote cached up to its memory limit (by default 80% of RAM), so
# a large export's memory grew with its rows; at this limit it evicts them and stays flat
# (docs/exports.md, "Memory and time")
MEMORY_LIMIT = "64MB"
NEEDED = "--format duckdb needs the duckdb package: pip install 'trialwatch[analysts]'"


def duckdb_missing() -> bool:
    """True when the duckdb package cannot be imported."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return True
    return False


@contextmanager
def _said() -> Iterator[None]:
    """DuckDB's errors (a full disk, say) as WriteFailed, with their first line."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise WriteFailed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def side_files(path: Path) -> list[Path]:
    """What DuckDB keeps beside a database file while it is open: its write-ahead log, and
    the folder it spills to past its memory limit."""
    return [path.with_name(f"{path.name}.wal"), path.with_name(f"{path.name}.tmp")]


class DuckdbWriter:
    """The table ``table`` in a new DuckDB file at ``path`` (which must not exist), filled a
    batch at a time; ``close`` leaves one whole file."""

    def __init__(self, columns: Sequence[Column], path: Path, table: str) -> None:
        import duckdb

        self._columns = list(columns)
        self._schema = arrow_schema(columns)
        self._table = '"' + table.replace('"', '""') + '"'
        with _said():
            self._db = duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT})
        # the table from the schema alone: typed even when no row comes
        self._append(self._schema.empty_table(), f"CREATE TABLE {self._table} AS")

    def _append(self, data: Any, statement: str) -> None:
        with _said():
            self._db.register("batch", data)
            try:
                self._db.execute(f"{statement} SELECT * FROM batch")
            finally:
                self._db.unregister("batch")

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            batch = arrow_batch(self._columns, self._schema, rows)
            self._append(batch, f"INSERT INTO {self._table}")

    def close(self) -> None:
        with _said():
            self._db.close()  # checkpoints: the log is written into the file and removed
