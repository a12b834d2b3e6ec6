"""The raw payload store belongs to the database: beside a SQLite file, inside PostgreSQL
(written with the version that names it), whichever folder a command runs from; a folder
given by $TRIALWATCH_DATA_DIR overrides both; payloads kept in the old folder are moved in by
`trialwatch db upgrade`. Commands run as a user runs them (a process in a folder of its own,
no TRIALWATCH_ variable but those named)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from alembic import command as alembic_command
from sqlalchemy import text

from tests.conftest import FIXTURES
from tests.registry_server import command, run
from trialwatch.registry.db import alembic_config, head_revision, open_engine
from trialwatch.registry.locks import writing
from trialwatch.registry.rawstore import DatabaseStore, payload_store
from trialwatch.snapshots import SnapshotStore

STUDIES = ["NCT00184067", "NCT03934567", "NCT04267848"]


def payloads(folder: Path) -> Path:
    """Three real API v2 studies, and a file that is not a study (set aside, kept too)."""
    folder.mkdir(parents=True)
    for nct in STUDIES:
        shutil.copy(FIXTURES / "ctgov" / nct / f"ctgov_v2_{nct}.json", folder)
    (folder / "not_a_study.json").write_text('{"hello": "world"}')  # a test's own bad input
    return folder


def rows(db: str, sql: str) -> list[tuple[object, ...]]:
    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def named(db: str) -> set[str]:
    return {
        str(d)
        for (d,) in rows(
            db,
            "SELECT snapshot FROM trial_version UNION SELECT snapshot FROM parse_failure",
        )
    }


@pytest.fixture
def pg(request: pytest.FixtureRequest) -> str:
    from tests.conftest import postgres_database

    with postgres_database(request) as url:
        yield url


def test_postgresql_keeps_its_payloads_in_itself(pg: str, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    two.mkdir()
    status, err, _ = run(pg, tmp_path, "import", str(payloads(one / "in")))
    assert status == 1 and "not_a_study.json" in err  # the bad file set aside, the rest kept
    assert not (tmp_path / "trialwatch-data").exists() and not list(tmp_path.glob("*-data"))
    held = {str(d) for (d,) in rows(pg, "SELECT digest FROM raw_payload")}
    assert held == named(pg) and len(held) == 4
    for where in (one, two):  # any folder, any machine: the same store
        status, err, _ = run(pg, where, "check")
        assert status == 0, err
    status, err, _ = run(pg, two, "reparse")
    assert status == 0 and "3 version(s) re-read" in err, err


def test_a_payload_is_written_with_its_version_or_not_at_all(pg: str) -> None:
    engine = open_engine(pg)
    try:
        store = payload_store(engine)
        assert isinstance(store, DatabaseStore)
        body = (FIXTURES / "ctgov" / STUDIES[0] / f"ctgov_v2_{STUDIES[0]}.json").read_bytes()
        with pytest.raises(RuntimeError), writing(engine) as session:
            digest = store.put(body, session=session)
            assert store.get(digest, session=session) == body  # seen inside the transaction
            assert digest not in store  # and not outside it, before the commit
            raise RuntimeError("the version's transaction fails")
        assert digest not in store
        with writing(engine) as session:
            store.put(body, session=session)
        assert store.get(digest) == body and store.verify(digest) == (None, "")
    finally:
        engine.dispose()


def test_damaged_or_missing_payloads_in_the_database_are_named_by_check(
    pg: str, tmp_path: Path
) -> None:
    assert run(pg, tmp_path, "import", str(payloads(tmp_path / "in")))[0] == 1
    digests = sorted(named(pg))
    engine = open_engine(pg)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM raw_payload WHERE digest = :d"), {"d": digests[0]})
            conn.execute(
                text("UPDATE raw_payload SET body = :b WHERE digest = :d"),
                {"b": b"not gzip at all", "d": digests[1]},
            )
            conn.execute(
                text("UPDATE raw_payload SET body = :b WHERE digest = :d"),
                {"b": gzip.compress(b"{}"), "d": digests[2]},
            )
    finally:
        engine.dispose()
    done = command(pg, tmp_path, "check", "--json")
    assert done.returncode == 1, done.stderr
    assert {p["code"] for p in json.loads(done.stdout)["problems"]} == {
        "snapshot-missing",
        "snapshot-unreadable",
        "snapshot-mismatch",
    }


def test_db_upgrade_moves_the_old_folder_into_the_database(pg: str, tmp_path: Path) -> None:
    """Before revision 0010 a PostgreSQL database's payloads went to ./trialwatch-data under
    the folder a command ran from: made here as that code made it ($TRIALWATCH_DATA_DIR set
    to that folder, then the schema taken back to 0009)."""
    old, elsewhere = tmp_path / "old", tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = old / "trialwatch-data"
    status, err, _ = run(
        pg,
        tmp_path,
        "import",
        str(payloads(tmp_path / "in")),
        env={"TRIALWATCH_DATA_DIR": str(folder)},
    )
    assert status == 1, err
    assert len(list((folder / "snapshots").rglob("*.zst"))) == 4
    engine = open_engine(pg)
    try:
        cfg = alembic_config(pg)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            alembic_command.downgrade(cfg, "0009")
    finally:
        engine.dispose()
    # From another folder: upgraded, and told where the payloads are missing from.
    status, err, _ = run(pg, elsewhere, "db", "upgrade")
    assert status == 0, err
    assert f"upgraded from 0009 to {head_revision()}" in err
    assert "4 raw payload(s) the database names are not in it" in err
    status, err, _ = run(pg, elsewhere, "check")
    assert status == 1 and "check: 4 error(s)" in err
    # From the folder they were kept in: copied in, and then check passes anywhere.
    status, err, _ = run(pg, old, "db", "upgrade")
    assert status == 0, err
    assert "copied 4 raw payload(s) from trialwatch-data/snapshots into the database" in err
    for where in (old, elsewhere):
        status, err, _ = run(pg, where, "check")
        assert status == 0, err
    status, err, _ = run(pg, elsewhere, "reparse")
    assert status == 0 and "3 version(s) re-read" in err, err
    assert len(list((folder / "snapshots").rglob("*.zst"))) == 4  # the folder is left as it was
    again = run(pg, old, "db", "upgrade")[1]
    assert "already at" in again and "copied" not in again and "not in it" not in again


def test_a_data_dir_overrides_the_database_store(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "payloads"
    status, err, _ = run(
        db_url,
        tmp_path,
        "import",
        str(payloads(tmp_path / "in")),
        env={"TRIALWATCH_DATA_DIR": str(folder)},
    )
    assert status == 1, err
    assert len(list((folder / "snapshots").rglob("*.zst"))) == 4
    assert rows(db_url, "SELECT count(*) FROM raw_payload") == [(0,)]
    assert run(db_url, tmp_path, "check", env={"TRIALWATCH_DATA_DIR": str(folder)})[0] == 0


def test_a_sqlite_store_sits_beside_its_file_whatever_the_folder(tmp_path: Path) -> None:
    db = tmp_path / "data" / "my.db"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    status, err, _ = run(str(db), one, "import", str(payloads(tmp_path / "in")))
    assert status == 1, err
    store = SnapshotStore(tmp_path / "data" / "my-data" / "snapshots")
    assert all(d in store for d in named(f"sqlite:///{db}"))
    assert not list(one.iterdir())  # nothing in the folder it ran from
    relative = str(Path("..") / "data" / "my.db")
    status, err, _ = run(relative, two, "check")
    assert status == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ("show", "NCT04267848"),
        ("history", "NCT04267848"),
        ("changes",),
        ("stats",),
        ("export", "trials", "-o", "-"),
        ("check",),
        ("serve",),
        ("discrepancies",),
        ("runs",),
    ],
)
def test_a_read_command_refuses_a_database_that_is_not_there(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    missing = tmp_path / "typo" / "x.db"
    status, err, _ = run(str(missing), tmp_path, *args)
    assert status == 1
    assert err.splitlines() == [
        f"{missing}: no such database (a command that only reads never creates one; "
        "check --db or $TRIALWATCH_DATABASE_URL)"
    ]
    assert not (tmp_path / "typo").exists()
