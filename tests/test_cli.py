"""The command line against a real SQLite database (CliRunner), on real saved payloads."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from tests.conftest import fixture_file
from trialwatch.cli import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    db = str(tmp_path / "tw.db")

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    return invoke


def test_import_show_history_changes(run, tmp_path):
    old = fixture_file("ctgov_classic_xml_NCT00513591_redownloaded.xml")
    new = fixture_file("ctgov_classic_xml_NCT00513591.xml")
    assert run("import", str(old), "--observed-at", "2016-06-29").exit_code == 0
    result = run("import", str(new), "--observed-at", "2018-05-11T00:00:00Z")
    assert result.exit_code == 0, result.output

    shown = json.loads(run("show", "NCT00513591", "--json").stdout)
    assert shown["nct_id"] == "NCT00513591"
    assert shown["enrollment"]["count"] == 1000
    then = json.loads(run("show", "NCT00513591", "--as-of", "2017-01-01", "--json").stdout)
    assert then["enrollment"]["count"] == 500
    assert "Duke Autoimmunity in Pregnancy Registry" in run("show", "NCT00513591").stdout

    versions = json.loads(run("history", "NCT00513591", "--json").stdout)
    assert [(v["source"], v["format"]) for v in versions] == [("ctgov", "ctgov_classic")] * 2
    assert "enrollment" in versions[1]["changes"]

    changes = json.loads(run("changes", "--nct", "NCT00513591", "--json").stdout)
    assert changes and all(
        set(c)
        == {
            "id",
            "nct_id",
            "kind",
            "grade",
            "source",
            "from_version_id",
            "to_version_id",
            "registry_date",
            "observed_at",
            "before",
            "after",
            "detail",
        }
        for c in changes
    )
    pcd = [c for c in changes if c["kind"] == "primary_completion_date"]
    assert pcd and pcd[0]["detail"]["delta_days"] > 0
    only = json.loads(run("changes", "--kind", "enrollment", "--json").stdout)
    assert [(c["before"]["count"], c["after"]["count"]) for c in only] == [(500, 1000)]
    assert json.loads(run("changes", "--since", "2030-01-01", "--json").stdout) == []
    text = run("changes").stdout
    assert "enrollment" in text and "NCT00513591" in text


def test_reimport_is_idempotent(run):
    path = fixture_file("ctgov_v2_NCT03934567.json")
    assert run("import", str(path)).exit_code == 0
    result = run("import", str(path))
    assert result.exit_code == 0
    assert "1 unchanged" in result.stderr
    assert len(json.loads(run("history", "NCT03934567", "--json").stdout)) == 1


def test_bad_inputs_are_named_set_aside_and_the_rest_goes_on(run, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    good = fixture_file("ctgov_v2_NCT03934567.json")
    shutil.copy(good, folder / "b_good.json")
    (folder / "a_empty.json").write_bytes(b"")
    (folder / "c_truncated.json").write_bytes(good.read_bytes()[:500])
    (folder / "d_notatrial.json").write_text('{"hello": "world"}')
    (folder / "e_notastudy.xml").write_text("<rss><channel/></rss>")
    (folder / "f_badnct.json").write_text(good.read_text().replace('"NCT03934567"', '"NCT123"', 1))
    result = run("import", str(folder))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "inbox" in line]
    assert len(lines) == 5, result.stderr
    for name in ("a_empty", "c_truncated", "d_notatrial", "e_notastudy", "f_badnct"):
        assert sum(name in line for line in lines) == 1
    assert "Traceback" not in result.output
    assert json.loads(run("show", "NCT03934567", "--json").stdout)["nct_id"] == "NCT03934567"


def test_show_unknown_trial_and_usage_errors(run):
    assert run("db", "upgrade").exit_code == 0  # a database with nothing in it
    result = run("show", "NCT09999999")
    assert result.exit_code == 1 and "NCT09999999" in result.stderr
    assert run("show", "NCT123").exit_code == 2
    assert run("changes", "--kind", "nonsense").exit_code == 2
    assert run("show", "NCT00000000", "--as-of", "yesterday").exit_code == 2
    assert run("crawl", "ctgov").exit_code == 2


def test_one_bad_study_in_a_page_is_set_aside_and_the_others_are_kept(run, tmp_path):
    page = json.loads(fixture_file("ctgov_v2_studies_page_10studies_martinadep.json").read_bytes())
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in page["studies"]]
    page["studies"][3]["protocolSection"]["identificationModule"]["nctId"] = "NCT12"
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    result = run("import", str(path))
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if "studies[3]" in line]
    assert "page.json" in line and "NCT12" in line
    held = [nct for nct in ids if run("show", nct, "--json").exit_code == 0]
    assert held == ids[:3] + ids[4:]


def test_a_broken_config_file_is_one_line_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    config = tmp_path / "broken.toml"
    config.write_text("[merge\npriority = ")
    env = dict(os.environ, TRIALWATCH_CONFIG=str(config), TRIALWATCH_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialwatch.cli",
            "--db",
            str(tmp_path / "tw.db"),
            "import",
            str(fixture_file("ctgov_v2_NCT03934567.json")),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "broken.toml" in result.stderr and "Traceback" not in result.stderr
