"""`trialwatch import` on folders of mutated real payloads plus one good file (Hypothesis):
whatever the mutations did, the command ends without a traceback, stores the good file, and
sets aside each payload it could not read with one line naming it and one parse_failure row.
On SQLite and PostgreSQL (PostgreSQL text refuses what SQLite would keep)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_input import GOOD, Env
from tests.conftest import fixture_file
from tests.parsers.test_fuzz import Payload, byte_mutations, json_mutations, xml_mutations
from tests.reliability import Recorder

MUTATED = st.lists(
    st.one_of(byte_mutations(), json_mutations(), xml_mutations()), min_size=1, max_size=5
)
REJECTED = re.compile(r", (\d+) rejected$")


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Env]:
    made = Env(db_url, tmp_path / "data")
    yield made
    made.engine.dispose()


@pytest.mark.reliability
def test_import_of_a_folder_of_mutated_payloads(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    good = fixture_file(f"ctgov_v2_{GOOD}.json").read_bytes()
    seen = {"imports": 0, "files": 0, "set_aside": 0}

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(cases=MUTATED)
    def run(cases: list[tuple[Payload, bytes]]) -> None:
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        names = {str(folder / "z_good.json")}
        for number, (payload, body) in enumerate(cases):
            path = folder / f"{number}_{payload.path.name}"
            path.write_bytes(body)
            names.add(str(path))
        (folder / "z_good.json").write_bytes(good)
        before = len(env.failures())

        result = env.run("import", str(folder))

        summary = result.stderr.splitlines()[-1]
        found = REJECTED.search(summary)
        assert found, result.stderr
        rejected = int(found.group(1))
        assert result.exit_code == (1 if rejected else 0), result.output
        lines = [line for line in result.stderr.splitlines() if line.startswith(str(folder))]
        assert len(lines) == rejected  # one line per payload set aside (or study of a page)
        assert all(
            line.split(": ", 1)[0] in names - {str(folder / "z_good.json")} for line in lines
        )
        assert len(env.failures()) - before == rejected
        assert env.versions(GOOD)
        seen["imports"] += 1
        seen["files"] += len(cases) + 1
        seen["set_aside"] += rejected

    run()
    assert seen["set_aside"] > 0
    reliability.tried(
        "input",
        "import of folders of real payloads mutated at random (bytes, JSON values, XML text), "
        "each with one good file",
        seen["files"],
        "each unreadable payload set aside with one line and a parse_failure row; the good "
        "file stored every time; no traceback",
    )
