"""Hostile requests and hostile scraped text on the analyst database (SQLite and PostgreSQL):
control characters in parameters, a request that fails unexpectedly, HEAD on every route,
and bidirectional-text controls in a record."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import html
from sqlalchemy import text
from starlette.routing import Mount, Route

from tests.analyst_data import analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from tests.conftest import FIXTURES
from tests.web.conftest import Client, api, cli_json, db_of, page
from tests.web.expect import new_watch
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine
from trialwatch.snapshots import SnapshotStore
from trialwatch.web.app import SECURITY_HEADERS

TRIAL = "NCT04280705"
# Each a control character as it arrives percent-encoded: C0 (NUL, TAB, LF, ESC), DEL, C1.
CONTROLS = ["%00", "%09", "%0A", "%1B", "%7F", "%C2%85", "%C2%9F"]
# Where a control character goes: every query parameter of each route, and path parameters.
PLACES = [
    ("/trials?q={c}", "q"),
    ("/trials?q=abc{c}def&page=1", "q"),
    ("/trials?page=1{c}", "page"),
    ("/trials?unknown={c}", "unknown"),
    ("/changes?sponsor={c}", "sponsor"),
    ("/changes?kind=status{c}", "kind"),
    ("/changes?grade={c}", "grade"),
    ("/changes?since=2026-11-02{c}", "since"),
    ("/changes?until={c}", "until"),
    ("/changes?phase=PHASE3{c}", "phase"),
    ("/changes?page={c}", "page"),
    ("/changes?status={c}", "status"),
    ("/changes?watch=1{c}", "watch"),
    ("/changes?clock={c}", "clock"),
    ("/changes?limit=5{c}", "limit"),
    ("/changes?q=abc{c}", "q"),
    ("/trials?status={c}", "status"),
    ("/trials?sort=title{c}", "sort"),
    (f"/trials/{TRIAL}/diff?a=1{{c}}&b=2", "a"),
    (f"/trials/{TRIAL}/diff?a=1&b={{c}}", "b"),
    ("/trials/NCT0428{c}0705", "path"),
    ("/trials/NCT04280705{c}/diff?a=1&b=2", "path"),
    ("/trials?{c}=x", "a query parameter name"),
]
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@pytest.fixture
def lenient(client: Client) -> Iterator[TestClient]:
    """The app as a server runs it: an exception in a route is a response, not a raise."""
    with TestClient(client.app, raise_server_exceptions=False) as lenient_client:
        yield lenient_client


def assert_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


def test_control_characters_in_parameters_get_400(lenient: TestClient) -> None:
    for place, name in PLACES:
        for control in CONTROLS:
            url = place.format(c=control)
            response = lenient.get(url)
            assert response.status_code == 400, (url, response.status_code)
            assert_headers(response)
            [line] = html.fromstring(response.text).xpath('//p[@id="problem"]/text()')
            assert line.startswith(f"{name}: ") and "control character" in line, (url, line)
            assert "\n" not in line and not any(ord(ch) < 32 for ch in line), url
            refused = lenient.get("/api" + url)
            assert refused.status_code == 400, url
            assert_headers(refused)
            assert refused.json() == {"detail": line}
    # Characters that are not controls (here \u00e9) pass.
    assert api(lenient, "/api/trials?q=%C3%A9t%C3%A9")["q"] == "\u00e9t\u00e9"


def test_an_unexpected_error_keeps_the_headers(
    client: Client, lenient: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_engine(db_of(client))
    with engine.begin() as conn:  # the database changed under the server
        conn.execute(text('ALTER TABLE "change" RENAME TO change_moved'))
    engine.dispose()
    caplog.set_level(logging.WARNING)
    response = lenient.get("/changes")
    assert response.status_code == 500
    assert_headers(response)
    [line] = html.fromstring(response.text).xpath('//p[@id="problem"]/text()')
    assert line == "/changes: the server failed to answer this request"
    refused = lenient.get("/api/changes?grade=major")
    assert refused.status_code == 500 and refused.json() == {
        "detail": line.replace("/", "/api/", 1)
    }
    assert_headers(refused)
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 2 and all(r.exc_info is None for r in logged)
    assert all("\n" not in r.getMessage() and "500" in r.getMessage() for r in logged)
    assert "GET /api/changes?grade=major" in logged[1].getMessage()


def routes_by_path(app: object) -> set[str]:
    paths = set()
    for route in _flat(app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            paths.add(route.path)
        elif isinstance(route, Mount):
            paths.add(route.path)
    return paths


def _flat(routes: list[object]) -> list[object]:
    """Routes, those of included routers among them (FastAPI may keep those as one entry)."""
    out: list[object] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_flat(inner.routes) if inner is not None else [route])
    return out


def test_head_on_every_route(client: Client) -> None:
    [stored] = cli_json(db_of(client), "changes", "--nct", TRIAL, "--kind", "eligibility_criteria")
    diff = f"?a={stored['from_version_id']}&b={stored['to_version_id']}"
    watch = new_watch(db_of(client), email="head@example.org", nct_ids=[TRIAL])
    urls = {
        "/": "/",
        "/trials": "/trials?q=covid",
        "/trials/{nct_id}": f"/trials/{TRIAL}",
        "/trials/{nct_id}/diff": f"/trials/{TRIAL}/diff{diff}",
        "/trials/{nct_id}/compare": f"/trials/{TRIAL}/compare{diff}",
        "/changes": "/changes",
        "/api/trials": "/api/trials",
        "/api/trials/{nct_id}": f"/api/trials/{TRIAL}",
        "/api/trials/{nct_id}/versions": f"/api/trials/{TRIAL}/versions",
        "/api/trials/{nct_id}/timeline": f"/api/trials/{TRIAL}/timeline",
        "/api/trials/{nct_id}/diff": f"/api/trials/{TRIAL}/diff{diff}",
        "/api/trials/{nct_id}/compare": f"/api/trials/{TRIAL}/compare{diff}",
        "/api/changes": "/api/changes",
        "/changes.atom": "/changes.atom?kind=status",
        "/trials/{nct_id}/changes.atom": f"/trials/{TRIAL}/changes.atom",
        "/watches/{number}/changes.atom": f"/watches/{watch}/changes.atom",
        "/trials.csv": "/trials.csv?q=covid",
        "/openapi.json": "/openapi.json",
        "/static": "/static/app.css",
    }
    assert set(urls) == routes_by_path(client.app)
    for url in [*urls.values(), "/changes?page=0", "/nowhere"]:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code, url
        assert head.content == b"" and get.content != b"", url
        for name in ("content-type", *SECURITY_HEADERS):
            assert head.headers[name] == get.headers[name], (url, name)
        # A streamed CSV states no length, as GET or HEAD.
        assert head.headers.get("content-length") == get.headers.get("content-length"), url
    refused = client.post("/trials")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def ingest_edited(url: str, study: dict[str, object], root: Path) -> None:
    engine = open_engine(url)
    pipeline = Pipeline(engine, SnapshotStore(root / "snapshots"), report=lambda _l: None)
    tally = Tally()
    pipeline.ingest_body(
        json.dumps(study).encode(), name="bidi.json", observed_at=datetime.now(UTC), tally=tally
    )
    engine.dispose()
    assert tally.new_versions == 1, tally


def test_bidi_controls_are_not_shown(client: Client, tmp_path: Path) -> None:
    """A stated test edit of a real study: bidirectional-text controls put into its title,
    lead sponsor, a condition and a new exclusion criterion, and its last update moved on
    (so it is a new version)."""
    original = FIXTURES / "ctgov" / "NCT00184067" / "ctgov_v2_NCT00184067.json"
    study = json.loads(original.read_bytes())
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = "Booster \u202eexe.txt\u202c trial"
    sponsor = protocol["sponsorCollaboratorsModule"]["leadSponsor"]
    sponsor["name"] = f"\u2067{sponsor['name']}\u2069\u200f"
    conditions = protocol["conditionsModule"]["conditions"]
    conditions[0] = f"\u2066{conditions[0]}\u061c"
    criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
    protocol["eligibilityModule"]["eligibilityCriteria"] = criteria.replace(
        "Exclusion Criteria:\n", f"Exclusion Criteria:\n\n* Age {BIDI} over 90\n", 1
    )
    protocol["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2015-01-05"
    ingest_edited(db_of(client), study, tmp_path)

    [title] = cli_json(db_of(client), "changes", "--nct", "NCT00184067", "--kind", "title")
    diff = f"/trials/NCT00184067/diff?a={title['from_version_id']}&b={title['to_version_id']}"
    for url in ["/trials/NCT00184067", "/trials?q=booster", "/changes", diff]:
        response = client.get(url)
        assert response.status_code == 200, url
        shown = {f"U+{ord(ch):04X}" for ch in set(BIDI) & set(response.text)}
        assert not shown, (url, shown)
        assert "Booster exe.txt trial" in html.fromstring(response.text).text_content(), url
    doc = page(client, "/trials/NCT00184067")
    assert "Age  over 90" in doc.xpath('//*[@id="criteria"]//li[@class="criterion"]/text()')
    assert doc.xpath("string(//h1)") == "Booster exe.txt trial"
    # The data itself is kept as the registry gave it: the JSON API is not a page.
    assert api(client, "/api/trials/NCT00184067")["title"] == "Booster \u202eexe.txt\u202c trial"


def test_right_to_left_text_is_shown_as_given(client: Client) -> None:
    doc = page(client, "/trials?q=%D8%B9%D8%B1%D8%A8%D9%8A")  # Arabic letters, no controls
    assert doc.xpath('string(//input[@id="q"]/@value)') == "\u0639\u0631\u0628\u064a"
