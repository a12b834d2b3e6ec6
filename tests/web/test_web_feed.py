"""The change feed, bad requests, the security headers and scraped markup, on the analyst
database (SQLite and PostgreSQL), read through the hooks the browser tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html

from tests.conftest import FIXTURES
from tests.web.conftest import api, cli_json, db_of, page
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.queries import list_changes
from trialwatch.snapshots import SnapshotStore
from trialwatch.web.app import CSP

TRIAL = "NCT04280705"
XSS = "<img src=x onerror=alert(1)>"


# ---- the change feed


def feed_ids(client: TestClient, query: str) -> list[int]:
    doc = page(client, f"/changes?{query}")
    rows = doc.xpath('//tr[@class="change"]')
    data = api(client, f"/api/changes?{query}")
    assert [c["id"] for c in data["changes"]] == [int(r.get("data-change-id")) for r in rows]
    for row, c in zip(rows, data["changes"], strict=True):
        assert (row.get("data-kind"), row.get("data-grade"), row.get("data-nct")) == (
            c["kind"],
            c["grade"],
            c["nct_id"],
        )
    return [c["id"] for c in data["changes"]]


def expected_ids(url: str, **filters: Any) -> list[int]:
    engine = open_engine(url)
    with transaction(engine) as session:
        found = [c.id for c in list_changes(session, **filters) if c.id is not None]
    engine.dispose()
    return found


def test_feed_filters_select_what_list_changes_selects(client: TestClient) -> None:
    url = db_of(client)
    record = cli_json(url, "show", TRIAL)
    sponsor = record["lead_sponsor"][:12].lower()
    day = datetime(2026, 11, 2, tzinfo=UTC)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("", {}),
        ("kind=status", {"kinds": ["status"]}),
        ("grade=major", {"min_grade": "major"}),
        (
            "grade=minor&kind=eligibility_criteria",
            {"min_grade": "minor", "kinds": ["eligibility_criteria"]},
        ),
        ("since=2026-11-02", {"since": day}),
        ("until=2026-11-02", {"until": day.replace(hour=23, minute=59, second=59)}),
        (
            "since=2026-11-02&until=2026-11-02",
            {"since": day, "until": day.replace(hour=23, minute=59, second=59)},
        ),
        (f"sponsor={sponsor}", {"sponsors": [sponsor]}),
        ("phase=PHASE3", {"phases": ["PHASE3"]}),
        ("phase=phase2&grade=major", {"phases": ["PHASE2"], "min_grade": "major"}),
        ("phase=2", {"phases": ["PHASE2"]}),
        ("phase=Phase%203", {"phases": ["PHASE3"]}),
    ]
    everything = expected_ids(url)
    assert len(everything) > 5
    for query, filters in cases:
        want = expected_ids(url, **filters)
        assert feed_ids(client, query) == want, query
        if filters:
            assert want != everything or query.startswith("until"), query
    assert set(expected_ids(url, sponsors=[sponsor])) >= set(expected_ids(url, nct_ids=[TRIAL]))
    form = page(client, "/changes").xpath('//form[@id="feed-filters"]')[0]
    for name in ("kind", "grade", "since", "until", "sponsor", "phase", "page"):
        assert form.xpath(f'.//*[@name="{name}"]'), name
    assert form.xpath('.//select[@name="kind"]') and form.xpath('.//select[@name="grade"]')


def test_feed_pages(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trialwatch.web.feed.PAGE_SIZE", 4)
    everything = expected_ids(db_of(client))
    seen: list[int] = []
    link: str | None = "/changes"
    pages = 0
    while link is not None:
        doc = page(client, link)
        seen += [int(r) for r in doc.xpath('//tr[@class="change"]/@data-change-id')]
        assert bool(doc.xpath('//a[@class="prev"]')) == (pages > 0)
        nexts = doc.xpath('//a[@class="next"]/@href')
        link = nexts[0] if nexts else None
        pages += 1
    assert seen == everything
    assert pages == -(-len(everything) // 4)
    assert api(client, f"/api/changes?page={pages + 1}")["changes"] == []
    grade = api(client, "/api/changes?grade=major&page=2")
    assert grade["total"] == len(expected_ids(db_of(client), min_grade="major"))
    assert [c["id"] for c in grade["changes"]] == expected_ids(
        db_of(client), min_grade="major", limit=4, offset=4
    )


# ---- errors and headers


BAD = [
    ("/changes?since=2026-02-30", 400, "since"),
    ("/changes?until=tomorrow", 400, "until"),
    ("/changes?kind=statusy", 400, "kind"),
    ("/changes?grade=huge", 400, "grade"),
    ("/changes?page=0", 400, "page"),
    ("/changes?page=x", 400, "page"),
    ("/changes?phase=PHASE9", 400, "phase"),
    ("/changes?since=2026-12-01&until=2026-11-01", 400, "since"),
    ("/trials?page=-1", 400, "page"),
    (f"/trials/{TRIAL}/diff?a=x&b=1", 400, "a:"),
    (f"/trials/{TRIAL}/diff?a=1", 400, "b:"),
    ("/trials/NCT99999999", 404, "NCT99999999"),
    ("/trials/not-an-id", 404, "not an NCT id"),
    ("/trials/NCT99999999/diff?a=1&b=2", 404, "NCT99999999"),
    (f"/trials/{TRIAL}/diff?a=1&b=2", 404, "not one of this trial"),
    ("/no/such/page", 404, "no such page"),
]


def test_bad_requests_get_one_line(client: TestClient) -> None:
    for url, status, words in BAD:
        doc = page(client, url, status)
        [line] = doc.xpath('//p[@id="problem"]/text()')
        assert words in line and "\n" not in line.strip(), url
        assert "Traceback" not in html.tostring(doc, encoding="unicode")
        if not url.startswith("/no/"):
            data = api(client, "/api" + url, status)
            assert data == {"detail": line}


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for url in (
        "/",
        "/trials?q=x",
        f"/trials/{TRIAL}",
        "/changes",
        "/api/changes",
        "/openapi.json",
        "/static/app.css",
        "/nowhere",
        "/changes?page=0",
    ):
        response = client.get(url)
        assert response.headers["content-security-policy"] == CSP, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    redirect = client.get(f"/trials?q={TRIAL}", follow_redirects=False)
    assert redirect.headers["content-security-policy"] == CSP
    refused = client.post(f"/trials/{TRIAL}")
    assert refused.status_code == 405 and refused.headers["content-security-policy"] == CSP
    text = client.get(f"/trials/{TRIAL}").text
    assert "<script" not in text and "style=" not in text and "<style" not in text


# API v2 free text is Markdown: a literal "<" comes backslash-escaped (a bare tag is markup,
# which the criteria reader drops).
MARKDOWN_XSS = XSS.replace("<", "\\<").replace(">", "\\>")


def test_scraped_markup_is_shown_as_text(client: TestClient, tmp_path: Path) -> None:
    """A stated test edit of a real study: the criterion below added, the title prefixed, and
    its last update moved on (so it is a new version)."""
    original = FIXTURES / "ctgov" / "NCT00184067" / "ctgov_v2_NCT00184067.json"
    study = json.loads(original.read_bytes())
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = f"{XSS} Booster trial"
    criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
    protocol["eligibilityModule"]["eligibilityCriteria"] = criteria.replace(
        "Exclusion Criteria:\n", f"Exclusion Criteria:\n\n* {MARKDOWN_XSS}\n", 1
    )
    assert MARKDOWN_XSS in protocol["eligibilityModule"]["eligibilityCriteria"]
    protocol["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2015-01-05"
    engine = open_engine(db_of(client))
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"), report=lambda _l: None)
    tally = Tally()
    pipeline.ingest_body(
        json.dumps(study).encode(), name="xss.json", observed_at=datetime.now(UTC), tally=tally
    )
    engine.dispose()
    assert tally.new_versions == 1, tally
    [title] = cli_json(db_of(client), "changes", "--nct", "NCT00184067", "--kind", "title")
    diff = f"/trials/NCT00184067/diff?a={title['from_version_id']}&b={title['to_version_id']}"
    urls = ["/trials/NCT00184067", "/trials?q=booster", "/changes", diff]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in response.text, url
        assert XSS not in response.text and "<img" not in response.text, url
        doc = html.fromstring(response.text)
        assert not doc.xpath("//img") and not doc.xpath("//@onerror"), url
        assert XSS in doc.text_content(), url
    doc = html.fromstring(client.get(diff).text)
    assert doc.xpath('string(//table[@data-kind="title"]//td[@class="after"])').startswith(XSS)
    doc = html.fromstring(client.get("/trials/NCT00184067").text)
    assert XSS in doc.xpath('//*[@id="criteria"]//li[@class="criterion"]/text()')
    assert doc.xpath("string(//h1)").startswith(XSS)
