"""`trialwatch crawl ctgov` end to end against a loopback server replaying recorded responses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun, ParseFailure, TrialAlias

REPLAY = FIXTURES / "ctgov_spider"


@pytest.fixture
def server():
    with ReplayServer(REPLAY) as srv:
        yield srv


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    return f"sqlite:///{tmp_path / 'tw.db'}"


def _crawl(db, server, *args):
    argv = ["--db", db, "crawl", "ctgov", "--base-url", server.base_url, "--delay", "0", *args]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def test_crawl_by_ids_records_alias_not_found_and_the_run(db, server):
    result = _crawl(
        db, server, "--nct", "NCT00000001", "--nct", "NCT00184067", "--nct", "NCT09999999"
    )
    assert result.exit_code == 0, result.output
    assert "not found" in result.stderr and "NCT09999999" in result.stderr
    # the redirected id resolves to the trial it now names
    shown = CliRunner().invoke(cli, ["--db", db, "show", "NCT00000001", "--json"])
    assert json.loads(shown.stdout)["nct_id"] == "NCT03934567"
    engine = open_engine(db)
    with transaction(engine) as session:
        [alias] = session.exec(select(TrialAlias)).all()
        assert (alias.alias, alias.nct_id) == ("NCT00000001", "NCT03934567")
        [run] = session.exec(select(CrawlRun)).all()
        assert (run.status, run.new_versions, run.not_found) == ("ok", 2, 1)
        assert run.finished_at is not None and run.finished_at >= run.started_at
    engine.dispose()

    again = _crawl(db, server, "--nct", "NCT00184067")
    assert again.exit_code == 0 and "1 unchanged" in again.stderr


def test_search_crawl_ingests_every_study_of_every_page(db, server):
    result = _crawl(db, server, "--query", "query.cond=cancer")
    assert result.exit_code == 0, result.output
    pages = [
        "ctgov_v2_studies_page_cyanheads_2025-06-17T11-15-33.json",
        "ctgov_v2_studies_page_cyanheads_2025-06-17T11-16-37.json",
        "ctgov_v2_studies_page_10studies_martinadep.json",
    ]
    expected = {
        s["protocolSection"]["identificationModule"]["nctId"]
        for page in pages
        for s in json.loads((REPLAY / page).read_bytes())["studies"]
    }
    listed = CliRunner().invoke(cli, ["--db", db, "changes", "--json"])
    assert json.loads(listed.stdout) == []
    held = {
        nct
        for nct in expected
        if CliRunner().invoke(cli, ["--db", db, "show", nct, "--json"]).exit_code == 0
    }
    assert held == expected and len(expected) == 13
    assert all(r.param("pageSize") == "1000" for r in server.requests_to("/api/v2/studies"))


def test_a_page_that_is_not_json_is_set_aside_with_its_reason(db, server):
    result = _crawl(db, server, "--query", "not-json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    engine = open_engine(db)
    with transaction(engine) as session:
        failures = session.exec(select(ParseFailure)).all()
        [run] = session.exec(select(CrawlRun)).all()
    engine.dispose()
    assert run.rejected == 1 and run.status == "partial"
    [failure] = failures
    assert failure.snapshot and failure.reason and failure.crawl_run_id == run.id
