"""Capturing pages as fixture folders, against a loopback replay server (no network)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from trialwatch.capture import body_extension, capture, fixture_dir_name
from trialwatch.demo.replay import ReplayServer
from trialwatch.spiders.ctgov import USER_AGENT

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "site_spiders"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
SAFE_NAME = re.compile(r"[a-z0-9.-]+_[0-9a-f]{12}")


def test_capture_writes_the_exact_body_and_meta(tmp_path: Path) -> None:
    out = tmp_path / "captured"
    with ReplayServer(FIXTURES) as srv:
        html_url = f"{srv.base_url}/study/page-with-links"
        json_url = f"{srv.base_url}/api/study.json"
        folders = capture([html_url, json_url, html_url], out_dir=out, settings=FAST)
    assert sorted(r.path for r in srv.received) == [
        "/api/study.json",
        "/robots.txt",
        "/study/page-with-links",
    ]
    assert all(r.headers.get("User-Agent") == USER_AGENT for r in srv.received)
    assert [f.parent for f in folders] == [out, out]
    assert [f.name for f in folders] == [fixture_dir_name(html_url), fixture_dir_name(json_url)]
    assert all(SAFE_NAME.fullmatch(f.name) and f.name.startswith("127.0.0.1_") for f in folders)

    page, data = folders
    assert sorted(p.name for p in page.iterdir()) == ["meta.json", "response.html"]
    assert (page / "response.html").read_bytes() == (FIXTURES / "study_page.html").read_bytes()
    assert (data / "response.json").read_bytes() == (FIXTURES / "study.json").read_bytes()

    meta = json.loads((page / "meta.json").read_text("utf-8"))
    assert meta["url"] == meta["final_url"] == html_url
    assert meta["status"] == 200
    assert meta["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert meta["headers"]["X-Test"] == "yes"
    assert "Set-Cookie" not in meta["headers"]  # a session cookie never lands in a fixture
    fetched_at = datetime.fromisoformat(meta["fetched_at"])
    assert fetched_at.utcoffset() == timedelta(0)
    assert meta["body_bytes"] == len((FIXTURES / "study_page.html").read_bytes())


def test_a_hostile_url_gives_a_safe_folder_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with ReplayServer(FIXTURES) as srv:
        hostile = srv.base_url + "/../../etc/passwd/\"quoted\"/'single'/..%2f..%2f/" + "a" * 1500
        [folder] = capture([hostile], out_dir=out, settings=FAST)
    assert folder.parent == out and SAFE_NAME.fullmatch(folder.name)
    assert folder.name.startswith("127.0.0.1_") and len(folder.name) < 40
    assert [p.name for p in out.iterdir()] == [folder.name]
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "response.json"]
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    assert meta["url"] == hostile and meta["status"] == 404  # unrouted: kept, with its status
    assert not (tmp_path / "etc").exists()


def test_a_page_robots_txt_forbids_is_not_captured(tmp_path: Path) -> None:
    with ReplayServer(FIXTURES) as srv:
        folders = capture(
            [f"{srv.base_url}/private/study/NCT05828225"], out_dir=tmp_path, settings=FAST
        )
    assert folders == [] and [r.path for r in srv.received] == ["/robots.txt"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/x", "only http and https"),
        ("http://me:secret@127.0.0.1/x", "credentials"),
        ("http://127.0.0.1/" + "x" * 2100, "longer than 2048"),
    ],
)
def test_bad_urls_are_refused_before_fetching(tmp_path: Path, url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as err:
        capture([url], out_dir=tmp_path)
    assert "secret" not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="not the string"):
        capture("http://127.0.0.1/x", out_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nothing to capture"):
        capture([], out_dir=tmp_path)


def test_folder_names_use_only_a_slug_or_a_clean_host_and_a_hash() -> None:
    veeva = "https://ctv.veeva.com/study/some-title"
    assert re.fullmatch(r"veeva_[0-9a-f]{12}", fixture_dir_name(veeva))
    cte = "https://clinicaltrialexchange.com/clinical-trials/T/NCT05828225"
    assert fixture_dir_name(cte).startswith("clinicaltrialexchange_")
    assert fixture_dir_name("https://www.centerwatch.com/x").startswith("centerwatch_")
    assert fixture_dir_name("https://Trials.Example.ORG/x").startswith("trials.example.org_")
    assert fixture_dir_name("https://a.example/x") != fixture_dir_name("https://a.example/y")
    for nasty in [
        "http://..%2f..%2fetc/x",
        'http://ex"ample..com/x',
        "http://[::1]:8080/x",
        "http://%2e%2e/x",
        "http://" + "a" * 300 + ".example/x",
        "not a url at all",
    ]:
        name = fixture_dir_name(nasty)
        assert SAFE_NAME.fullmatch(name), (nasty, name)
        assert ".." not in name and not name.startswith((".", "-")) and len(name) <= 76


@pytest.mark.parametrize(
    ("content_type", "ext"),
    [
        ("text/html; charset=utf-8", "html"),
        ("application/xhtml+xml", "html"),
        ("application/json", "json"),
        ("application/ld+json", "json"),
        ("text/xml", "xml"),
        ("application/rss+xml", "xml"),
        ("text/plain", "txt"),
        (None, "txt"),
        ("", "txt"),
    ],
)
def test_body_extension_from_content_type(content_type: str | None, ext: str) -> None:
    assert body_extension(content_type) == ext
