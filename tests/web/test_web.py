"""The web page and its JSON API on the analyst database (SQLite and PostgreSQL): what each
page shows is what `trialwatch history`, `show` and `changes` say, read through the hooks the
browser tests use (ids, classes, data- attributes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.analyst_data import analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from tests.web.conftest import api, cli_json, db_of, free_port, page, serve_app
from trialwatch.cli import cli
from trialwatch.web.app import CSP

TRIAL = "NCT04280705"  # 6 registry versions, 5 distinct contents


# ---- search


def found(client: TestClient, q: str) -> list[str]:
    doc = page(client, f"/trials?q={q}")
    rows = [tr.get("data-nct") for tr in doc.xpath('//table[@id="results"]//tr[@class="trial"]')]
    assert rows == [t["nct_id"] for t in api(client, f"/api/trials?q={q}")["trials"]]
    for nct in rows:
        assert doc.xpath(f'//tr[@data-nct="{nct}"]//a[@href="/trials/{nct}"]')
    return rows


def test_search_by_nct_title_sponsor_and_condition(reader: TestClient) -> None:
    record = cli_json(db_of(reader), "show", TRIAL)
    response = reader.get(f"/trials?q={TRIAL.lower()}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/trials/{TRIAL}"
    assert TRIAL in found(reader, TRIAL[:7])
    word = max(record["brief_title"].split(), key=len)
    sponsor = record["lead_sponsor"][3:15].upper()
    condition = record["conditions"][0][1:8].lower()
    for q, field in ((word, "brief_title"), (sponsor, "lead_sponsor"), (condition, "conditions")):
        rows = found(reader, q)
        assert TRIAL in rows, (q, field)
        for nct in rows:  # every row holds the text somewhere it may be matched
            other = cli_json(db_of(reader), "show", nct)
            fields = [other.get(k) for k in ("brief_title", "official_title", "lead_sponsor")]
            text = " ".join([*(f or "" for f in fields), *(other.get("conditions") or [])])
            assert q.lower() in text.lower() or nct.startswith(q.upper()), (q, nct)
    assert found(reader, "no trial is called this") == []
    listed = page(reader, "/").xpath('//tr[@class="trial"]/@data-nct')
    assert TRIAL in listed and listed == sorted(listed)
    assert page(reader, "/").xpath('//form[@id="search"][@action="/trials"]//input[@name="q"]')


# ---- the trial page


def expected_timeline(url: str) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The registry versions (`history`) and, from `show --as-of` each version's registry
    date, the status periods as (status, from, until)."""
    rows = [r for r in cli_json(url, "history", TRIAL) if r["source"] == "ctgov"]
    periods: list[list[str]] = []
    for row in rows:
        said = cli_json(url, "show", TRIAL, "--as-of", row["registry_date"])
        row["record"] = said
        if periods and periods[-1][0] == said["overall_status"]:
            continue
        if periods:
            periods[-1][2] = row["registry_date"]
        periods.append([said["overall_status"], row["registry_date"], ""])
    return rows, [(s, a, b) for s, a, b in periods]


def label(row: dict[str, Any]) -> str:
    """A registry version's label: its number, or the numbers of equal versions it stands for."""
    return "v" + (",".join(map(str, row["registry_versions"])) or row["registry_version"])


def test_trial_page_has_the_bands_and_slip_the_history_says(reader: TestClient) -> None:
    rows, periods = expected_timeline(db_of(reader))
    doc = page(reader, f"/trials/{TRIAL}")
    assert doc.xpath("string(//h1)") == rows[-1]["record"]["brief_title"]
    bands = doc.xpath('//section[@id="timeline"]//svg[@id="status-bands"]/rect[@class="band"]')
    shown = [(b.get("data-status"), b.get("data-from"), b.get("data-until")) for b in bands]
    assert shown == periods
    assert [p[0] for p in shown] == ["NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING"]
    assert shown[-1][2] == ""
    for band in bands:
        assert band.xpath("string(title)").startswith(band.xpath("string(following::text[1])"))
    labels = doc.xpath('//svg[@id="status-bands"]/text[contains(@class, "band-label")]/text()')
    assert labels == ["not yet recruiting", "recruiting", "active not recruiting"]

    points = doc.xpath('//svg[@id="pcd-chart"]/circle[@class="pcd-point"]')
    stated = [(str(r["version_id"]), r["record"]["primary_completion_date"]["date"]) for r in rows]
    assert [(p.get("data-version-id"), p.get("data-date")) for p in points] == stated
    assert [d for _, d in stated][0] == "2023-04-01" and stated[-1][1] == "2020-04-19"
    slips = doc.xpath('//svg[@id="pcd-chart"]/line[@class="slip"]')
    changed = [
        c
        for c in cli_json(db_of(reader), "changes", "--nct", TRIAL)
        if c["kind"] == "primary_completion_date"
    ]
    assert [int(s.get("data-delta-days")) for s in slips] == [
        c["detail"]["delta_days"] for c in changed
    ]
    assert [s.get("data-delta-days") for s in slips] == ["-1077"]
    assert "\u22121077 days" in slips[0].xpath("string(title)")

    versions = doc.xpath('//table[@id="versions"]//tr[@class="version"]')
    assert len(versions) == 5  # 6 registry versions, 5 distinct contents
    assert [v.get("data-version-id") for v in versions] == [str(r["version_id"]) for r in rows]
    for tr, row, next_row in zip(versions, rows, [*rows[1:], None], strict=True):
        # The registry's version number is shown; the database id is only in URLs.
        assert tr.xpath('string(.//span[@class="version-label"])') == label(row)
        assert tr.xpath('string(.//span[@class="valid-from"])') == row["registry_date"]
        until = next_row["registry_date"] if next_row else ""
        assert tr.xpath('string(.//span[@class="valid-until"])') == until
        assert tr.xpath('string(td[@class="first-seen"])') == row["first_seen_at"][:10]
        assert tr.get("data-origin") == "ctgov"
    form = doc.xpath(f'//form[@id="diff-form"][@action="/trials/{TRIAL}/diff"]')[0]
    for name in ("a", "b"):
        options = form.xpath(f'.//select[@name="{name}"]/option')
        assert [o.get("value") for o in options] == [str(r["version_id"]) for r in rows]
        assert [o.text.split(" · ")[0] for o in options] == [label(r) for r in rows]


def test_trial_api_matches_the_page(reader: TestClient) -> None:
    doc = page(reader, f"/trials/{TRIAL}")
    timeline = api(reader, f"/api/trials/{TRIAL}/timeline")
    bands = doc.xpath('//svg[@id="status-bands"]/rect[@class="band"]')
    assert [
        (p["status"], p["valid_from"], p["valid_until"] or "") for p in timeline["status_periods"]
    ] == [(b.get("data-status"), b.get("data-from"), b.get("data-until")) for b in bands]
    assert [(str(p["version_id"]), p["date"]) for p in timeline["primary_completion"]] == [
        (c.get("data-version-id"), c.get("data-date"))
        for c in doc.xpath('//svg[@id="pcd-chart"]/circle[@class="pcd-point"]')
    ]
    assert [s["delta_days"] for s in timeline["slips"]] == [
        int(x) for x in doc.xpath('//svg[@id="pcd-chart"]/line[@class="slip"]/@data-delta-days')
    ]
    versions = api(reader, f"/api/trials/{TRIAL}/versions")
    assert [str(v["version_id"]) for v in versions] == doc.xpath(
        '//tr[@class="version"]/@data-version-id'
    )
    trial = api(reader, f"/api/trials/{TRIAL}")
    assert trial["record"] == cli_json(db_of(reader), "show", TRIAL)
    assert trial["title"] == doc.xpath("string(//h1)")


def test_openapi_lists_the_routes_and_no_docs_page(reader: TestClient) -> None:
    spec = api(reader, "/openapi.json")
    assert set(spec["paths"]) == {
        "/api/trials",
        "/api/trials/{nct_id}",
        "/api/trials/{nct_id}/versions",
        "/api/trials/{nct_id}/timeline",
        "/api/trials/{nct_id}/diff",
        "/api/trials/{nct_id}/compare",
        "/api/changes",
    }
    assert all(set(methods) == {"get"} for methods in spec["paths"].values())
    assert "TrialView" in spec["components"]["schemas"]
    for gone in ("/docs", "/redoc"):
        page(reader, gone, 404)


# ---- diff


def test_diff_lists_the_reworded_criterion_with_its_grade(reader: TestClient) -> None:
    [stored] = cli_json(db_of(reader), "changes", "--nct", TRIAL, "--kind", "eligibility_criteria")
    a, b = stored["from_version_id"], stored["to_version_id"]
    doc = page(reader, f"/trials/{TRIAL}/diff?a={a}&b={b}")
    tables = doc.xpath('//section[@id="diff"]//table[contains(@class, "side-by-side")]')
    assert len(tables) == 1
    items = tables[0].xpath('.//tr[@class="item"]')
    expected = stored["detail"]["items"]
    assert [
        (
            tr.get("data-grade"),
            tr.xpath('string(td[@class="before"])'),
            tr.xpath('string(td[@class="after"])'),
        )
        for tr in items
    ] == [(e["grade"], e["before"], e["after"]) for e in expected]
    assert [e["grade"] for e in expected] == ["minor"]
    reason = items[0].xpath('string(td[@class="reason"])').split(None, 1)
    assert reason == [expected[0]["grade"], expected[0]["reason"]]
    assert doc.xpath('//section[@id="diff"]//span[@class="grade grade-minor"]')
    data = api(reader, f"/api/trials/{TRIAL}/diff?a={a}&b={b}")
    assert [(c["kind"], c["grade"]) for c in data["changes"]] == [("eligibility_criteria", "minor")]
    assert [i["after"] for i in data["changes"][0]["items"]] == [e["after"] for e in expected]

    first, last = stored["from_version_id"] - 2, stored["to_version_id"] + 1  # across it all
    whole = page(reader, f"/trials/{TRIAL}/diff?a={first}&b={last}")
    kinds = whole.xpath('//table[contains(@class, "side-by-side")]/@data-kind')
    assert {"status", "primary_completion_date", "eligibility_criteria"} <= set(kinds)


# ---- the command


def test_serve_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "127.0.0.1" in result.output


def test_serve_warns_when_not_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    ran: list[tuple[str, int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, host, port, **_kw: ran.append((host, port)))
    assert (
        CliRunner().invoke(cli, ["--db", str(tmp_path / "web.db"), "db", "upgrade"]).exit_code == 0
    )
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "web.db"), "serve", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 0, result.output
    assert ran == [("0.0.0.0", 8000)]
    assert "reachable from other machines" in result.stderr
    assert result.stdout == ""


def test_serve_runs_on_loopback(
    analyst_template: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    shutil.copytree(analyst_template, tmp_path / "db")
    db = tmp_path / "db" / "trialwatch.db"
    port = free_port()
    env = {**os.environ, "TRIALWATCH_DATABASE_URL": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "trialwatch.cli", "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1].decode()
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == CSP
        assert TRIAL in response.text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert b"other machines" not in stderr  # loopback: no warning


def test_serve_app_helper(analyst_url: str) -> None:  # noqa: F811
    with serve_app(analyst_url) as base_url:
        response = httpx.get(f"{base_url}/api/trials/{TRIAL}/timeline", timeout=5)
    assert response.status_code == 200
    assert response.json()["nct_id"] == TRIAL
