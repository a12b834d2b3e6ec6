"""A database for the analyst tests: several trials, several versions each, from real fixtures.

- NCT04280705's registry record history (version 0 recorded; versions 1 to 5 built from it by
  the stated plan in ``trialwatch/demo/data/history_plan.json``), imported as history payloads:
  status NOT_YET_RECRUITING → RECRUITING → ACTIVE_NOT_RECRUITING, enrollment raised, a
  criterion reworded, primary completion moved.
- The demo's two rounds (``trialwatch/demo/data/edits.json``): NCT04267848's real older and
  later records, and the stated edits of NCT06171568 (started recruiting, primary completion
  moved 2025-02-01 → 2025-09-01) and NCT03934567 (completed, a criterion reworded), seen on
  ``ROUND_1`` and ``ROUND_2``.
- Every real API v2 study under ``tests/fixtures/ctgov`` once, seen on ``ROUND_1``.
- Real classic XML downloads of the same trial on two dates (NCT00002475, NCT00513591).

Nothing here is fetched: every payload goes through ``Pipeline.ingest_body``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, postgres_database
from trialwatch.demo import build_rounds
from trialwatch.demo.history import HISTORY_TRIAL, history_versions
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine
from trialwatch.snapshots import SnapshotStore

ROUND_1 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ROUND_2 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
HISTORY_SEEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CLASSIC_PAIRS = {
    "NCT00002475": (
        ("NCT00002475_2016-05-11", datetime(2016, 5, 11, 12, 0, tzinfo=UTC)),
        ("NCT00002475_2017-01-18", datetime(2017, 1, 18, 12, 0, tzinfo=UTC)),
    ),
    "NCT00513591": (
        ("NCT00513591_redownloaded", datetime(2016, 6, 29, 12, 0, tzinfo=UTC)),
        ("NCT00513591", datetime(2018, 5, 11, 12, 0, tzinfo=UTC)),
    ),
}
SLIPPED = "NCT06171568"  # primary completion 2025-02-01 → 2025-09-01 (212 days)


def build(url: str, root: Path) -> Tally:
    """Fill the database at ``url`` (raw payloads under ``root``); return what was stored."""
    engine = open_engine(url)
    lines: list[str] = []
    pipeline = Pipeline(engine, SnapshotStore(root / "snapshots"), report=lines.append)
    tally = Tally()
    try:
        with pipeline.batch(tally) as batch:
            for path in sorted((FIXTURES / "ctgov").glob("*/*.json")):
                if path.name.startswith(("ctgov_v2_NCT", "ctgov_v2_studies")):
                    batch.add(path.read_bytes(), name=path.name, observed_at=ROUND_1)
        first, second, _ = build_rounds(root / "rounds")
        for folder, seen in ((first, ROUND_1), (second, ROUND_2)):
            for path in sorted(folder.glob("NCT*.json")):
                pipeline.ingest_body(
                    path.read_bytes(), name=path.name, observed_at=seen, tally=tally
                )
        for version in history_versions():
            pipeline.ingest_body(
                version.body,
                name=f"history_{HISTORY_TRIAL}_v{version.version}.json",
                observed_at=HISTORY_SEEN,
                tally=tally,
            )
        for pairs in CLASSIC_PAIRS.values():
            for folder, seen in pairs:
                [path] = sorted((FIXTURES / "ctgov_classic" / folder).glob("*.xml"))
                pipeline.ingest_body(
                    path.read_bytes(), name=path.name, observed_at=seen, tally=tally
                )
    finally:
        engine.dispose()
    return tally


@pytest.fixture(scope="session")
def analyst_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite analyst database, built once per session (copy it; never write to it)."""
    root = tmp_path_factory.mktemp("analyst")
    build(f"sqlite:///{root / 'trialwatch.db'}", root / "trialwatch-data")
    return root


@pytest.fixture(params=["sqlite", "postgresql"])
def analyst_url(
    request: pytest.FixtureRequest, tmp_path: Path, analyst_template: Path
) -> Iterator[str]:
    """The analyst database, a private copy: SQLite, and PostgreSQL where a server answers."""
    with _copy(request, analyst_template, tmp_path) as url:
        yield url


@contextmanager
def _copy(request: pytest.FixtureRequest, template: Path, root: Path) -> Iterator[str]:
    """A copy of the analyst database of the kind ``request.param`` names, for as long as
    the block runs: the SQLite one's folder copied under ``root``; for PostgreSQL, a copy of
    the worker's one build (CREATE DATABASE ... TEMPLATE copies its files)."""
    if request.param == "sqlite":
        shutil.copytree(template, root / "analyst")
        yield f"sqlite:///{root / 'analyst' / 'trialwatch.db'}"
        return
    with postgres_database(request, request.getfixturevalue("analyst_pg_template")) as url:
        yield url


@pytest.fixture(scope="session")
def analyst_pg_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The PostgreSQL analyst database, built once per test process (copy it; never write to
    it, never keep a connection to it open)."""
    with postgres_database(request) as url:
        build(url, tmp_path_factory.mktemp("analyst-pg") / "trialwatch-data")
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def analyst_shared_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    analyst_template: Path,
) -> Iterator[str]:
    """The analyst database, one copy for a whole test module: for tests that only read it."""
    with _copy(request, analyst_template, tmp_path_factory.mktemp("analyst-shared")) as url:
        yield url
