"""The batched ingest engine through ``trialwatch import``, on real API v2 studies (origins
in tests/fixtures/SOURCES.md): the store and the database grow with changes, not with
fetches; an unchanged study is not parsed again; a page and its studies' files are one
content; a study the fast path cannot read the way the strict reader does takes the strict
path."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.ingest.study_bytes import raw_hash
from trialwatch.parsers.json_strict import strict_only

STUDY = FIXTURES / "ctgov" / "NCT04267848" / "ctgov_v2_NCT04267848.json"
OTHERS = [FIXTURES / "ctgov" / n / f"ctgov_v2_{n}.json" for n in ("NCT03934567", "NCT04431453")]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    return invoke


def _stored(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "data" / "snapshots").rglob("*.zst")}


def _day(data: dict[str, Any], holder: str, *, status: str | None = None) -> dict[str, Any]:
    later = copy.deepcopy(data)
    later["derivedSection"]["miscInfoModule"]["versionHolder"] = holder
    if status is not None:
        module = later["protocolSection"]["statusModule"]
        module["overallStatus"] = status
        module["lastUpdatePostDateStruct"] = {"date": holder, "type": "ACTUAL"}
    return later


def _write(folder: Path, studies: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    for study in studies:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        (folder / f"{nct}.json").write_text(json.dumps(study, indent=1), encoding="utf-8")
    return folder


def _versions(db_url: str) -> list[tuple[str, str | None, str]]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT nct_id, raw_hash, CAST(last_seen_at AS TEXT) FROM trial_version "
                "ORDER BY nct_id, id"
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_daily_snapshots_keep_bytes_only_for_changes(run, tmp_path: Path, db_url: str) -> None:
    studies = [json.loads(p.read_bytes()) for p in [STUDY, *OTHERS]]
    day1 = _write(tmp_path / "d1", [_day(s, "2026-11-01") for s in studies])
    day2 = _write(tmp_path / "d2", [_day(s, "2026-11-02") for s in studies])
    changed = [_day(studies[0], "2026-11-03", status="SUSPENDED")]
    day3 = _write(tmp_path / "d3", changed + [_day(s, "2026-11-03") for s in studies[1:]])

    first = run("import", str(day1), "--observed-at", "2026-11-01")
    assert first.exit_code == 0, first.output
    kept = _stored(tmp_path)
    assert len(kept) == 3  # one payload per version
    before = _versions(db_url)

    second = run("import", str(day2), "--observed-at", "2026-11-02")
    assert second.exit_code == 0, second.output
    assert "3 unchanged" in second.output
    assert _stored(tmp_path) == kept  # only the versionHolder moved: no new bytes
    after = _versions(db_url)
    assert [(n, h) for n, h, _ in after] == [(n, h) for n, h, _ in before]
    assert all("2026-11-02" in seen for _n, _h, seen in after)  # seen again, batched

    third = run("import", str(day3), "--observed-at", "2026-11-03")
    assert third.exit_code == 0, third.output
    assert "1 changed" in third.output and "2 unchanged" in third.output
    assert len(_stored(tmp_path)) == 4  # the one new version's bytes
    changes = json.loads(run("changes", "--json").stdout)
    assert [(c["nct_id"], c["kind"]) for c in changes] == [("NCT04267848", "status")]


def test_a_page_and_its_study_files_are_one_content(run, tmp_path: Path) -> None:
    studies = [json.loads(p.read_bytes()) for p in [STUDY, *OTHERS]]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": studies, "nextPageToken": None}), encoding="utf-8")
    files = _write(tmp_path / "files", [_day(s, "2026-11-02") for s in studies])

    assert run("import", str(page), "--observed-at", "2026-11-01").exit_code == 0
    again = run("import", str(files), "--observed-at", "2026-11-02")
    assert again.exit_code == 0, again.output
    assert "3 unchanged" in again.output and "0 change(s)" in again.output


def test_a_bad_study_in_a_page_is_set_aside_and_the_rest_stored(run, tmp_path: Path) -> None:
    good = json.loads(STUDY.read_bytes())
    broken = copy.deepcopy(good)
    broken["protocolSection"]["identificationModule"]["nctId"] = "NCT1234"
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": [broken, good, 7]}), encoding="utf-8")

    result = run("import", str(page), "--observed-at", "2026-11-01")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "studies[" in line]
    assert len(lines) == 2 and "studies[0]" in lines[0] and "studies[2]" in lines[1]
    assert "1 new trial version(s)" in result.output


def test_what_orjson_reads_otherwise_takes_the_strict_path(run, tmp_path: Path) -> None:
    assert strict_only(b'{"n": 123456789012345678901}')
    assert strict_only(b'{"t": "a\\u0000b"}') and strict_only(b'{"t": "\\udc00"}')
    assert not strict_only(b'{"n": 1234567890123456789, "t": "caf\\u00e9"}')
    data = json.loads(STUDY.read_bytes())
    data["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 10**25
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": [data]}), encoding="utf-8")

    result = run("import", str(page), "--observed-at", "2026-11-01")

    assert result.exit_code == 1
    assert "a number of 26 digits" in result.output  # the strict reader's own words


def test_the_raw_hash_leaves_out_only_the_version_holder() -> None:
    body = STUDY.read_bytes()
    moved = body.replace(b'"versionHolder":"2025-09-11"', b'"versionHolder":"2026-01-01"')
    assert moved != body and raw_hash(moved) == raw_hash(body)
    edited = body.replace(b'"overallStatus":"RECRUITING"', b'"overallStatus":"COMPLETED"', 1)
    assert raw_hash(edited) != raw_hash(body)


# Ids differ by order only; the raw hash is a lookup key the one-payload path does not set.
_IDS = ("id", "trial_id", "from_version_id", "to_version_id", "raw_hash")


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows as the ORM reads them (ids left out: they differ by order only)."""
    from sqlmodel import Session, select

    from trialwatch.registry.models import Change, Trial, TrialIdentifier, TrialVersion

    engine = create_engine(url)
    found: dict[str, list[dict[str, Any]]] = {}
    with Session(engine) as session:
        for model in (Trial, TrialVersion, TrialIdentifier, Change):
            rows = [
                {k: v for k, v in row.model_dump().items() if k not in _IDS}
                for row in session.exec(select(model)).all()
            ]
            found[model.__name__] = sorted(rows, key=lambda r: json.dumps(r, default=str))
    engine.dispose()
    return found


def test_first_versions_in_bulk_are_the_rows_one_at_a_time_would_be(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialwatch.ingest.pipeline import Pipeline, Tally
    from trialwatch.registry.db import open_engine
    from trialwatch.snapshots import SnapshotStore

    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    paths = sorted((FIXTURES / "ctgov").glob("*/ctgov_v2_NCT*.json"))
    when = datetime(2026, 11, 1, 6, tzinfo=UTC)
    bulk = CliRunner().invoke(
        cli, ["--db", db_url, "import", *map(str, paths), "--observed-at", when.isoformat()]
    )
    assert "new trial version(s)" in bulk.output

    # The same payloads, each through ingest_record in its own transaction.
    other = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    engine = open_engine(other)
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "data" / "snapshots"))
    tally = Tally()
    for path in paths:
        body = path.read_bytes()
        pipeline.ingest_one_payload(body, name=path.name, observed_at=when, tally=tally)
    engine.dispose()

    expected, found = _rows(other), _rows(db_url)
    assert len(found["Trial"]) > 10 and found["Change"]  # a variant of one study changes it
    for table in expected:
        assert found[table] == expected[table], table


def test_studies_parsed_in_worker_processes_are_parsed_as_in_the_process() -> None:
    from trialwatch.ingest.parse_pool import MIN_JOBS, ParsePool, parse_study

    bodies = [p.read_bytes() for p in sorted((FIXTURES / "ctgov").glob("*/ctgov_v2_NCT*.json"))]
    # As a record and hash, and (a trial not held yet) as its first version's rows.
    jobs = [(body, None, None, first, None) for body in bodies for first in (False, True)]
    jobs *= MIN_JOBS // len(jobs) + 1
    jobs.append((b'{"protocolSection": {}}', None, None, True, None))  # refused, with its reason
    pool = ParsePool(workers=2)
    try:
        found = pool.parse(jobs)
        assert pool._pool is not None, "the batch was large enough for worker processes"
    finally:
        pool.close()
    assert found == [parse_study(job) for job in jobs]
    assert isinstance(found[-1], str)
    assert {type(f).__name__ for f in found} == {"tuple", "FirstVersion", "str"}
