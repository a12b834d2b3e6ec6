"""Export files: CSV, JSON Lines, Parquet and DuckDB, each written a batch of rows at a time.

Each column's kind (``trialwatch.registry.export.Column``) decides its type: in Parquet and
DuckDB a declared Arrow schema (so a column with no value at all still has its type), in CSV
ISO text, in JSON Lines JSON values. pyarrow is imported only when a Parquet or DuckDB file is
written; the DuckDB writer is ``trialwatch.exports.duckdb_file``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from trialwatch.registry.export import Column, ColumnKind

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "duckdb")
FILE_ONLY: tuple[str, ...] = ("parquet", "duckdb")  # need a file: -o - is a usage error
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
EXTENSIONS |= {".pq": "parquet", ".duckdb": "duckdb", ".ddb": "duckdb"}
DEFAULT_FORMAT = "csv"


def format_for(path: str) -> str:
    """The format a file name asks for by its extension; csv for any other (and stdout)."""
    lowered = path.lower()
    for extension, fmt in EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    return DEFAULT_FORMAT


class WriteFailed(Exception):
    """A writer could not write its file; the message says why, in one line."""


class Writer(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def close(self) -> None: ...


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json_text(value: Any) -> Any:
    """A text column's value as text (a driver may hand over JSON already parsed)."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class CsvWriter:
    """A header row of the column names, then one line per row: ISO text for dates and
    times, an empty field for NULL."""

    def __init__(self, columns: Sequence[Column], out: IO[bytes]) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._csv = csv.writer(self._text)
        self._csv.writerow([c.name for c in columns])
        self._iso = [i for i, c in enumerate(columns) if c.kind == "time"]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not self._iso:
            self._csv.writerows(rows)
            return
        for row in rows:
            cells = list(row)
            for i in self._iso:
                cells[i] = _iso(cells[i])
            self._csv.writerow(cells)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # the caller owns (and closes) the byte stream


class JsonlWriter:
    """One JSON object per line: the column names as keys, numbers as numbers, dates and
    times as ISO strings, NULL as null."""

    def __init__(self, columns: Sequence[Column], out: IO[bytes]) -> None:
        self._out = out
        self._names = [c.name for c in columns]
        self._text = [i for i, c in enumerate(columns) if c.kind == "text"]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names, write = self._names, self._out.write
        for row in rows:
            cells = list(row)
            for i in self._text:
                cells[i] = _json_text(cells[i])
            write(
                orjson.dumps(dict(zip(names, cells, strict=True)), option=orjson.OPT_APPEND_NEWLINE)
            )

    def close(self) -> None:
        self._out.flush()


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _first_day(value: Any) -> date | None:
    """A record's date at its precision ("2024", "2024-03", "2024-03-04") as the first day
    of that period; the ``_precision`` column beside it says which period."""
    if value is None or isinstance(value, date):
        return value
    text = str(value)
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    return date.fromisoformat(text)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


_CONVERT: dict[ColumnKind, Callable[[Any], Any]] = {
    "text": _json_text,
    "int": _int,
    "day": _day,
    "partial_day": _first_day,
    "time": lambda value: value,  # aware datetimes already
}


def arrow_type(kind: ColumnKind) -> pa.DataType:
    import pyarrow as pa

    types: dict[ColumnKind, pa.DataType] = {
        "text": pa.string(),
        "int": pa.int64(),
        "day": pa.date32(),
        "partial_day": pa.date32(),
        "time": pa.timestamp("us", tz="UTC"),
    }
    return types[kind]


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Parquet schema of an export, declared from its columns (never inferred)."""
    import pyarrow as pa

    # pandas metadata for the integer columns only: pandas.read_parquet then reads them as
    # nullable Int64 (not float64 where a value is missing); other readers ignore it
    ints = [
        {"name": c.name, "field_name": c.name, "pandas_type": "int64", "numpy_type": "Int64"}
        for c in columns
        if c.kind == "int"
    ]
    pandas = {"index_columns": [], "column_indexes": [], "columns": ints}
    return pa.schema(
        [pa.field(c.name, arrow_type(c.kind), nullable=True) for c in columns],
        metadata={"pandas": orjson.dumps(pandas)},
    )


def arrow_batch(
    columns: Sequence[Column], schema: pa.Schema, rows: Sequence[tuple[Any, ...]]
) -> pa.RecordBatch:
    """Rows as one Arrow record batch of ``schema`` (``arrow_schema(columns)``): ISO dates as
    date32, times as timestamp[us, tz=UTC], counts and ids as int64."""
    import pyarrow as pa

    arrays = []
    for i, (column, field) in enumerate(zip(columns, schema, strict=True)):
        convert = _CONVERT[column.kind]
        arrays.append(pa.array([convert(row[i]) for row in rows], type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class ParquetWriter:
    """Row groups of the batches given (``BATCH_ROWS`` rows each), typed by ``arrow_schema``."""

    def __init__(self, columns: Sequence[Column], out: IO[bytes]) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self._columns = list(columns)
        self._schema = arrow_schema(columns)
        self._writer = pq.ParquetWriter(out, self._schema, compression="zstd")

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._writer.write_batch(arrow_batch(self._columns, self._schema, rows))

    def close(self) -> None:
        self._writer.close()


WRITERS: dict[str, Callable[[Sequence[Column], IO[bytes]], Writer]] = {
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
}


def open_writer(fmt: str, columns: Sequence[Column], out: IO[bytes]) -> Writer:
    """A writer of ``fmt`` (one of FORMATS but duckdb, which writes a file by its path) on
    the byte stream ``out``."""
    if fmt not in WRITERS:
        raise ValueError(f"{fmt!r} is not a stream export format (one of {', '.join(WRITERS)})")
    return WRITERS[fmt](columns, out)
