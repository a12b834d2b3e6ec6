"""Bad input through `crawl`, `backfill` and `reparse`: a loopback server answers with real
payloads made bad (tests/bad_input.py), or stored payloads are damaged; each bad one is set
aside or reported in one line, the rest is stored; never a traceback. SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from tests.bad_input import BAD, BAD_FILES, GOOD, Env, count_as, line_about, title_with
from tests.conftest import fixture_file
from tests.reliability import Recorder
from trialwatch.demo.history import build_history_replay
from trialwatch.demo.replay import ReplayServer
from trialwatch.registry.db import transaction
from trialwatch.registry.models import CrawlRun


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Env]:
    made = Env(db_url, tmp_path / "data")
    yield made
    made.engine.dispose()


def _replay(folder: Path, bodies: dict[str, bytes]) -> Path:
    folder.mkdir()
    routes = []
    for number, (nct, body) in enumerate(bodies.items()):
        (folder / f"body{number}").write_bytes(body)
        routes.append(
            {
                "path": f"/api/v2/studies/{nct}",
                "responses": [{"status": 200, "body": f"body{number}"}],
            }
        )
    (folder / "routes.json").write_text(json.dumps({"routes": routes}))
    return folder


@pytest.mark.reliability
def test_crawl_sets_aside_bad_responses_and_stores_the_rest(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    bad = {
        "NCT00000001": count_as("9" * 5000),
        "NCT00000002": count_as("NaN"),
        "NCT00000003": title_with("\\ud800"),
        "NCT00000004": title_with("\\u0000"),
        "NCT00000005": BAD_FILES["j_only_identification.json"][0],
        "NCT00000006": count_as("1.5"),
    }
    folder = _replay(
        tmp_path / "replay", {**bad, GOOD: fixture_file(f"ctgov_v2_{GOOD}.json").read_bytes()}
    )
    ids = [a for nct in [*bad, GOOD] for a in ("--nct", nct)]
    with ReplayServer(folder) as server:
        base = server.base_url
        result = env.run("crawl", "ctgov", "--base-url", base, "--delay", "0", *ids)

    assert result.exit_code == 1, result.output
    for nct in bad:
        line_about(result.stderr, f"{base}/api/v2/studies/{nct}")
    assert f"{len(bad)} page(s) or record(s) set aside" in result.stderr
    assert len(env.versions(GOOD)) == 1 and env.versions(BAD) == []
    failures = env.failures()
    assert sorted(f.url or "" for f in failures) == [f"{base}/api/v2/studies/{nct}" for nct in bad]
    with transaction(env.engine) as session:
        [run] = session.exec(select(CrawlRun)).all()
    assert (run.status, run.rejected, run.new_versions) == ("partial", len(bad), 1)
    reliability.tried(
        "crawl",
        "registry answers with a 5000-digit number, NaN, a lone surrogate, NUL, only the "
        "identification module, a count of 1.5; then a good one",
        len(bad),
        "each set aside with its URL and reason, the run partial; the good record stored",
    )


@pytest.mark.reliability
def test_backfill_sets_aside_a_bad_version_and_stores_the_others(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    nct = "NCT04280705"
    folder = build_history_replay(tmp_path / "replay", nct_ids=[nct])
    v2 = folder / f"history_{nct}_v2.json"
    v2.write_bytes(re.sub(rb'"count": [0-9]+', b'"count": NaN', v2.read_bytes(), count=1))
    v3 = folder / f"history_{nct}_v3.json"
    data = json.loads(v3.read_bytes())
    del data["study"]["protocolSection"]["statusModule"]
    v3.write_text(json.dumps(data))

    with ReplayServer(folder) as server:
        result = env.run("backfill", nct, "--base-url", server.base_url, "--delay", "0")

    assert result.exit_code == 1, result.output
    assert "NaN is not a number JSON allows" in line_about(result.stderr, f"{nct} v2")
    assert "statusModule.overallStatus missing" in line_about(result.stderr, f"{nct} v3")
    rows = json.loads(env.run("history", nct, "--json").stdout)
    assert [r["registry_versions"] for r in rows] == [[0], [1], [4], [5]]
    assert len(env.failures()) == 2
    reliability.tried(
        "crawl",
        "backfill where one history version holds NaN and another lost its status module",
        2,
        "both set aside with their reasons; the other four versions stored in order",
    )


@pytest.mark.reliability
def test_reparse_of_damaged_stored_payloads_reports_each_and_goes_on(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    names = {
        "NCT03934567": "ctgov_v2_NCT03934567.json",
        "NCT04207047": "ctgov_v2_NCT04207047.json",
        "NCT06171568": "ctgov_v2_NCT06171568.json",
        "NCT00184067": "ctgov_v2_NCT00184067.json",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(fixture_file(name).read_bytes())
    assert env.run("import", *(str(tmp_path / n) for n in names.values())).exit_code == 0
    stored = {n: next(env.data.rglob(f"{env.versions(n)[0].snapshot}.zst")) for n in names}
    stored["NCT03934567"].write_bytes(b"not gzip at all")
    whole = gzip.compress(fixture_file(names["NCT04207047"]).read_bytes())
    stored["NCT04207047"].write_bytes(whole[: len(whole) // 2])
    stored["NCT06171568"].write_bytes(gzip.compress(count_as("NaN")))

    result = env.run("reparse")

    assert result.exit_code == 1, result.output
    assert "3 problem(s)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if "is damaged (" in line]
    assert len(lines) == 3, result.stderr
    assert sum("its bytes no longer match" in line for line in lines) == 1
    assert all(len(env.versions(n)) == 1 for n in names)
    assert "4 trial(s), 1 version(s) re-read" in result.stderr
    reliability.tried(
        "input",
        "reparse with stored payloads not gzip, cut short, and swapped for other bytes",
        3,
        "each reported in one line, its version kept; the sound one re-read",
    )
