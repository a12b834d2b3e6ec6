"""`trialwatch changes` filters on the analyst database: each flag selects exactly the rows the
same filter written directly (SQL rows read back, filtered in Python) selects."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlmodel import select

from tests.analyst_data import SLIPPED, analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from trialwatch.cli import cli
from trialwatch.kinds import GRADES
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change, Trial
from trialwatch.registry.queries import count_changes, list_changes

DATE_KINDS = ("start_date", "primary_completion_date", "completion_date")
EARLIER = "NCT04280705"  # its primary completion moved 1077 days earlier


@pytest.fixture
def url(analyst_url: str) -> str:  # noqa: F811
    """The analyst database (SQLite, and PostgreSQL where a server answers)."""
    return analyst_url


def run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def listed(url: str, *args: str) -> list[int]:
    result = run(url, "changes", "--json", *args)
    assert result.exit_code == 0, (args, result.output)
    return [row["id"] for row in json.loads(result.stdout)]


def table(url: str) -> tuple[list[Change], dict[int, dict[str, Any]]]:
    """Every change in the stable order, and each trial's current record by trial id."""
    engine = open_engine(url)
    with transaction(engine) as session:
        rows = list(session.exec(select(Change)).all())
        records = {t.id: t.record for t in session.exec(select(Trial)).all() if t.id}
    engine.dispose()
    assert all(c.registry_date for c in rows)  # the order below needs no NULL rule
    rows.sort(key=lambda c: (c.observed_at, c.registry_date or "", c.id or 0))
    return rows, records


def ids(rows: list[Change], keep: Callable[[Change], bool]) -> list[int]:
    return [c.id for c in rows if keep(c) and c.id is not None]


def test_no_optional_flag_lists_every_change_in_order(url: str) -> None:
    rows, _ = table(url)
    assert len(rows) >= 15
    assert listed(url) == ids(rows, lambda c: True)
    text = run(url, "changes")
    assert text.exit_code == 0 and text.stderr == ""
    for change in rows:
        assert change.nct_id in text.stdout
    first = json.loads(run(url, "changes", "--json").stdout)[0]
    # rows are joinable to versions
    assert {"from_version_id", "to_version_id"} <= first.keys()


def test_min_delay_days_keeps_later_date_moves_only(url: str) -> None:
    rows, _ = table(url)
    slips = listed(url, "--min-delay-days", "180", "--kind", "primary_completion_date")
    by_id = {c.id: c for c in rows}
    assert SLIPPED in {by_id[i].nct_id for i in slips}
    assert [by_id[i].detail["delta_days"] for i in slips if by_id[i].nct_id == SLIPPED] == [212]
    assert EARLIER not in {by_id[i].nct_id for i in slips}  # moved earlier: not a slip

    for days in (0, 30, 180, 183, 213, 5000):
        expected = ids(
            rows,
            lambda c, n=days: (
                c.kind in DATE_KINDS
                and isinstance(c.detail.get("delta_days"), int)
                and c.detail["delta_days"] >= n
            ),
        )
        assert listed(url, "--min-delay-days", str(days)) == expected, days
    assert listed(url, "--min-delay-days", "213") == []


def test_phase_and_sponsor_read_the_current_record(url: str) -> None:
    rows, records = table(url)

    def phased(*wanted: str) -> list[int]:
        return ids(rows, lambda c: bool(set(records[c.trial_id].get("phases") or []) & {*wanted}))

    for spelling in ("3", "phase3", "PHASE3", "Phase 3", "phase 3"):
        assert listed(url, "--phase", spelling) == phased("PHASE3"), spelling
    assert phased("PHASE3") and phased("PHASE2")
    assert listed(url, "--phase", "2", "--phase", "early1") == phased("PHASE2", "EARLY_PHASE1")
    assert listed(url, "--phase", "EARLY_PHASE1", "--phase", "na") == phased("EARLY_PHASE1", "NA")

    def sponsored(*texts: str) -> list[int]:
        def keep(c: Change) -> bool:
            lead = (records[c.trial_id].get("lead_sponsor") or "").lower()
            return any(t.lower() in lead for t in texts)

        return ids(rows, keep)

    cases = [
        ("National",),  # National Cancer Institute (NCI), ... (NIAID)
        ("hôpitaux de paris",),  # Assistance Publique - Hôpitaux de Paris
        ("DUKE", "niaid"),
        ("no such sponsor",),
    ]
    for texts in cases:
        argv = [a for t in texts for a in ("--sponsor", t)]
        assert listed(url, *argv) == sponsored(*texts), texts
    assert sponsored("national") and sponsored("hôpitaux")
    both = listed(url, "--phase", "2", "--sponsor", "national")
    assert both == [i for i in phased("PHASE2") if i in sponsored("national")] and both


def test_times_clocks_sources_grades_and_limit(url: str) -> None:
    rows, _ = table(url)
    low = datetime(2026, 11, 2, tzinfo=UTC)
    high = datetime(2026, 11, 15, 23, 59, 59, 999999, tzinfo=UTC)
    assert listed(url, "--since", "2026-11-02", "--until", "2026-11-15") == ids(
        rows, lambda c: low <= c.observed_at <= high
    )
    assert listed(url, "--until", "2026-11-01") == ids(
        rows, lambda c: c.observed_at < datetime(2026, 11, 2, tzinfo=UTC)
    )
    assert listed(url, "--since", "2026-11-15T09:00:00Z") == ids(
        rows, lambda c: c.observed_at >= datetime(2026, 11, 15, 9, tzinfo=UTC)
    )

    by_registry = sorted(rows, key=lambda c: (c.registry_date or "", c.observed_at, c.id or 0))
    assert listed(url, "--clock", "registry") == ids(by_registry, lambda c: True)
    window = listed(url, "--clock", "registry", "--since", "2020-03-01", "--until", "2020-05-30")
    assert window == ids(
        by_registry, lambda c: "2020-03-01" <= (c.registry_date or "") <= "2020-05-30"
    )
    assert window  # NCT04280705's enrollment, criterion, status and date changes

    assert listed(url, "--source", "ctgov") == ids(rows, lambda c: c.source == "ctgov")
    assert listed(url, "--source", "veeva") == ids(rows, lambda c: c.source == "veeva")
    for grade in GRADES:
        at_least = set(GRADES[GRADES.index(grade) :])
        assert listed(url, "--min-grade", grade) == ids(
            rows, lambda c, g=at_least: (c.grade or "major") in g
        )

    everything = listed(url)
    assert listed(url, "--limit", "3") == everything[:3]
    assert listed(url, "--limit", "3", "--offset", "2") == everything[2:5]
    assert listed(url, "--limit", "0") == []
    limited = run(url, "changes", "--limit", "3")
    assert f"3 of {len(everything)} change(s)" in limited.stderr


def test_library_counts_match_lists(url: str) -> None:
    engine = open_engine(url)
    cases: list[dict[str, Any]] = [
        {},
        {"kinds": ["status"]},
        {"phases": ["PHASE2"], "min_grade": "major"},
        {"sponsors": ["univ"], "clock": "registry", "since": datetime(2017, 1, 1, tzinfo=UTC)},
        {"min_delay_days": 1, "sources": ["ctgov"], "nct_ids": [SLIPPED]},
    ]
    with transaction(engine) as session:
        for case in cases:
            assert count_changes(session, **case) == len(list_changes(session, **case)), case
        full = list_changes(session, clock="registry")
        assert list_changes(session, clock="registry", limit=4, offset=3) == full[3:7]
    engine.dispose()


def test_bad_input_is_one_line_and_exit_2(url: str) -> None:
    cases = {
        ("--since", "2026-02-30"): "'--since'",
        ("--until", "yesterday"): "'--until'",
        ("--phase", "5"): "'--phase'",
        ("--phase", "early"): "'--phase'",
        ("--limit", "-1"): "'--limit'",
        ("--min-delay-days", "-3"): "'--min-delay-days'",
        ("--since", "2026-11-02", "--until", "2026-11-01"): "'--since'",
        ("--clock", "wall"): "'--clock'",
    }
    for args, named in cases.items():
        result = run(url, "changes", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and named in result.stderr, result.stderr
        assert result.stderr.startswith("Error: Invalid value for ")
