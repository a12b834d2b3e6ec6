"""`trialwatch export --format duckdb`: each export as a DuckDB file holds what its Parquet
export holds, typed alike; an existing file is replaced whole; without the duckdb package it
is one line and exit status 2. And docs/exports.md's Python and SQL examples, run as written
on exports of the analyst database, with no DuckDB extension but those built in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from tests.analyst_data import analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from tests.faults import small_disk
from trialwatch.cli import cli

ROOT = Path(__file__).parents[1]
EXPORTS = ("trials", "versions", "changes")
KEYS = {"trials": "nct_id", "versions": "version_id", "changes": "change_id"}
NEEDED = "--format duckdb needs the duckdb package: pip install 'trialwatch[analysts]'"


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert "Traceback" not in result.output, result.output
    return result


def exported(url: str, what: str, out: Path, *flags: str) -> Path:
    result = run(url, "export", what, *flags, "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def offline() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that can neither download an extension nor load one downloaded
    before: only what the duckdb package has built in."""
    return duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "extension_directory": os.devnull,
        }
    )


def types(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]


@pytest.fixture
def sqlite_url(analyst_template: Path, tmp_path: Path) -> str:  # noqa: F811
    shutil.copytree(analyst_template, tmp_path / "analyst")
    return f"sqlite:///{tmp_path / 'analyst' / 'trialwatch.db'}"


def test_each_export_as_duckdb_holds_its_parquet_rows(analyst_url: str, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "out"
    folder.mkdir()
    for what in EXPORTS:
        parquet = exported(analyst_url, what, folder / f"{what}.parquet")
        out = folder / f"{what}.duckdb"
        result = run(analyst_url, "export", what, "--format", "duckdb", "-o", str(out))
        assert result.exit_code == 0, result.output
        table = pq.read_table(parquet)
        assert result.stderr.splitlines()[-1] == f"exported {table.num_rows:,} {what} to {out}"
        done = EXPORTS[: EXPORTS.index(what) + 1]
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{w}.{ext}" for w in done for ext in ("parquet", "duckdb")]
        )  # no partial file, no log left beside it
        con = offline()
        con.execute(f"ATTACH '{out}' AS exported (READ_ONLY)")
        tables = con.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'exported'")
        assert tables.fetchall() == [(what,)]
        stored = f"exported.{what}"
        declared = types(con, stored)
        assert declared == types(con, f"'{parquet}'")
        assert {t for _, t in declared} == {
            "DATE",
            "TIMESTAMP WITH TIME ZONE",
            "BIGINT",
            "VARCHAR",
        }
        [(count,)] = con.sql(f"SELECT count(*) FROM {stored}").fetchall()
        assert count == table.num_rows > 0
        for first, second in ((stored, f"'{parquet}'"), (f"'{parquet}'", stored)):
            left = con.sql(f"SELECT * FROM {first} EXCEPT ALL SELECT * FROM {second}")
            assert left.fetchall() == [], (what, first)
        # a few rows read back in Python: the same values as pyarrow reads from the Parquet
        key = KEYS[what]
        names = [name for name, _ in declared]
        rows = con.sql(f"SELECT * FROM {stored} ORDER BY {key} LIMIT 5").fetchall()
        wanted = sorted(table.to_pylist(), key=lambda r: r[key])[:5]
        assert [dict(zip(names, row, strict=True)) for row in rows] == wanted
        con.close()


def test_no_rows_is_a_typed_empty_table(sqlite_url: str, tmp_path: Path) -> None:
    out = exported(sqlite_url, "changes", tmp_path / "none.ddb", "--nct", "NCT99999999")
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM changes").fetchall() == [(0,)]
        declared = dict(types(con, "changes"))
    assert declared["delta_days"] == "BIGINT"
    assert declared["observed_at"] == "TIMESTAMP WITH TIME ZONE"
    assert declared["registry_date"] == "DATE"


def test_an_existing_file_is_replaced_whole(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "Work.DUCKDB"  # the extension decides, in any case
    with duckdb.connect(str(out)) as con:
        con.execute("CREATE TABLE notes AS SELECT 'kept?' AS note")
        con.execute("CREATE TABLE trials AS SELECT 1 AS n")
    stale = folder / ".Work.DUCKDB.partial"
    stale.write_bytes(b"left by an export that was killed")
    exported(sqlite_url, "trials", out, "--nct", "NCT04280705")
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.sql("SELECT table_name FROM duckdb_tables()").fetchall() == [("trials",)]
        assert con.sql("SELECT nct_id FROM trials").fetchall() == [("NCT04280705",)]
    assert sorted(p.name for p in folder.iterdir()) == ["Work.DUCKDB"]


def _blocked(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """trialwatch in a child process where `import duckdb` fails, as when it is not
    installed."""
    code = (
        "import sys; sys.modules['duckdb'] = None; "
        "from trialwatch.cli import main; sys.argv[0] = 'trialwatch'; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_without_duckdb_it_is_one_line_and_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for output in (["--format", "duckdb", "-o", "out.db"], ["-o", "out.duckdb"]):
        done = _blocked("--db", sqlite_url, "export", "changes", *output, cwd=work)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"trialwatch export: {NEEDED}\n"
        assert list(work.iterdir()) == []
    # the other formats need no duckdb
    done = _blocked("--db", sqlite_url, "export", "changes", "-o", "out.parquet", cwd=work)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(work / "out.parquet").num_rows > 0


def test_a_full_disk_is_one_line_and_no_file(sqlite_url: str, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 32) as disk:
        out = disk / "versions.duckdb"
        result = run(sqlite_url, "export", "versions", "-o", str(out))
        assert result.exit_code == 1, result.output
        last = result.stderr.splitlines()[-1]
        assert last.startswith(f"trialwatch export: cannot write {out}: "), result.stderr
        assert "No space left on device" in last
        assert list(disk.iterdir()) == []


def _blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_the_docs_examples_run_offline_as_written(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    python, sql = _blocks("python"), _blocks("sql")
    assert python and sql
    names = set(re.findall(r"['\"](\w+\.(?:parquet|csv|jsonl|duckdb))['\"]", "".join(python + sql)))
    assert {"changes.parquet", "changes.duckdb"} <= names
    for name in names:
        what, fmt = name.split(".")
        exported(sqlite_url, what, tmp_path / name, "--format", fmt)
    for block in python:
        found: dict[str, Any] = {}
        exec(compile(block, "docs/exports.md", "exec"), found)  # noqa: S102
        for value in found.values():
            if hasattr(value, "shape"):  # a data frame read from an export
                assert value.shape[0] > 0
    con = offline()
    for block in sql:
        for statement in block.split(";"):
            code = "\n".join(s for s in statement.splitlines() if not s.startswith("--")).strip()
            if not code:
                continue  # a comment after the last statement
            answer = con.sql(code)
            if code.upper().startswith("SELECT"):
                assert answer is not None and answer.fetchall(), code  # a query finds rows
