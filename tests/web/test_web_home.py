"""The home page and search on the analyst database (SQLite and PostgreSQL): filters by status
and phase, the orders, when each trial last changed, and all matching trials as CSV; what is
expected read from the tables the app serves."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FIXTURES
from tests.web.conftest import api, db_of, page
from tests.web.expect import changes, trials
from tests.web.test_web_hostile import ingest_edited
from trialwatch.display import STATUS_WORDS
from trialwatch.registry.models import Trial
from trialwatch.web.words import STATUSES

TRIAL = "NCT04280705"


def listed(client: TestClient, query: str) -> list[dict[str, Any]]:
    """Every trial the search lists, page after page, checked to be the rows the page
    shows."""
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        data = api(client, f"/api/trials?{query}&page={number}")
        doc = page(client, f"/trials?{query}&page={number}")
        shown = doc.xpath('//table[@id="results"]//tr[@class="trial"]/@data-nct')
        assert shown == [t["nct_id"] for t in data["trials"]], (query, number)
        out += data["trials"]
        if number * data["page_size"] >= data["total"]:
            assert len(out) == data["total"]
            return out
        number += 1


def last_changed(url: str) -> dict[str, str]:
    """Per trial: its newest change's observed time, else when its record was updated."""
    newest: dict[str, Any] = {}
    for change in changes(url).values():
        if change.nct_id not in newest or change.observed_at > newest[change.nct_id]:
            newest[change.nct_id] = change.observed_at
    return {
        nct: (newest.get(nct) or trial.updated_at).isoformat() for nct, trial in trials(url).items()
    }


def phases(trial: Trial) -> list[str]:
    return list(trial.record.get("phases") or [])


def test_search_by_status_and_phase(reader: TestClient) -> None:
    held = trials(db_of(reader))
    statuses = {t.overall_status for t in held.values()}
    assert len(statuses) > 3
    for status in statuses:
        want = sorted(n for n, t in held.items() if t.overall_status == status)
        assert [t["nct_id"] for t in listed(reader, f"status={status}")] == want
    assert [t["nct_id"] for t in listed(reader, "status=Active,+not+recruiting")] == sorted(
        n for n, t in held.items() if t.overall_status == "ACTIVE_NOT_RECRUITING"
    )
    for phase, word in (("2", "PHASE2"), ("phase3", "PHASE3"), ("NA", "NA")):
        want = sorted(n for n, t in held.items() if word in phases(t))
        assert want and [t["nct_id"] for t in listed(reader, f"phase={phase}")] == want
    both = sorted(
        n for n, t in held.items() if "PHASE2" in phases(t) and t.overall_status == "COMPLETED"
    )
    assert both and [t["nct_id"] for t in listed(reader, "phase=2&status=completed")] == both
    doc = page(reader, "/trials?status=ACTIVE_NOT_RECRUITING")
    assert (
        doc.xpath(f'string(//tr[@data-nct="{TRIAL}"]/td[@class="state"])')
        == "Active, not recruiting"
    )
    for row in page(reader, "/").xpath('//tr[@class="trial"]'):
        status = held[row.get("data-nct")].overall_status
        assert row.xpath('string(td[@class="state"])') == STATUS_WORDS[status]
    form = page(reader, "/").xpath('//form[@id="search"]')[0]
    for name in ("q", "status", "phase", "sort"):
        assert form.xpath(f'.//*[@name="{name}"]'), name


def test_search_orders_and_last_changed(reader: TestClient) -> None:
    url = db_of(reader)
    held = trials(url)
    when = last_changed(url)
    assert len(set(when.values())) > 3
    everything = listed(reader, "")
    assert [t["nct_id"] for t in everything] == sorted(held)
    for trial in everything:
        assert trial["last_changed"] == when[trial["nct_id"]]
    doc = page(reader, "/")
    for row in doc.xpath('//tr[@class="trial"]'):
        assert row.xpath('string(td[@class="last-changed"])') == when[row.get("data-nct")][:10]

    def key(nct: str, sort: str) -> Any:
        trial = held[nct]
        if sort == "changed":
            return when[nct]
        if sort == "title":
            return (trial.brief_title or "").lower()
        return STATUSES.index(trial.overall_status or "")

    for sort in ("changed", "title", "status"):
        for backwards in (False, True):
            name = f"-{sort}" if backwards else sort
            got = [t["nct_id"] for t in listed(reader, f"sort={name}")]
            assert sorted(got) == sorted(held)
            keys = [key(n, sort) for n in got]
            assert keys == sorted(keys, reverse=backwards), name
            assert got != sorted(held), name
            ties = [n for n in got if key(n, sort) == key(got[0], sort)]
            assert ties == sorted(ties), name  # ties in NCT id order
            assert page(reader, f"/trials?sort={name}").xpath(
                '//select[@name="sort"]/option[@selected]/@value'
            ) == [name]
    newest = [t["nct_id"] for t in listed(reader, "sort=-changed")]
    completed = [t["nct_id"] for t in listed(reader, "sort=-changed&status=completed")]
    assert completed == [n for n in newest if held[n].overall_status == "COMPLETED"]


def test_search_pages_keep_their_query(reader: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trialwatch.web.home.PAGE_SIZE", 4)
    held = trials(db_of(reader))
    want = sorted(held, key=lambda n: ((held[n].brief_title or "").lower(), n), reverse=False)
    seen: list[str] = []
    link: str | None = "/trials?sort=title"
    pages = 0
    while link is not None:
        doc = page(reader, link)
        seen += doc.xpath('//tr[@class="trial"]/@data-nct')
        pages += 1
        assert bool(doc.xpath('//a[@class="prev"]')) == (pages > 1)
        nexts = doc.xpath('//a[@class="next"]/@href')
        link = nexts[0] if nexts else None
        if link:
            assert "sort=title" in link
    assert seen == want and pages == -(-len(held) // 4)


def rows_of(client: TestClient, query: str) -> list[dict[str, str]]:
    response = client.get(f"/trials.csv?{query}")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="trials.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("nct_id,title,overall_status,")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_holds_every_matching_trial(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trialwatch.web.home.PAGE_SIZE", 3)  # more than one page
    url = db_of(client)
    when = last_changed(url)
    for query in ("", "status=completed&sort=-changed", "phase=2&sort=title", "q=cancer"):
        rows = rows_of(client, query)
        shown = listed(client, query)
        assert len(shown) > 3 and [r["nct_id"] for r in rows] == [t["nct_id"] for t in shown]
        for row, trial in zip(rows, shown, strict=True):
            assert (
                row["title"] == trial["title"] and row["overall_status"] == trial["overall_status"]
            )
            assert row["lead_sponsor"] == (trial["lead_sponsor"] or "")
            assert row["phases"] == "; ".join(trial["phases"])
            assert row["conditions"] == "; ".join(trial["conditions"])
            assert row["last_changed"] == when[trial["nct_id"]]
    assert any(not r["title"].isascii() for r in rows_of(client, ""))  # UTF-8 kept
    doc = page(client, "/trials?q=cancer&status=completed")
    assert doc.xpath('//a[@class="csv"]/@href') == ["/trials.csv?q=cancer&status=COMPLETED"]


def test_csv_cells_that_would_be_formulas_are_quoted(client: TestClient, tmp_path: Path) -> None:
    """A stated test edit of a real study: its title, sponsor and a condition start as
    spreadsheet formulas would."""
    original = FIXTURES / "ctgov" / "NCT00184067" / "ctgov_v2_NCT00184067.json"
    study = json.loads(original.read_bytes())
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = '=HYPERLINK("http://example.org","x")'
    protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = "@SUM(A1:A9)"
    protocol["conditionsModule"]["conditions"] = ["+1+2", "-3"]
    protocol["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2015-01-05"
    ingest_edited(db_of(client), study, tmp_path)
    [row] = rows_of(client, "q=NCT00184067")
    assert row["title"] == '\'=HYPERLINK("http://example.org","x")'
    assert row["lead_sponsor"] == "'@SUM(A1:A9)"
    assert row["conditions"] == "'+1+2; -3"
    assert row["nct_id"] == "NCT00184067"
    [shown] = api(client, "/api/trials?q=NCT00184067")["trials"]
    assert shown["title"] == '=HYPERLINK("http://example.org","x")'  # the JSON is as stored
