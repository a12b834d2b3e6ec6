"""Scrapy's own commands in a checkout, as Scrapy users type them from the repository root
(scrapy.cfg): `scrapy list`, and `scrapy crawl SPIDER -a name=value ...` against a loopback
replay of recorded responses (tests/fixtures/ctgov_spider, its SOURCES.md; the record history
is the demo's, trialwatch/demo/history.py says what in it is recorded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from trialwatch.demo.history import build_history_replay
from trialwatch.demo.replay import ReplayServer
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.clinicaltrialexchange import ClinicaltrialexchangeSpider
from trialwatch.spiders.trialpage import TrialpageSpider

ROOT = Path(__file__).resolve().parents[1]
SPIDER = FIXTURES / "ctgov_spider"
NCT = "NCT03934567"
SPIDERS = ["centerwatch", "clinicaltrialexchange", "ctgov", "ctgov_history", "trialpage", "veeva"]
# `scrapy` with the optional extras (Redis, PostgreSQL) made impossible to import.
WITHOUT_EXTRAS = (
    "import sys; sys.modules.update(dict.fromkeys(['scrapy_redis', 'redis', 'psycopg']));"
    "from scrapy.cmdline import execute; execute(['scrapy', *sys.argv[1:]])"
)
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def scrapy(*args: str, extras: bool = True) -> subprocess.CompletedProcess[str]:
    """`scrapy ARGS` run in the repository root with no TRIALWATCH_ or SCRAPY_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIALWATCH_", "SCRAPY_"))}
    env.update(PYTHONPATH=str(ROOT))
    command = ["-m", "scrapy"] if extras else ["-c", WITHOUT_EXTRAS]
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manifest(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("extras", [True, False], ids=["with-extras", "without-extras"])
def test_scrapy_list_names_every_spider(extras: bool) -> None:
    done = scrapy("list", extras=extras)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == SPIDERS


def test_scrapy_crawl_ctgov_stores_the_body_and_prints_its_manifest_line(tmp_path: Path) -> None:
    snapshots, feed = tmp_path / "snapshots", tmp_path / "fetched.jsonl"
    with ReplayServer(SPIDER) as srv:
        done = scrapy(
            "crawl",
            "ctgov",
            "-a",
            f"nct_ids={NCT}",
            "-a",
            f"base_url={srv.base_url}",
            "-s",
            f"TRIALWATCH_DATA_DIR={snapshots}",
            "-O",
            str(feed),
        )
    assert done.returncode == 0, done.stderr
    [row] = manifest(done.stdout)
    assert (row["requested_nct"], row["status"], row["outcome"]) == (NCT, 200, "ok")
    recorded = (SPIDER / f"ctgov_v2_{NCT}.json").read_bytes()
    assert SnapshotStore(snapshots).get(row["snapshot"]) == recorded
    [item] = manifest(feed.read_text())
    assert (item["source"], item["snapshot"]) == ("ctgov", row["snapshot"])


def test_scrapy_crawl_ctgov_takes_a_search_as_strings(tmp_path: Path) -> None:
    with ReplayServer(SPIDER) as srv:
        done = scrapy(
            "crawl",
            "ctgov",
            "-a",
            "query=query.cond=lymphoma&filter.overallStatus=RECRUITING",
            "-a",
            "updated_since=2026-11-01",
            "-a",
            f"base_url={srv.base_url}",
            "-s",
            f"TRIALWATCH_DATA_DIR={tmp_path}",
            *FAST,
        )
        [first, *_] = asked = srv.requests_to("/api/v2/studies")
    assert done.returncode == 0, done.stderr
    assert [r["kind"] for r in manifest(done.stdout)] == ["page"] * 4 == ["page"] * len(asked)
    assert first.param("query.cond") == "lymphoma"
    assert first.param("filter.overallStatus") == "RECRUITING"
    assert first.param("filter.advanced") == "AREA[LastUpdatePostDate]RANGE[2026-11-01,MAX]"


def test_scrapy_crawl_ctgov_history_takes_have_and_modules_as_strings(tmp_path: Path) -> None:
    folder = build_history_replay(tmp_path / "srv")
    with ReplayServer(folder) as srv:
        done = scrapy(
            "crawl",
            "ctgov_history",
            "-a",
            "nct_ids=NCT04280705,NCT03934567",
            "-a",
            f"base_url={srv.base_url}",
            "-a",
            'have={"NCT04280705": [0]}',
            "-a",
            "modules=Eligibility,Study Design",
            "-s",
            f"TRIALWATCH_DATA_DIR={tmp_path / 'snapshots'}",
            *FAST,
        )
    assert done.returncode == 0, done.stderr
    rows = manifest(done.stdout)
    assert all(r["outcome"] == "ok" for r in rows), rows
    fetched = [r["version"] for r in rows if r["kind"] == "history_version"]
    assert fetched == [2, 3]  # version 0 is held; 2 changed the design, 3 the eligibility
    assert sorted(r["requested_nct"] for r in rows if r["kind"] == "history_list") == [
        "NCT03934567",
        "NCT04280705",
    ]


def test_site_spiders_take_urls_and_a_mirror_as_strings() -> None:
    # What `scrapy crawl clinicaltrialexchange -a urls="A B" -a base_url=...` passes.
    pages = "https://www.clinicaltrialexchange.com/clinical-trials/a/NCT05828225"
    spider = ClinicaltrialexchangeSpider(
        urls=f"{pages} https://clinicaltrialexchange.com/clinical-trials/b/{NCT}",
        base_url="http://127.0.0.1:8080",
    )
    assert [(t.url, t.nct_id) for t in spider.targets] == [
        ("http://127.0.0.1:8080/clinical-trials/a/NCT05828225", "NCT05828225"),
        (f"http://127.0.0.1:8080/clinical-trials/b/{NCT}", NCT),
    ]
    assert spider.allowed_domains == ["127.0.0.1"]
    anywhere = TrialpageSpider(urls="http://127.0.0.1:8080/trial/1\nhttps://example.org/t")
    assert [t.url for t in anywhere.targets] == [
        "http://127.0.0.1:8080/trial/1",
        "https://example.org/t",
    ]
    with pytest.raises(ValueError, match="cannot fetch by NCT id"):
        ClinicaltrialexchangeSpider(nct_ids=f"{NCT},NCT05828225")
