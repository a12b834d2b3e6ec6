"""Several importers at once on one database end where one importer alone would: no duplicate
version, change or alert, none lost, and no traceback (SQLite and PostgreSQL). A batch that
fails mid-way leaves nothing of it behind, and the rest of the import goes on."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from tests.kill_points import Target, run_to_end


def _whole(path: Path) -> bool:
    status = json.loads(path.read_bytes())["protocolSection"].get("statusModule", {})
    return "overallStatus" in status and "variant" not in path.name


# Real API v2 studies (origins in tests/fixtures/SOURCES.md), one file each: the whole ones.
STUDIES = sorted(p for p in (FIXTURES / "ctgov").glob("*/ctgov_v2_NCT*.json") if _whole(p))
WATCHED = STUDIES[0].name.removeprefix("ctgov_v2_").removesuffix(".json")  # its status moves


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _next_day(study: dict[str, Any], index: int) -> dict[str, Any]:
    """The study a day later: its versionHolder moves; every third one also really changes
    (a status move or a slipped completion date), with a new update date."""
    later = copy.deepcopy(study)
    later.setdefault("derivedSection", {}).setdefault("miscInfoModule", {})["versionHolder"] = (
        "2026-11-02"
    )
    status = later["protocolSection"]["statusModule"]
    if index % 3 == 0:
        status["overallStatus"] = (
            "SUSPENDED" if status.get("overallStatus") != "SUSPENDED" else "RECRUITING"
        )
        status["lastUpdatePostDateStruct"] = {"date": "2026-11-01", "type": "ACTUAL"}
    elif index % 3 == 1:
        status["completionDateStruct"] = {"date": "2031-06-30", "type": "ESTIMATED"}
        status["lastUpdatePostDateStruct"] = {"date": "2026-11-01", "type": "ACTUAL"}
    return later


def _inputs(root: Path, parts: int) -> tuple[list[Path], list[Path]]:
    """Day one and day two, each as ``parts`` overlapping folders (every study in two of
    them), with one search page among the files."""
    studies = [_load(p) for p in STUDIES]
    days = [studies, [_next_day(s, i) for i, s in enumerate(studies)]]
    folders: list[list[Path]] = []
    for day, content in enumerate(days):
        mine = []
        for part in range(parts):
            folder = root / f"day{day}-part{part}"
            folder.mkdir(parents=True)
            chosen = [s for i, s in enumerate(content) if i % parts in (part, (part + 1) % parts)]
            page, single = chosen[:3], chosen[3:]
            (folder / "page.json").write_text(json.dumps({"studies": page}), encoding="utf-8")
            for study in single:
                nct = study["protocolSection"]["identificationModule"]["nctId"]
                (folder / f"{nct}.json").write_text(json.dumps(study), encoding="utf-8")
            mine.append(folder)
        folders.append(mine)
    return folders[0], folders[1]


def _state(url: str) -> dict[str, list[Any]]:
    """What the database says, without ids or times a second run could not repeat."""
    queries = {
        "trials": "SELECT nct_id, record_source FROM trial ORDER BY nct_id",
        "versions": "SELECT nct_id, source, record_hash, registry_date, first_seen_at, "
        "last_seen_at FROM trial_version ORDER BY nct_id, registry_date, record_hash",
        "changes": "SELECT c.nct_id, c.kind, c.grade, a.record_hash, b.record_hash "
        "FROM change c JOIN trial_version a ON a.id = c.from_version_id "
        "JOIN trial_version b ON b.id = c.to_version_id ORDER BY 1, 2, 4, 5",
        "alerts": "SELECT d.change_id IS NOT NULL, c.nct_id, c.kind FROM delivery d "
        "JOIN change c ON c.id = d.change_id ORDER BY 2, 3",
        "failures": "SELECT reason FROM parse_failure ORDER BY reason",
    }
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [tuple(str(v) for v in row) for row in conn.execute(text(sql))]
                for name, sql in queries.items()
            }
    finally:
        engine.dispose()


def _import_all(target: Target, folders: list[Path], when: str) -> list[str]:
    """One ``trialwatch import`` per folder, all at once, with small batches so that they
    interleave; their stderr."""
    procs = [
        subprocess.Popen(
            target.argv("import", "--batch-size", "4", str(f), "--observed-at", when),
            env=target.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    said = []
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        said.append(err)
    return said


def _prepare(target: Target) -> None:
    done = run_to_end(target, "watch", "add", "--email", "a@example.org", "--nct", WATCHED)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("importers", [2, 4])
def test_concurrent_importers_end_as_one_sequential_import(
    db_url: str, tmp_path: Path, importers: int
) -> None:
    day1, day2 = _inputs(tmp_path / "inputs", importers)

    # One importer, one folder after another.
    alone_url = db_url
    alone = Target(alone_url, tmp_path / "alone-data")
    _prepare(alone)
    for day, folders in (("2026-11-01T06:00:00", day1), ("2026-11-02T06:00:00", day2)):
        done = run_to_end(alone, "import", *map(str, folders), "--observed-at", day)
        assert done.returncode == 0, done.stderr
    expected = _state(alone_url)

    # The same folders, all importers at once, on a second database of the same kind.
    if db_url.startswith("sqlite"):
        together_url = f"sqlite:///{tmp_path / 'together.db'}"
    else:
        together_url = _second_postgres(db_url)
    together = Target(together_url, tmp_path / "together-data")
    _prepare(together)
    for said in _import_all(together, day1, "2026-11-01T06:00:00"):
        assert "Traceback" not in said
    for said in _import_all(together, day2, "2026-11-02T06:00:00"):
        assert "Traceback" not in said
    found = _state(together_url)

    assert found == expected
    assert len(found["trials"]) == len(STUDIES)
    changed = sum(1 for i in range(len(STUDIES)) if i % 3 in (0, 1))
    assert len({(nct, kind) for nct, kind, *_ in found["changes"]}) == changed
    assert found["alerts"], "the watched trial's change queued an alert"
    if not together_url.startswith("sqlite"):
        _drop_postgres(together_url)


def _second_postgres(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_b"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def _refuse_one_trial(url: str, nct: str) -> None:
    """A database that refuses to store one trial's version, as a full disk or a broken
    constraint would, mid-way through a batch."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON trial_version "
                    f"WHEN NEW.nct_id = '{nct}' BEGIN SELECT RAISE(ABORT, 'no room'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.nct_id = '{nct}' THEN RAISE EXCEPTION 'no room'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON trial_version "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_one()"
                )
            )
    engine.dispose()


def test_a_batch_that_fails_mid_way_leaves_nothing_of_it_and_the_rest_goes_on(
    db_url: str, tmp_path: Path
) -> None:
    target = Target(db_url, tmp_path / "data")
    _prepare(target)  # the schema exists
    victim = STUDIES[len(STUDIES) // 2]
    nct = victim.name.removeprefix("ctgov_v2_").removesuffix(".json")
    _refuse_one_trial(db_url, nct)
    folder = tmp_path / "in"
    folder.mkdir()
    for path in STUDIES:
        (folder / path.name).write_bytes(path.read_bytes())

    done = run_to_end(target, "import", str(folder), "--observed-at", "2026-11-01")

    assert done.returncode == 1, done.stderr  # one record was set aside
    assert "Traceback" not in done.stderr
    assert "rolled back" in done.stderr
    assert f"{victim.name}: the database refused it:" in done.stderr
    state = _state(db_url)
    held = {row[0] for row in state["trials"]}
    assert nct not in held  # no trial row left behind without its version
    assert held == {p.name.removeprefix("ctgov_v2_").removesuffix(".json") for p in STUDIES} - {nct}
    assert len(state["versions"]) == len(STUDIES) - 1
    assert [r for r in state["failures"] if "no room" in r[0]]
