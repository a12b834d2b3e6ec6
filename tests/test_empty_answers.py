"""Listings that find nothing say so in one line on stderr, naming what was asked, and keep
stdout for data: empty for the text format, valid JSON with --json; the exit status is 0.
Once the database holds something, the same commands list it and say no such line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import FIXTURES, fixture_file
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer

CRAWLED = "NCT03934567"
SITE_TRIAL = "NCT05828225"
CTE = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www"

Run = Callable[..., Result]

# (arguments, the stderr line on a new database)
EMPTY = [
    (["changes"], "no changes held"),
    (
        ["changes", "--kind", "status", "--since", "2024-01-01"],
        "no changes match (kind status, since 2024-01-01)",
    ),
    (
        ["changes", "--nct", "nct01234567", "--clock", "registry", "--min-grade", "major"],
        "no changes match (nct NCT01234567, min-grade major, clock registry)",
    ),
    (["stats"], "no changes held"),
    (
        ["stats", "--phase", "3", "--sponsor", "pfizer", "--sponsor", "nih"],
        "no changes match (phase 3, sponsor pfizer or nih)",
    ),
    (["discrepancies"], "no open discrepancies"),
    (["alerts", "list"], "no alert deliveries"),
    (["alerts", "list", "--pending"], "no pending alert deliveries"),
    (["alerts", "list", "--held"], "no held alert deliveries"),
    (["watch", "list"], "no active watches"),
    (["schedule", "list"], "no scheduled jobs"),
    (["runs"], "no crawl runs"),
]

# each listing, once the database holds one of everything
HELD = [
    ["changes"],
    ["stats"],
    ["discrepancies"],
    ["alerts", "list"],
    ["alerts", "list", "--pending"],
    ["watch", "list"],
    ["schedule", "list"],
    ["runs"],
]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIALWATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("TRIALWATCH_SOURCE_PRIORITY", raising=False)
    (tmp_path / "none.toml").write_text("")
    db = f"sqlite:///{tmp_path / 'tw.db'}"

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)
        assert "Traceback" not in result.output
        return result

    assert invoke("db", "upgrade").exit_code == 0  # a database that exists, holding nothing
    return invoke


def _empty_json(args: list[str]) -> Any:
    """What --json prints when nothing matches: [] for a listing, zero counts for stats."""
    return [] if args[0] != "stats" else 0


def _json_total(args: list[str], data: Any) -> Any:
    return data["total"] if args[0] == "stats" else data


@pytest.mark.parametrize(("args", "line"), EMPTY, ids=[" ".join(a) for a, _ in EMPTY])
def test_nothing_held_is_said_on_stderr_only(run: Run, args: list[str], line: str) -> None:
    text = run(*args)
    assert (text.exit_code, text.stdout, text.stderr) == (0, "", f"{line}\n")
    as_json = run(*args, "--json")
    assert as_json.exit_code == 0 and as_json.stderr == f"{line}\n"
    assert _json_total(args, json.loads(as_json.stdout)) == _empty_json(args)


def _replay(folder: Path, status: str | None = None) -> Path:
    """A loopback registry answering with the recorded study, its status set to ``status``."""
    folder.mkdir()
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    if status:
        data["protocolSection"]["statusModule"]["overallStatus"] = status
    (folder / "study.json").write_text(json.dumps(data))
    routes = [
        {"path": f"/api/v2/studies/{CRAWLED}", "responses": [{"status": 200, "body": "study.json"}]}
    ]
    (folder / "routes.json").write_text(json.dumps({"routes": routes}))
    return folder


def _registry_record(tmp_path: Path) -> Path:
    """A real v2 record given the site trial's id and completion date, its status left
    ACTIVE_NOT_RECRUITING: the site page (Recruiting) disagrees with it on status only."""
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    data["protocolSection"]["identificationModule"]["nctId"] = SITE_TRIAL
    status = data["protocolSection"]["statusModule"]
    status["completionDateStruct"] = {"date": "2026-04-20", "type": "ESTIMATED"}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(data))
    return path


def _fill(run: Run, tmp_path: Path) -> None:
    """One of everything the listings show: a watch, two crawl runs bringing a status change
    (and its alert), a discrepancy, a scheduled job."""
    assert run("watch", "add", "--email", "site@x.test", "--nct", CRAWLED).exit_code == 0
    for name, status in (("r1", None), ("r2", "COMPLETED")):
        with ReplayServer(_replay(tmp_path / name, status)) as server:
            crawled = run(
                "crawl", "ctgov", "--nct", CRAWLED, "--base-url", server.base_url, "--delay", "0"
            )
        assert crawled.exit_code == 0, crawled.output
    assert run("import", str(_registry_record(tmp_path))).exit_code == 0
    url = json.loads((CTE / "expected.json").read_text())["url"]
    page = run(
        "import", str(CTE / "semantic.html"), "--source", "clinicaltrialexchange", "--url", url
    )
    assert page.exit_code == 0, page.output
    added = run("schedule", "add", "--every", "6h", "crawl", "ctgov", "--nct", CRAWLED)
    assert added.exit_code == 0, added.output


def test_listings_with_rows_say_no_such_line(run: Run, tmp_path: Path) -> None:
    _fill(run, tmp_path)
    for args in HELD:
        text = run(*args)
        assert text.exit_code == 0 and text.stdout.strip(), args
        assert not text.stderr.startswith("no "), (args, text.stderr)
        as_json = run(*args, "--json")
        assert as_json.exit_code == 0 and not as_json.stderr.startswith("no "), args
        assert _json_total(args, json.loads(as_json.stdout)), args


def test_filters_that_match_nothing_are_named(run: Run, tmp_path: Path) -> None:
    _fill(run, tmp_path)
    [status] = json.loads(run("changes", "--kind", "status", "--json").stdout)
    assert status["nct_id"] == CRAWLED
    later = run("changes", "--kind", "status", "--since", "2099-01-01")
    assert (later.exit_code, later.stdout) == (0, "")
    assert later.stderr == "no changes match (kind status, since 2099-01-01)\n"
    counted = run("stats", "--nct", SITE_TRIAL, "--kind", "status", "--json")
    assert json.loads(counted.stdout)["total"] == 0
    assert counted.stderr == f"no changes match (nct {SITE_TRIAL}, kind status)\n"
    total = len(json.loads(run("changes", "--json").stdout))
    past = run("changes", "--offset", str(total))
    assert (past.exit_code, past.stdout) == (0, "")
    assert past.stderr == f"no changes from number {total + 1}: {total} match\n"
    # the alert is pending, not held
    assert run("alerts", "list", "--pending").stdout.strip()
    none_held = run("alerts", "list", "--held")
    assert (none_held.stdout, none_held.stderr) == ("", "no held alert deliveries\n")
    assert run("watch", "remove", "1").exit_code == 0
    assert run("watch", "list").stderr == "no active watches\n"
    # --limit 0 asks for no runs: nothing to say
    assert run("runs", "--limit", "0").output == ""
