"""`reparse` of more versions than a batch parses in the process: their payloads are parsed
in worker processes, a chunk ahead, and read the same as in the process."""

from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.ingest.parse_pool import MIN_JOBS


@pytest.fixture
def run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    return invoke


def _clones(tmp_path, count: int):
    """`count` real studies, each under its own NCT id (as the benchmark clones them)."""
    found = [orjson.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("ctgov/*/ctgov_v2_*.json"))]
    bodies = [b for b in found if "statusModule" in b.get("protocolSection", {})]
    folder = tmp_path / "studies"
    folder.mkdir()
    for i in range(count):
        study = bodies[i % len(bodies)]
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT9{i:07d}"
        (folder / f"NCT9{i:07d}.json").write_bytes(orjson.dumps(study))
    return folder


def test_reparse_in_workers_reads_every_version_as_before(run, tmp_path):
    count = MIN_JOBS + 6
    assert (
        run("import", str(_clones(tmp_path, count)), "--observed-at", "2026-01-01").exit_code == 0
    )
    first = run("reparse", "--json")
    assert first.exit_code == 0, first.output
    said = json.loads(first.stdout)
    assert said["versions_reread"] == count
    assert said["versions_moved"] == 0 and said["problems"] == 0
    # A damaged payload is said in one line; the others are read as before.
    damaged = next((tmp_path / "data" / "snapshots").rglob("*.zst"))
    damaged.write_bytes(b"not a payload")
    again = run("reparse", "--json")
    said = json.loads(again.stdout)
    assert said["versions_reread"] == count - 1
    assert said["problems"] == 1 and said["versions_moved"] == 0
    assert damaged.stem in said["problem_lines"][0]
