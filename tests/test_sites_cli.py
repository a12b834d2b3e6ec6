"""Sites through the command line: pages of one trial from two sites merge into one trial, a
page that disagrees with the registry gives one discrepancy, and a page the parser does not
understand is set aside. The pages are the fixtures' HTML: markup written for the tests around
the real visible text of each page (tests/fixtures/SITES.md)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.conftest import FIXTURES, fixture_file
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun, ParseFailure, TrialVersion

NCT = "NCT05828225"
CTE = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www"
CLINCOSM = FIXTURES / "trialpage" / "clincosm_NCT05828225"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_SOURCE_PRIORITY", raising=False)
    db = f"sqlite:///{tmp_path / 'tw.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    invoke.db = db
    return invoke


def _import_page(run, folder, source, markup="semantic.html"):
    url = json.loads((folder / "expected.json").read_text())["url"]
    result = run("import", str(folder / markup), "--source", source, "--url", url)
    assert result.exit_code == 0, result.output
    return result


def _registry_file(tmp_path):
    """The registry's own record of NCT05828225 is not among the recorded responses: this is
    a real v2 record (NCT03934567) with its id, title and completion date set to those of
    NCT05828225, and its status left ACTIVE_NOT_RECRUITING, so that only the status disagrees
    with the site page (which says Recruiting)."""
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    ident = data["protocolSection"]["identificationModule"]
    ident["nctId"] = NCT
    ident["briefTitle"] = "Evaluate the Safety and Efficacy of CAR-T Cells in the Treatment of "
    ident["briefTitle"] += "Refractory Myasthenia Gravis"
    status = data["protocolSection"]["statusModule"]
    status["completionDateStruct"] = {"date": "2026-04-20", "type": "ESTIMATED"}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(data))
    return path


def test_two_sites_merge_into_one_trial(run):
    _import_page(run, CTE, "clinicaltrialexchange")
    _import_page(run, CLINCOSM, "trialpage", "jsonld.html")
    shown = json.loads(run("show", NCT, "--json").stdout)
    assert set(shown["sources"]) == {"clinicaltrialexchange", "trialpage"}
    # the first site is trusted more; the second fills what the first does not show
    assert shown["field_sources"]["overall_status"] == "clinicaltrialexchange"
    assert shown["official_title"].startswith("A Study on the Safety and Efficacy")
    assert shown["field_sources"]["official_title"] == "trialpage"
    assert shown["enrollment"] == {"count": 9, "type": "ESTIMATED"}
    history = json.loads(run("history", NCT, "--json").stdout)
    assert sorted(v["source"] for v in history) == ["clinicaltrialexchange", "trialpage"]
    # the same page in another markup is the same content: no new version
    again = _import_page(run, CTE, "clinicaltrialexchange", "divs.html")
    assert "1 unchanged" in again.stderr


def test_a_site_disagreeing_with_the_registry_gives_one_discrepancy(run, tmp_path):
    assert run("import", str(_registry_file(tmp_path))).exit_code == 0
    _import_page(run, CTE, "clinicaltrialexchange")
    _import_page(run, CTE, "clinicaltrialexchange", "divs.html")  # seen again: still one
    found = json.loads(run("changes", "--kind", "source_discrepancy", "--json").stdout)
    assert len(found) == 1
    assert (found[0]["before"], found[0]["after"]) == ("ACTIVE_NOT_RECRUITING", "RECRUITING")
    [open_one] = json.loads(run("discrepancies", "--json").stdout)
    assert open_one["field"] == "overall_status"
    assert (open_one["registry_source"], open_one["site_source"]) == (
        "ctgov",
        "clinicaltrialexchange",
    )
    assert "ctgov says ACTIVE_NOT_RECRUITING" in run("discrepancies").stdout
    shown = json.loads(run("show", NCT, "--json").stdout)
    assert shown["overall_status"] == "ACTIVE_NOT_RECRUITING"  # the registry wins


def test_a_login_wall_is_a_parse_failure_not_a_version(run, tmp_path):
    _import_page(run, CTE, "clinicaltrialexchange")
    folder = tmp_path / "replay"
    folder.mkdir()
    (folder / "wall.html").write_bytes(
        (FIXTURES / "clinicaltrialexchange" / "constructed_login_wall" / "page.html").read_bytes()
    )
    routes = [{"path": "/trial/NCT05828225", "responses": [{"status": 200, "body": "wall.html"}]}]
    (folder / "routes.json").write_text(json.dumps({"routes": routes}))
    with ReplayServer(folder) as server:
        result = run(
            "crawl", "trialpage", "--url", f"{server.base_url}/trial/NCT05828225", "--delay", "0"
        )
    assert result.exit_code == 1
    assert "1 page(s) or record(s) set aside" in result.stderr
    assert "Traceback" not in result.output
    engine = open_engine(run.db)
    with transaction(engine) as session:
        [failure] = session.exec(select(ParseFailure)).all()
        [crawl_run] = session.exec(select(CrawlRun)).all()
        versions = session.exec(select(TrialVersion)).all()
    engine.dispose()
    assert "no trial found" in failure.reason and failure.snapshot
    assert crawl_run.rejected == 1 and crawl_run.status == "partial"
    assert [v.source for v in versions] == ["clinicaltrialexchange"]
    assert json.loads(run("changes", "--json").stdout) == []


def test_a_page_read_without_its_status_is_kept_with_one_warning(run, tmp_path):
    """Seed 000's trial-finder page with its chips run into one line of text: status and phase
    can no longer be told apart. The record is kept (a version, no discrepancy invented), the
    import says so in one line and still succeeds: a warning is not a rejection."""
    folder = FIXTURES / "trialpage" / "seed000_NCT05828212"
    html = (folder / "lists.html").read_text(encoding="utf-8")
    glued = html.replace('<div class="chips">', "<div>").replace('class="chip"', 'class="c"')
    assert glued != html
    page = tmp_path / "glued.html"
    page.write_text(glued, encoding="utf-8")
    result = run("import", str(page), "--source", "trialpage")
    assert result.exit_code == 0, result.output
    warning = (
        "warning: Trial-finder page read without status or phase, which its pages show; "
        "kept without"
    )
    lines = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(lines) == 1 and warning in lines[0] and "glued.html" in lines[0]
    assert "1 warning(s)" in result.stderr and "0 rejected" in result.stderr
    engine = open_engine(run.db)
    with transaction(engine) as session:
        versions = session.exec(select(TrialVersion)).all()
        failures = session.exec(select(ParseFailure)).all()
    engine.dispose()
    assert [v.nct_id for v in versions] == ["NCT05828212"] and failures == []
