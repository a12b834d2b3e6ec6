"""Stored integrity findings: kept current on ingest, the same in any import order, untouched
by `reparse`, never news from backfill, announced once through the outbox.

The payloads are real records (tests/fixtures/SOURCES.md) with later versions built from them
by the edits stated here, each dated as the registry would date it; they are not recordings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import col, select

from tests.conftest import fixture_file
from trialwatch.alerts.outbox import announce_due
from trialwatch.alerts.watches import Target, add_watch
from trialwatch.cli import cli
from trialwatch.ingest.payloads import HistoryPayload, Tally
from trialwatch.ingest.pipeline import Pipeline
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Delivery, Finding
from trialwatch.snapshots import SnapshotStore

Edit = Callable[[dict[str, Any]], None]
RECRUITING = "NCT04267848"  # started 2020-06-16, primary completion 2025-12-15 (estimated)
ACTT = "NCT04280705"  # record-history version 0, 2020-02-20: not yet recruiting


def _dated(ps: dict[str, Any], day: str) -> None:
    ps["statusModule"]["lastUpdateSubmitDate"] = day
    ps["statusModule"]["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}


def _pcd(day: str) -> Edit:
    def edit(ps: dict[str, Any]) -> None:
        ps["statusModule"]["primaryCompletionDateStruct"] = {"date": day, "type": "ESTIMATED"}

    return edit


def _enrollment(count: int) -> Edit:
    def edit(ps: dict[str, Any]) -> None:
        ps["designModule"]["enrollmentInfo"] = {"count": count, "type": "ESTIMATED"}

    return edit


def _outcome(measure: str) -> Edit:
    def edit(ps: dict[str, Any]) -> None:
        ps["outcomesModule"]["primaryOutcomes"] = [{"measure": measure, "timeFrame": "Day 29"}]

    return edit


# NCT04267848: (registry date, edits on top of the version before)
SEQUENCE: list[tuple[str, list[Edit]]] = [
    ("2021-01-04", [_pcd("2024-12-15")]),
    ("2022-01-03", [_pcd("2025-03-15"), _enrollment(1500)]),
    ("2023-01-02", [_pcd("2025-06-15"), _outcome("Overall survival")]),
    ("2024-01-08", [_pcd("2025-09-15")]),
]


def sequence_bodies() -> list[bytes]:
    study = json.loads(fixture_file(f"ctgov_v2_{RECRUITING}.json").read_bytes())
    bodies = []
    for day, edits in SEQUENCE:
        ps = study["protocolSection"]
        for edit in edits:
            edit(ps)
        _dated(ps, day)
        bodies.append(json.dumps(study).encode())
    return bodies


def stored(url: str) -> list[tuple[Any, ...]]:
    """The findings that hold (those that stopped holding stay stored, resolved)."""
    engine = open_engine(url)
    try:
        with transaction(engine) as session:
            rows = session.exec(
                select(Finding)
                .where(col(Finding.resolved_at).is_(None))
                .order_by(col(Finding.kind), col(Finding.key))
            )
            return [(f.kind, f.key, f.since, f.text, tuple(f.registry_dates)) for f in rows]
    finally:
        engine.dispose()


def import_in_order(tmp_path: Path, name: str, order: list[int]) -> str:
    url = f"sqlite:///{tmp_path / name}.db"
    runner = CliRunner()
    bodies = sequence_bodies()
    for number in order:
        path = tmp_path / f"{name}_{number}.json"
        path.write_bytes(bodies[number])
        result = runner.invoke(cli, ["--db", url, "import", str(path)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return url


EXPECTED = [
    ("enrollment_change", "", "2022-01-03"),
    ("outcome_switch", "2023-01-02/", "2023-01-02"),
    ("repeated_slips", "", "2024-01-08"),
    ("stale_status", "open/2025-09-15", "2026-09-16"),
]


def test_the_same_history_in_any_order_gives_the_same_findings_and_reparse_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    forward = import_in_order(tmp_path, "forward", [0, 1, 2, 3])
    found = stored(forward)
    assert [(k, key, since) for k, key, since, *_ in found] == EXPECTED
    for name, order in (("backward", [3, 2, 1, 0]), ("middle", [2, 0, 3, 1])):
        assert stored(import_in_order(tmp_path, name, order)) == found, name
    audit = CliRunner().invoke(cli, ["--db", forward, "audit", "--json"])
    assert audit.exit_code == 0, audit.output
    computed = json.loads(audit.stdout)
    assert [(f["kind"], f["since"], f["text"]) for f in computed] == [
        (k, since, text)
        for k, _key, since, text, *_ in sorted(found, key=lambda f: (f[2], f[0], f[1]))
    ]
    # reparse on an up-to-date database: every finding row as it was, ids and times included
    engine = open_engine(forward)
    with transaction(engine) as session:
        before = [f.model_dump() for f in session.exec(select(Finding).order_by(col(Finding.id)))]
    result = CliRunner().invoke(cli, ["--db", forward, "reparse"])
    assert result.exit_code == 0, result.output
    with transaction(engine) as session:
        after = [f.model_dump() for f in session.exec(select(Finding).order_by(col(Finding.id)))]
    engine.dispose()
    assert after == before and len(before) >= len(EXPECTED)
    # check --deep recomputes them: clean, then a stored line that the versions do not show
    assert CliRunner().invoke(cli, ["--db", forward, "check", "--deep"]).exit_code == 0
    engine = open_engine(forward)
    with engine.begin() as conn:
        conn.execute(text("UPDATE finding SET text = 'edited' WHERE kind = 'repeated_slips'"))
    engine.dispose()
    checked = CliRunner().invoke(cli, ["--db", forward, "check", "--deep"])
    assert checked.exit_code == 1
    codes = [line.split()[1] for line in checked.stdout.splitlines()]
    assert codes == ["deep-finding-missing", "deep-finding-extra"]


# -- backfill, live versions and time ------------------------------------------------------


def _actt(version: int, day: str, edits: list[Edit]) -> bytes:
    data = json.loads(fixture_file(f"ctgov_history_{ACTT}_v0.json").read_bytes())
    ps = data["study"]["protocolSection"]
    for edit in edits:
        edit(ps)
    if version:
        _dated(ps, day)
        data["studyVersion"] = version
    return json.dumps(data).encode()


def _recruiting(ps: dict[str, Any]) -> None:
    ps["statusModule"]["overallStatus"] = "RECRUITING"
    ps["statusModule"]["startDateStruct"] = {"date": "2020-02-21", "type": "ACTUAL"}


# ACTT-1's history as backfill fetches it: v1 recruiting from 2020-02-21 (actual), v2 a new
# primary outcome during recruitment.
ACTT_HISTORY = [
    (0, "2020-02-21", []),
    (1, "2020-02-26", [_recruiting]),
    (2, "2020-04-17", [_recruiting, _outcome("Time to recovery")]),
]


@pytest.fixture
def pipeline(db_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    engine = open_engine(db_url)
    yield Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
    engine.dispose()


def _watch(pipeline: Pipeline, nct: str, finding: str) -> None:
    with transaction(pipeline.engine) as session:
        add_watch(
            session,
            email="site@example.org",
            notify=[Target("email", "site2@example.org", "site2@example.org")],
            created_at=datetime(2020, 1, 1, tzinfo=UTC),
            nct_ids=[nct],
            findings=[finding],
        )


def _deliveries(pipeline: Pipeline) -> list[tuple[str, str]]:
    with transaction(pipeline.engine) as session:
        rows = session.exec(
            select(Finding.kind, Finding.since)
            .join(Delivery, col(Delivery.finding_id) == Finding.id)
            .order_by(col(Delivery.id))
        )
        return [(k, s) for k, s in rows]


def test_backfilled_findings_are_never_news_and_a_new_version_s_finding_is(
    pipeline: Pipeline, db_url: str
) -> None:
    _watch(pipeline, ACTT, "outcome_switch")
    fetched = datetime(2026, 12, 1, tzinfo=UTC)
    payloads = [
        HistoryPayload(v, day, _actt(v, day, edits), f"https://example.org/{v}", fetched)
        for v, day, edits in ACTT_HISTORY
    ]
    pipeline.ingest_history(ACTT, payloads, tally=Tally())
    with transaction(pipeline.engine) as session:
        [switch] = session.exec(select(Finding).where(Finding.kind == "outcome_switch")).all()
        assert (switch.since, switch.news, switch.announced_at) == ("2020-04-17", False, None)
    assert _deliveries(pipeline) == []
    # the registry's next version, fetched live, changes the primary outcome again
    live = json.loads(_actt(3, "2020-05-20", [_recruiting, _outcome("Mortality at day 29")]))
    tally = Tally()
    pipeline.ingest_body(
        json.dumps(live["study"]).encode(),
        name="live",
        observed_at=datetime(2026, 12, 2, tzinfo=UTC),
        tally=tally,
    )
    # one delivery per channel, for the new finding only, and the message says it in a line
    assert _deliveries(pipeline) == [("outcome_switch", "2020-05-20")] * 2
    preview = CliRunner().invoke(cli, ["--db", db_url, "alerts", "preview", "1"])
    assert preview.exit_code == 0, preview.output
    assert f"{ACTT}: integrity finding: primary outcome changed after the start" in preview.stdout
    assert (
        '[major] finding outcome_switch: primary outcome changed on 2020-05-20 during '
        'recruitment (started 2020-02-21 (actual)): added "Mortality at day 29"; removed '
        '"Time to recovery" [major]'
    ) in preview.stdout
    assert announce_due(pipeline.engine, now=datetime(2026, 12, 3, tzinfo=UTC)) == 0


def test_a_finding_that_time_brings_about_is_announced_once_when_it_comes(
    pipeline: Pipeline,
) -> None:
    _watch(pipeline, RECRUITING, "stale_status")
    body = fixture_file(f"ctgov_v2_{RECRUITING}.json").read_bytes()
    # stored in June 2026: its status will be stale from 2026-12-16 (primary completion
    # 2025-12-15, estimated, plus 365 days)
    pipeline.ingest_body(
        body, name="first", observed_at=datetime(2026, 6, 1, tzinfo=UTC), tally=Tally()
    )
    with transaction(pipeline.engine) as session:
        [stale] = session.exec(select(Finding)).all()
        assert (stale.kind, stale.since, stale.news) == ("stale_status", "2026-12-16", True)
    assert announce_due(pipeline.engine, now=datetime(2026, 12, 15, 23, tzinfo=UTC)) == 0
    assert announce_due(pipeline.engine, now=datetime(2026, 12, 16, 8, tzinfo=UTC)) == 2
    assert announce_due(pipeline.engine, now=datetime(2026, 12, 17, tzinfo=UTC)) == 0
    assert _deliveries(pipeline) == [("stale_status", "2026-12-16")] * 2
