"""Crawls with no optional flag: no --delay means each spider's own polite delay, and the
crawl still runs and stores what it fetched (against loopback replay servers)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.ingest.jobs import crawl_settings

VEEVA_PAGE = FIXTURES / "veeva" / "seed003_NCT02249676"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_CTGOV_URL", raising=False)
    monkeypatch.delenv("TRIALWATCH_VEEVA_URL", raising=False)
    db = f"sqlite:///{tmp_path / 'tw.db'}"

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    return invoke


def _gaps(server: ReplayServer) -> list[float]:
    times = sorted(r.at for r in server.received)
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def test_no_delay_keeps_the_spiders_own_settings():
    assert crawl_settings(None) == {}
    assert crawl_settings(0)["AUTOTHROTTLE_ENABLED"] is False
    assert crawl_settings(2.5)["DOWNLOAD_DELAY"] == 2.5


def test_ctgov_crawl_without_delay(run):
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        result = run("crawl", "ctgov", "--nct", "NCT03934567", "--base-url", server.base_url)
        gaps = _gaps(server)
        assert [r.path for r in server.received] == ["/robots.txt", "/api/v2/studies/NCT03934567"]
    assert result.exit_code == 0, result.output
    shown = run("show", "NCT03934567", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["nct_id"] == "NCT03934567"
    # The polite default (1 s, randomised to 0.5-1.5 s) is in force, not "as fast as possible".
    assert min(gaps) >= 0.4, gaps


def test_site_crawl_without_delay(run, tmp_path):
    folder = tmp_path / "replay"
    folder.mkdir()
    (folder / "page.html").write_bytes((VEEVA_PAGE / "semantic.html").read_bytes())
    path = "/study/autologous-mesenchymal-stem-cells-nmosd"
    routes = [{"path": path, "responses": [{"status": 200, "body": "page.html"}]}]
    (folder / "routes.json").write_text(json.dumps({"routes": routes}))
    with ReplayServer(folder) as server:
        result = run(
            "crawl", "veeva", "--url", f"https://ctv.veeva.com{path}", "--base-url", server.base_url
        )
        gaps = _gaps(server)
        assert [r.path for r in server.received] == ["/robots.txt", path]
    assert result.exit_code == 0, result.output
    shown = run("show", "NCT02249676", "--json")
    assert shown.exit_code == 0 and set(json.loads(shown.stdout)["sources"]) == {"veeva"}
    assert min(gaps) >= 1.0, gaps  # veeva's own 3 s, randomised to 1.5-4.5 s
