"""`trialwatch export findings` and the findings counts of `trialwatch stats`, against the
findings stored for the analyst database's real records (read back here through the ORM,
not through the view the export reads)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from sqlmodel import select

from tests.analyst_data import analyst_pg_template, analyst_shared_url, analyst_template  # noqa: F401
from trialwatch.cli import cli
from trialwatch.kinds import FINDING_KINDS
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.findings import stored_findings
from trialwatch.registry.models import Finding, Trial

COLUMNS = [
    "finding_id",
    "nct_id",
    "brief_title",
    "kind",
    "phase",
    "grade",
    "since",
    "since_year",
    "text",
    "version_ids",
    "registry_dates",
    "first_seen_at",
]
# what the demo's trials are known to show (the brief's examples, checked in the data)
KNOWN = {
    ("NCT04280705", "results_due"),
    ("NCT03934567", "results_due"),
    ("NCT04280705", "stale_status"),
    ("NCT06171568", "stale_status"),
}
STATS_KEYS = {
    "clock",
    "total",
    "by_kind",
    "by_grade",
    "by_month",
    "status_transitions",
    "primary_completion_slips",
}


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert "Traceback" not in result.output, result.output
    return result


def stored(url: str) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The stored findings holding today, as export rows (typed as JSON Lines gives them),
    and every stored finding."""
    engine = open_engine(url)
    try:
        with transaction(engine) as session:
            holding = stored_findings(session, on=datetime.now(UTC).date())
            every = list(session.exec(select(Finding)).all())
            titles = {t.nct_id: t.record.get("brief_title") for t in session.exec(select(Trial))}
    finally:
        engine.dispose()
    rows = [
        {
            "finding_id": f.id,
            "nct_id": f.nct_id,
            "brief_title": titles[f.nct_id],
            "kind": f.kind,
            "phase": f.detail.get("phase"),
            "grade": f.grade,
            "since": f.since,
            "since_year": int(f.since[:4]),
            "text": f.text,
            "version_ids": "; ".join(str(v) for v in f.version_ids),
            "registry_dates": "; ".join(f.registry_dates),
            "first_seen_at": f.first_seen_at.isoformat(),
        }
        for f in holding
    ]
    return rows, every


@pytest.fixture(scope="module")
def url(analyst_shared_url: str) -> str:  # noqa: F811
    """The analyst database, one copy for the module (only read here)."""
    return analyst_shared_url


@pytest.fixture(scope="module")
def expected(url: str) -> tuple[list[dict[str, Any]], list[Finding]]:
    return stored(url)


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: int(r["finding_id"]))


def test_findings_in_each_format_are_those_holding_today(
    url: str, expected: tuple[list[dict[str, Any]], list[Finding]], tmp_path: Path
) -> None:
    rows, every = expected
    assert KNOWN <= {(r["nct_id"], r["kind"]) for r in rows}
    today = datetime.now(UTC).date().isoformat()
    left_out = {f.id for f in every} - {r["finding_id"] for r in rows}
    # the data holds resolved findings, and findings that only time will bring about
    assert any(f.resolved_at is not None for f in every if f.id in left_out)
    assert any(f.since > today for f in every if f.id in left_out)
    assert all(f.resolved_at is not None or f.since > today for f in every if f.id in left_out)
    assert any(len(r["version_ids"].split("; ")) == 2 for r in rows)  # a list of two

    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"findings.{fmt}"
        result = run(url, "export", "findings", "-o", str(out))
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines()[-1] == f"exported {len(rows):,} findings to {out}"
        if fmt == "csv":
            with out.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                assert reader.fieldnames == COLUMNS
                got: list[dict[str, Any]] = list(reader)
            shown = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
            assert by_id(got) == by_id(shown)
        elif fmt == "jsonl":
            got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
            assert list(got[0]) == COLUMNS
            assert by_id(got) == by_id(rows)
            # by trial, then day
            assert [(r["nct_id"], r["since"]) for r in got] == sorted(
                (r["nct_id"], r["since"]) for r in got
            )
        else:
            schema = pq.read_schema(out)
            assert schema.names == COLUMNS
            types = {f.name: f.type for f in schema}
            assert types["finding_id"] == types["since_year"] == pa.int64()
            assert types["since"] == pa.date32()
            assert types["first_seen_at"] == pa.timestamp("us", tz="UTC")
            assert types["version_ids"] == types["registry_dates"] == pa.string()
            got = pq.read_table(out).to_pylist()
            for row in got:
                row["since"] = row["since"].isoformat()
                row["first_seen_at"] = row["first_seen_at"].isoformat()
            assert by_id(got) == by_id(rows)


def test_findings_filters(
    url: str, expected: tuple[list[dict[str, Any]], list[Finding]], tmp_path: Path
) -> None:
    rows, _ = expected

    def ids(*flags: str) -> list[int]:
        out = tmp_path / "filtered.jsonl"
        result = run(url, "export", "findings", *flags, "-o", str(out))
        assert result.exit_code == 0, result.output
        return sorted(orjson.loads(line)["finding_id"] for line in out.read_bytes().splitlines())

    due = ids("--kind", "results_due", "--nct", "NCT04280705", "--nct", "NCT03934567")
    want = [
        r["finding_id"]
        for r in rows
        if r["kind"] == "results_due" and r["nct_id"] in ("NCT04280705", "NCT03934567")
    ]
    assert len(due) == 2 and due == sorted(want)
    window = ids("--clock", "registry", "--since", "2016-01-01", "--until", "2021-12-31")
    in_window = [r["finding_id"] for r in rows if "2016-01-01" <= r["since"] <= "2021-12-31"]
    assert window and len(window) < len(rows) and window == sorted(in_window)
    # a finding kind is no change kind, and the other way round
    for args, says in (
        (["findings", "--kind", "status"], "--kind status is not a kind of findings"),
        (["changes", "--kind", "results_due"], "--kind results_due is not a kind of changes"),
        (["findings", "--as-of", "2020-01-01"], "--as-of does not apply to findings"),
    ):
        result = run(url, "export", *args, "-o", str(tmp_path / "x.csv"))
        assert result.exit_code == 2 and says in result.stderr, result.output
        assert len(result.stderr.splitlines()) == 1


def test_stats_counts_the_findings_holding_today(
    url: str, expected: tuple[list[dict[str, Any]], list[Finding]]
) -> None:
    rows, _ = expected
    result = run(url, "stats", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == STATS_KEYS | {"findings"}  # the keys before stay as they were
    findings = data["findings"]
    assert findings["on"] == datetime.now(UTC).date().isoformat()
    assert findings["total"] == len(rows)
    assert findings["by_kind"] == {
        **dict.fromkeys(FINDING_KINDS, 0),
        **Counter(r["kind"] for r in rows),
    }
    by_year = Counter((r["kind"], r["since_year"]) for r in rows)
    assert {(c["kind"], c["year"]): c["count"] for c in findings["by_kind_year"]} == by_year
    assert len(findings["by_kind_year"]) == len(by_year)
    # only the trials the filters select
    one = json.loads(run(url, "stats", "--nct", "NCT04280705", "--json").stdout)["findings"]
    assert one["total"] == len([r for r in rows if r["nct_id"] == "NCT04280705"]) >= 2
    text = run(url, "stats").stdout
    assert f"{len(rows)} finding(s) holding on {findings['on']}" in text
    total_line = next(line for line in text.splitlines() if line.startswith("total "))
    kinds = [k for k, n in findings["by_kind"].items() if n]
    assert total_line.split()[1:] == [str(findings["by_kind"][k]) for k in kinds]


def test_stats_on_an_empty_database_prints_no_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert run(url, "db", "upgrade").exit_code == 0
    text = run(url, "stats")
    assert (text.exit_code, text.stdout, text.stderr) == (0, "", "no changes held\n")
    findings = json.loads(run(url, "stats", "--json").stdout)["findings"]
    assert findings["total"] == 0 and findings["by_kind_year"] == []
    assert findings["by_kind"] == dict.fromkeys(FINDING_KINDS, 0)
    out = tmp_path / "none.parquet"
    result = run(url, "export", "findings", "-o", str(out))
    assert result.exit_code == 0 and "exported 0 findings" in result.stderr
    assert pq.read_schema(out).names == COLUMNS and pq.read_table(out).num_rows == 0
