"""`trialwatch export`: every export in every format against the views' own rows, the
filters against the same question asked in SQL, `show --as-of`, and bad input."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from tests.analyst_data import analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine
from trialwatch.registry.export import ExportFilters, open_rows

VIEWS = {"trials": "trial_latest", "versions": "trial_versions", "changes": "changes_feed"}
KEYS = {"trials": "nct_id", "versions": "version_id", "changes": "change_id"}
TIMES = {"first_seen_at", "updated_at", "known_from", "known_until", "last_seen_at", "observed_at"}
DAYS = {"registry_date", "valid_from", "valid_until", "last_update_posted", "as_of"}
PARTIAL = {"start_date", "primary_completion_date", "completion_date"}
INTS = {"enrollment", "delta_days", "version_id", "change_id", "from_version_id"}
INTS |= {"to_version_id", "outcomes_promoted", "outcomes_demoted"}
HISTORY_TRIAL = "NCT04280705"
# a change's before/after (a whole criteria list, every location) can pass csv's 128 KiB
csv.field_size_limit(2**31 - 1)


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert "Traceback" not in result.output, result.output
    return result


def moment(value: Any) -> datetime | None:
    """A view's time as an aware datetime (SQLite hands back naive UTC text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def view_rows(url: str, view: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The view's columns and rows as the database gives them (times made aware)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM {view}"))
            names = list(result.keys())
            rows = [dict(row) for row in result.mappings()]
    finally:
        engine.dispose()
    for row in rows:
        for name in TIMES & row.keys():
            row[name] = moment(row[name])
    return names, rows


def as_text(row: dict[str, Any]) -> dict[str, str]:
    """A row as CSV holds it."""
    shown = {}
    for name, value in row.items():
        if value is None:
            shown[name] = ""
        elif isinstance(value, datetime):
            shown[name] = value.isoformat()
        else:
            shown[name] = str(value)
    return shown


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def keyed(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r[key]))


def test_each_export_in_each_format_holds_the_view(analyst_url: str, tmp_path: Path) -> None:  # noqa: F811
    for what, view in VIEWS.items():
        names, rows = view_rows(analyst_url, view)
        assert rows, view
        key = KEYS[what]
        for fmt in ("csv", "jsonl", "parquet"):
            out = tmp_path / f"{what}.{fmt}"
            result = run(analyst_url, "export", what, "--format", fmt, "-o", str(out))
            assert result.exit_code == 0, result.output
            assert result.stderr.splitlines()[-1] == f"exported {len(rows):,} {what} to {out}"
            if fmt == "csv":
                with out.open(newline="", encoding="utf-8") as handle:
                    reader = csv.DictReader(handle)
                    assert reader.fieldnames == names
                    got = list(reader)
                assert keyed(got, key) == keyed([as_text(r) for r in rows], key)
            elif fmt == "jsonl":
                got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
                assert [list(r) for r in got[:1]] == [names]
                assert keyed(got, key) == keyed([as_json(r) for r in rows], key)
            else:
                check_parquet(out, names, rows, key)


def check_parquet(out: Path, names: list[str], rows: list[dict[str, Any]], key: str) -> None:
    schema = pq.read_schema(out)
    assert schema.names == names
    for field in schema:
        if field.name in TIMES:
            assert field.type == pa.timestamp("us", tz="UTC"), field
        elif field.name in DAYS | PARTIAL:
            assert field.type == pa.date32(), field
        elif field.name in INTS:
            assert field.type == pa.int64(), field
        else:
            assert field.type == pa.string(), field
    table = pq.read_table(out)
    assert table.num_rows == len(rows)
    got = {str(r[key]): r for r in table.to_pylist()}
    for row in rows:
        back = got[str(row[key])]
        for name, value in row.items():
            if name in PARTIAL and value is not None:
                # the period's first day; the _precision column says which period
                assert back[name].isoformat().startswith(value), (name, value)
                assert row[f"{name}_precision"] == {4: "year", 7: "month", 10: "day"}[len(value)]
            elif name in DAYS and value is not None:
                assert back[name].isoformat() == value, name
            else:
                assert back[name] == value, (name, value, back[name])
    frame = pd.read_parquet(out)
    for name in names:
        dtype = frame[name].dtype
        if name in INTS:
            assert str(dtype) in ("int64", "Int64"), (name, dtype)
        elif name in TIMES:
            assert str(dtype).startswith("datetime64"), (name, dtype)
        elif name in DAYS | PARTIAL:
            assert all(hasattr(v, "isoformat") for v in frame[name].dropna()), name
    described = dict(
        (row[0], row[1]) for row in duckdb.sql(f"DESCRIBE SELECT * FROM '{out}'").fetchall()
    )
    for name in names:
        want = "VARCHAR"
        if name in TIMES:
            want = "TIMESTAMP WITH TIME ZONE"
        elif name in DAYS | PARTIAL:
            want = "DATE"
        elif name in INTS:
            want = "BIGINT"
        assert described[name] == want, (name, described[name])
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall()
    assert count == len(rows)


def exported(url: str, tmp_path: Path, what: str, *flags: str) -> list[dict[str, Any]]:
    out = tmp_path / "filtered.jsonl"
    result = run(url, "export", what, *flags, "-o", str(out))
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def ids(rows: list[dict[str, Any]], key: str) -> list[Any]:
    return sorted(row[key] for row in rows)


def selected(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text(sql), params).scalars())
    finally:
        engine.dispose()


def test_filters_select_what_sql_selects(analyst_url: str, tmp_path: Path) -> None:  # noqa: F811
    url = analyst_url
    # a change with no registry date counts on the day it was observed (registry clock)
    engine = open_engine(url)
    with engine.begin() as conn:
        undated = conn.execute(text("SELECT min(id) FROM change")).scalar_one()
        conn.execute(text("UPDATE change SET registry_date = NULL WHERE id = :i"), {"i": undated})
    engine.dispose()

    def changes(*flags: str) -> list[Any]:
        return ids(exported(url, tmp_path, "changes", *flags), "change_id")

    def versions(*flags: str) -> list[Any]:
        return ids(exported(url, tmp_path, "versions", *flags), "version_id")

    feed = "SELECT change_id FROM changes_feed"
    kinds = changes("--kind", "status", "--kind", "primary_completion_date")
    assert kinds and kinds == selected(
        url, f"{feed} WHERE kind IN ('status', 'primary_completion_date')"
    )
    for grade, below in (("minor", "('editorial')"), ("major", "('editorial', 'minor')")):
        graded = changes("--min-grade", grade)
        # an ungraded change (NULL) counts as major
        assert graded == selected(
            url, f"SELECT id FROM change WHERE grade IS NULL OR grade NOT IN {below}"
        )
    assert changes("--min-grade", "major") != changes()  # the data holds graded changes
    assert changes("--nct", HISTORY_TRIAL) == selected(
        url, f"{feed} WHERE nct_id = :n", n=HISTORY_TRIAL
    )
    # observed clock: until is inclusive, a date meaning its end
    _, rows = view_rows(url, "changes_feed")
    nov_2 = [r["change_id"] for r in rows if r["observed_at"].date().isoformat() == "2026-11-02"]
    assert nov_2 and changes("--since", "2026-11-02", "--until", "2026-11-02") == sorted(nov_2)
    first = min(r["observed_at"] for r in rows)
    at_first = sorted(r["change_id"] for r in rows if r["observed_at"] == first)
    assert changes("--until", first.isoformat()) == at_first
    # registry clock, with the undated change on its observed day
    [row] = [r for r in rows if r["change_id"] == undated]
    seen = row["observed_at"].date().isoformat()
    on_clock = sorted(
        r["change_id"]
        for r in rows
        if (r["registry_date"] or r["observed_at"].date().isoformat()) >= "2020-01-01"
        and (r["registry_date"] or r["observed_at"].date().isoformat()) <= seen
    )
    got = changes("--clock", "registry", "--since", "2020-01-01", "--until", seen)
    assert undated in got and got == on_clock
    assert undated not in changes("--clock", "registry", "--until", "2000-01-01")
    # versions: observed clock on known_from, registry clock on valid_from, as-of validity
    _, vrows = view_rows(url, "trial_versions")
    known = sorted(v["version_id"] for v in vrows if v["known_from"] >= moment("2026-11-02"))
    assert known and versions("--since", "2026-11-02") == known
    assert versions("--clock", "registry", "--since", "2020-01-01", "--until", "2020-12-31") == (
        selected(
            url,
            "SELECT version_id FROM trial_versions "
            "WHERE valid_from >= '2020-01-01' AND valid_from <= '2020-12-31'",
        )
    )
    # 2020-03-11 starts a version and ends the one before; on 2025-04-10 NCT03934567 has two
    # versions, the first of them never in force
    for day in ("2016-06-01", "2020-03-11", "2025-04-10"):
        in_force = selected(
            url,
            "SELECT version_id FROM trial_versions WHERE valid_from <= :d "
            "AND (valid_until IS NULL OR valid_until > :d)",
            d=day,
        )
        assert in_force and versions("--as-of", day) == in_force
    assert ids(exported(url, tmp_path, "trials", "--nct", HISTORY_TRIAL), "nct_id") == [
        HISTORY_TRIAL
    ]


STATE_ON_DAY = """
SELECT v.version_id
FROM trial_versions AS v
WHERE v.valid_from <= :d
  AND (v.valid_until IS NULL OR v.valid_until > :d)
  AND (v.origin = 'ctgov' OR NOT EXISTS (
        SELECT 1 FROM trial_versions AS r
        WHERE r.nct_id = v.nct_id AND r.origin = 'ctgov'
          AND r.valid_from <= :d
          AND (r.valid_until IS NULL OR r.valid_until > :d)))
"""


def test_trials_as_of_match_show(analyst_url: str, tmp_path: Path) -> None:  # noqa: F811
    _, latest = view_rows(analyst_url, "trial_latest")
    for day in ("2017-06-16", "2020-03-11", "2025-04-10"):
        got = exported(analyst_url, tmp_path, "trials", "--as-of", day)
        assert got and all(r["as_of"] == day for r in got)
        # the rows of docs/schema.md's "state of every trial on day D"
        assert ids(got, "version_id") == selected(analyst_url, STATE_ON_DAY, d=day)
        rows = {r["nct_id"]: r for r in got if r["origin"] == "ctgov"}
        for trial in latest:
            nct = trial["nct_id"]
            shown = run(analyst_url, "show", nct, "--as-of", day, "--json")
            if shown.exit_code == 1:
                assert nct not in rows, nct
                continue
            record = json.loads(shown.stdout)
            row = rows[nct]
            date = record["primary_completion_date"]
            enrollment = record["enrollment"]
            assert (row["overall_status"], row["primary_completion_date"], row["enrollment"]) == (
                record["overall_status"],
                date and date["date"],
                enrollment and enrollment["count"],
            ), (nct, day)


@pytest.fixture
def sqlite_url(analyst_template: Path, tmp_path: Path) -> str:  # noqa: F811
    shutil.copytree(analyst_template, tmp_path / "analyst")
    return f"sqlite:///{tmp_path / 'analyst' / 'trialwatch.db'}"


def test_the_format_follows_the_file_name_else_csv(sqlite_url: str, tmp_path: Path) -> None:
    _, rows = view_rows(sqlite_url, "changes_feed")
    for name, magic in (("out.csv", b"change_id,"), ("out.txt", b"change_id,")):
        result = run(sqlite_url, "export", "changes", "-o", str(tmp_path / name))
        assert result.exit_code == 0 and (tmp_path / name).read_bytes().startswith(magic)
    assert run(sqlite_url, "export", "changes", "-o", str(tmp_path / "o.parquet")).exit_code == 0
    assert pq.read_table(tmp_path / "o.parquet").num_rows == len(rows)
    assert run(sqlite_url, "export", "changes", "-o", str(tmp_path / "o.jsonl")).exit_code == 0
    assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == len(rows)
    to_stdout = run(sqlite_url, "export", "changes", "-o", "-")
    assert to_stdout.exit_code == 0
    assert len(list(csv.DictReader(to_stdout.stdout.splitlines()))) == len(rows)
    as_jsonl = run(sqlite_url, "export", "trials", "--format", "jsonl", "-o", "-")
    assert all(json.loads(line)["nct_id"] for line in as_jsonl.stdout.splitlines())
    assert not list(tmp_path.glob(".*.partial"))


def test_no_rows_still_types_every_column(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "none.parquet"
    result = run(sqlite_url, "export", "changes", "--nct", "NCT99999999", "-o", str(out))
    assert result.exit_code == 0 and "exported 0 changes" in result.stderr
    schema = pq.read_schema(out)
    assert schema.field("delta_days").type == pa.int64()
    assert schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
    assert pq.read_table(out).num_rows == 0


def test_rows_come_in_bounded_batches(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    try:
        with open_rows(engine, "versions", ExportFilters(), batch_rows=7) as rows:
            sizes = [len(batch) for batch in rows.batches]
    finally:
        engine.dispose()
    assert max(sizes) == 7 and sum(sizes) == rows.total and len(sizes) > 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["changes", "--format", "xlsx", "-o", "x"], "'xlsx' is not one of"),
        (["changes", "--format", "parquet", "-o", "-"], "parquet needs a file"),
        (["changes", "--format", "duckdb", "-o", "-"], "duckdb needs a file"),
        (["changes", "-o", "-.parquet", "--format", "parquet"], None),
        (["trials", "--kind", "status", "-o", "x.csv"], "--kind does not apply to trials"),
        (["changes", "--as-of", "2020-01-01", "-o", "x.csv"], "--as-of does not apply to"),
        (["trials", "--since", "2020-01-01", "-o", "x.csv"], "--since does not apply to"),
        (["versions", "--min-grade", "minor", "-o", "x.csv"], "--min-grade does not apply"),
        (["trials", "--clock", "registry", "-o", "x.csv"], "--clock does not apply to"),
        (["changes", "--since", "2024-13-01", "-o", "x.csv"], "--since '2024-13-01' is not"),
        (["trials", "--as-of", "yesterday", "-o", "x.csv"], "--as-of 'yesterday' is not"),
        (["changes", "--since", "2024-02-01", "--until", "2024-01-01", "-o", "x.csv"], "after"),
        (["changes", "--nct", "NCT123", "-o", "x.csv"], "'NCT123' is not an NCT id"),
        (["changes"], "Missing option '-o'"),
        (["everything", "-o", "x.csv"], "'everything' is not one of"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    says: str | None,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run(sqlite_url, "export", *args)
    if says is None:  # a file name that merely looks like stdout is a file
        assert result.exit_code == 0 and (work / "-.parquet").exists()
        return
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("trialwatch export: ") and says in result.stderr
    assert result.stdout == "" and not list(work.iterdir())
