"""`trialwatch stats` on the analyst database, checked against counts written here directly."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlmodel import select

from tests.analyst_data import SLIPPED, analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from trialwatch.cli import cli
from trialwatch.kinds import CHANGE_KINDS
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change
from trialwatch.registry.stats import slip_stats

HISTORY = "NCT04280705"  # NOT_YET_RECRUITING → RECRUITING → ACTIVE_NOT_RECRUITING


@pytest.fixture
def url(analyst_url: str) -> str:  # noqa: F811
    """The analyst database (SQLite, and PostgreSQL where a server answers)."""
    return analyst_url


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "stats", *args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def stats(url: str, *args: str) -> dict[str, Any]:
    result = run(url, "--json", *args)
    assert result.exit_code == 0, (args, result.output)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def sql(url: str, query: str) -> list[Any]:
    engine = open_engine(url)
    with engine.connect() as conn:
        rows = list(conn.execute(text(query)).all())
    engine.dispose()
    return rows


def changes(url: str) -> list[Change]:
    engine = open_engine(url)
    with transaction(engine) as session:
        rows = list(session.exec(select(Change)).all())
    engine.dispose()
    return rows


def test_counts_by_kind_grade_and_month(url: str) -> None:
    data = stats(url)
    assert set(data) == {
        "clock",
        "total",
        "by_kind",
        "by_grade",
        "by_month",
        "status_transitions",
        "primary_completion_slips",
        "findings",  # counted in tests/test_export_findings.py
    }
    by_kind = dict(sql(url, "SELECT kind, COUNT(*) FROM change GROUP BY kind"))
    assert {k: n for k, n in data["by_kind"].items() if n} == by_kind
    assert set(data["by_kind"]) == set(CHANGE_KINDS)
    assert data["total"] == sql(url, "SELECT COUNT(*) FROM change")[0][0] == sum(by_kind.values())
    by_grade = dict(sql(url, "SELECT COALESCE(grade, 'major'), COUNT(*) FROM change GROUP BY 1"))
    assert {g: n for g, n in data["by_grade"].items() if n} == by_grade

    rows = changes(url)
    observed = Counter(c.observed_at.strftime("%Y-%m") for c in rows)
    assert data["clock"] == "observed" and data["by_month"] == dict(sorted(observed.items()))
    registry = Counter((c.registry_date or c.observed_at.date().isoformat())[:7] for c in rows)
    by_registry = stats(url, "--clock", "registry")
    assert by_registry["by_month"] == dict(sorted(registry.items()))
    assert list(by_registry["by_month"]) == sorted(by_registry["by_month"])

    text_out = run(url)
    assert text_out.exit_code == 0 and text_out.stderr == ""
    for kind, n in by_kind.items():
        assert any(line.split() == [kind, str(n)] for line in text_out.stdout.splitlines())


def test_status_transitions(url: str) -> None:
    data = stats(url)
    expected = Counter((c.before, c.after) for c in changes(url) if c.kind == "status")
    got = {(t["from"], t["to"]): t["count"] for t in data["status_transitions"]}
    assert got == dict(expected)
    mine = stats(url, "--nct", HISTORY)["status_transitions"]
    assert {"from": "NOT_YET_RECRUITING", "to": "RECRUITING", "count": 1} in mine
    assert {"from": "RECRUITING", "to": "ACTIVE_NOT_RECRUITING", "count": 1} in mine
    text_out = run(url, "--nct", HISTORY).stdout
    row = next(line for line in text_out.splitlines() if line.startswith("NOT_YET_RECRUITING"))
    assert row.split()[1:] == [".", "1"]  # columns ACTIVE_NOT_RECRUITING, RECRUITING


def test_primary_completion_slips(url: str) -> None:
    rows = [c for c in changes(url) if c.kind == "primary_completion_date"]
    deltas = sorted(
        c.detail["delta_days"] for c in rows if isinstance(c.detail.get("delta_days"), int)
    )
    by_trial = {c.nct_id: c.detail["delta_days"] for c in rows}
    assert by_trial[SLIPPED] == 212 and by_trial[HISTORY] < 0
    slips = stats(url)["primary_completion_slips"]
    assert slips["count"] == len(deltas) >= 3
    assert slips["later"] == len([d for d in deltas if d > 0])
    assert slips["earlier"] == len([d for d in deltas if d < 0])
    assert slips["type_only"] == deltas.count(0)
    assert (slips["min_days"], slips["max_days"]) == (deltas[0], deltas[-1])
    assert slips["min_days"] == by_trial[HISTORY]
    middle = len(deltas) // 2
    median = deltas[middle] if len(deltas) % 2 else (deltas[middle - 1] + deltas[middle]) / 2
    assert slips["median_days"] == median
    assert slips["p90_days"] == deltas[math.ceil(len(deltas) * 0.9) - 1]
    edges = {"1-30": (1, 30), "31-90": (31, 90), "91-180": (91, 180), "181-365": (181, 365)}
    expected = {
        "earlier": slips["earlier"],
        "0": slips["type_only"],
        **{k: len([d for d in deltas if lo <= d <= hi]) for k, (lo, hi) in edges.items()},
        ">365": len([d for d in deltas if d > 365]),
    }
    assert slips["buckets"] == expected and sum(expected.values()) == len(deltas)
    assert slips["buckets"]["181-365"] >= 1  # NCT06171568's 212 days
    only_slipped = stats(url, "--nct", SLIPPED)["primary_completion_slips"]
    assert (only_slipped["count"], only_slipped["max_days"]) == (1, 212)


def test_slip_stats_quantiles() -> None:
    days = [-5, 0, 0, 10, 40, 100, 200, 300, 400, 1000]
    got = slip_stats(days)
    assert (got["median_days"], got["p90_days"]) == (70, 400)
    assert got["buckets"] == {
        "earlier": 1,
        "0": 2,
        "1-30": 1,
        "31-90": 1,
        "91-180": 1,
        "181-365": 2,
        ">365": 2,
    }
    assert slip_stats([])["median_days"] is None and slip_stats([])["count"] == 0


def test_filters_match_direct_counts(url: str) -> None:
    rows = changes(url)
    majors = stats(url, "--min-grade", "major", "--kind", "status", "--kind", "enrollment")
    expected = Counter(
        c.kind for c in rows if c.kind in ("status", "enrollment") and c.grade in (None, "major")
    )
    assert {k: n for k, n in majors["by_kind"].items() if n} == dict(expected)
    window = stats(url, "--since", "2026-11-02", "--until", "2026-11-02")
    assert window["total"] == len(
        [c for c in rows if c.observed_at.date().isoformat() == "2026-11-02"]
    )
    registry = stats(url, "--clock", "registry", "--since", "2020-01-01", "--until", "2020-12-31")
    assert registry["total"] == len([c for c in rows if (c.registry_date or "")[:4] == "2020"])
    assert registry["total"] > 0


def test_stats_take_every_filter_changes_takes(url: str) -> None:
    for args in (
        ("--phase", "2"),
        ("--sponsor", "national institute"),
        ("--source", "ctgov", "--min-delay-days", "1"),
    ):
        listed = CliRunner().invoke(cli, ["--db", url, "changes", *args, "--json"])
        assert listed.exit_code == 0, listed.output
        counted = Counter(c["kind"] for c in json.loads(listed.stdout))
        found = stats(url, *args)
        assert found["total"] == sum(counted.values()) > 0, args
        assert {k: n for k, n in found["by_kind"].items() if n} == dict(counted), args


def test_bad_input_is_one_line_and_exit_2(url: str) -> None:
    for args in (
        ("--since", "2026-13-01"),
        ("--until", "soon"),
        ("--clock", "wall"),
        ("--kind", "nonsense"),
        ("--nct", "NCT123"),
    ):
        result = run(url, *args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.splitlines()) == 1 and result.stdout == "", result.stderr
