"""The change feed (its order on either clock, filters, pages, limit, titles and a
watch's changes), bad requests, the security headers and scraped markup, on the analyst
database (SQLite and PostgreSQL), read through the hooks the browser tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi.testclient import TestClient
from lxml import html

from tests.analyst_data import ROUND_1
from tests.conftest import FIXTURES
from tests.web.conftest import api, cli_json, db_of, page
from tests.web.expect import changes, heard, new_watch, newest_first, session_on, trials
from trialwatch.alerts.watches import note_query_member, query_key
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.kinds import CHANGE_KINDS
from trialwatch.registry.db import open_engine
from trialwatch.snapshots import SnapshotStore
from trialwatch.web.app import CSP

TRIAL = "NCT04280705"
XSS = "<img src=x onerror=alert(1)>"


# ---- the change feed


def feed_ids(client: TestClient, query: str) -> list[int]:
    """The ids the page and the API show for ``query``, checked to be the same rows."""
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


def test_feed_is_newest_first_on_either_clock(reader: TestClient) -> None:
    url = db_of(reader)
    orders = {}
    for clock in ("observed", "registry"):
        want = newest_first(url, clock=clock)
        assert len(want) > 5
        assert feed_ids(reader, f"clock={clock}") == want, clock
        orders[clock] = want
        doc = page(reader, f"/changes?clock={clock}")
        first = doc.xpath('string(//table[@id="changes"]/thead//th[1])')
        assert first == {"observed": "Seen", "registry": "Registry date"}[clock]
        cells = doc.xpath('//tr[@class="change"]/td[1]/@class')
        assert set(cells) == {{"observed": "seen", "registry": "registry-date"}[clock]}
        # The switch names the other clock as a link and this one as the current.
        other = "registry" if clock == "observed" else "observed"
        assert doc.xpath(f'//nav[@class="clock"]/span[@class="clock-{clock}"][@aria-current]')
        [link] = doc.xpath(f'//nav[@class="clock"]/a[@class="clock-{other}"]/@href')
        assert feed_ids(reader, link.split("?", 1)[1]) == newest_first(url, clock=other)
    assert feed_ids(reader, "") == orders["observed"]
    assert orders["observed"] != orders["registry"]
    stored = changes(url)
    days = [stored[i].registry_date or "" for i in orders["registry"]]
    assert days == sorted(days, reverse=True)
    seen = [stored[i].observed_at for i in orders["observed"]]
    assert seen == sorted(seen, reverse=True)


def test_feed_filters_select_what_list_changes_selects(reader: TestClient) -> None:
    url = db_of(reader)
    record = cli_json(url, "show", TRIAL)
    sponsor = record["lead_sponsor"][:12].lower()
    day = datetime(2026, 11, 2, tzinfo=UTC)
    status = record["overall_status"]
    word = max(record["brief_title"].split(), key=len)
    matching = [t["nct_id"] for t in api(reader, f"/api/trials?q={word}")["trials"]]
    cases: list[tuple[str, dict[str, Any]]] = [
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
        (
            "since=2020-01-01&until=2020-12-31&clock=registry",
            {
                "since": datetime(2020, 1, 1, tzinfo=UTC),
                "until": datetime(2020, 12, 31, tzinfo=UTC),
                "clock": "registry",
            },
        ),
        (f"sponsor={sponsor}", {"sponsors": [sponsor]}),
        ("phase=PHASE3", {"phases": ["PHASE3"]}),
        ("phase=phase2&grade=major", {"phases": ["PHASE2"], "min_grade": "major"}),
        ("phase=2", {"phases": ["PHASE2"]}),
        ("phase=Phase%203", {"phases": ["PHASE3"]}),
        (f"status={status}", {"statuses": [status]}),
        ("status=recruiting", {"statuses": ["RECRUITING"]}),
        ("status=Active,%20not%20recruiting", {"statuses": ["ACTIVE_NOT_RECRUITING"]}),
        (f"q={word}", {"nct_ids": matching}),
        (f"q={word}&kind=status", {"nct_ids": matching, "kinds": ["status"]}),
    ]
    everything = newest_first(url)
    for query, filters in cases:
        want = newest_first(url, **filters)
        assert feed_ids(reader, query) == want, query
        assert want and want != everything or query.startswith("until"), query
    held = trials(url)
    for change in changes(url).values():  # the status is the trial's, now
        wanted = change.id in newest_first(url, statuses=[status])
        assert wanted == (held[change.nct_id].overall_status == status)
    form = page(reader, "/changes").xpath('//form[@id="feed-filters"]')[0]
    for name in ("q", "kind", "grade", "since", "until", "sponsor", "phase", "status", "clock"):
        assert form.xpath(f'.//*[@name="{name}"]'), name
    for name in ("kind", "grade", "status", "phase", "clock"):
        assert form.xpath(f'.//select[@name="{name}"]'), name
    assert not form.xpath('.//*[@name="page"]')  # pages are links, not a box
    chosen = page(reader, "/changes?status=recruiting&clock=registry").xpath(
        '//form[@id="feed-filters"]//option[@selected]/@value'
    )
    assert {"RECRUITING", "registry"} <= set(chosen)


def test_feed_shows_each_trials_title(reader: TestClient) -> None:
    held = trials(db_of(reader))
    doc = page(reader, "/changes")
    rows = doc.xpath('//tr[@class="change"]')
    assert rows
    for row in rows:
        title = held[row.get("data-nct")].brief_title
        assert title and row.xpath('string(td[@class="title"])') == title
    for change in api(reader, "/api/changes")["changes"]:
        assert change["title"] == held[change["nct_id"]].brief_title
        assert change["reason"] == " ".join(str(change_reason(reader, change["id"])).split())


def change_reason(client: TestClient, change_id: int) -> str:
    return str(changes(db_of(client))[change_id].detail.get("reason") or "")


def test_feed_limit(reader: TestClient) -> None:
    url = db_of(reader)
    everything = newest_first(url)
    one = api(reader, "/api/changes?limit=1")
    assert [c["id"] for c in one["changes"]] == everything[:1]
    assert one["has_next"] and one["page_size"] == 1 and one["total"] == len(everything)
    assert [c["id"] for c in api(reader, "/api/changes?limit=500")["changes"]] == everything
    assert feed_ids(reader, "limit=3&page=2") == everything[3:6]
    assert len(api(reader, "/api/changes")["changes"]) == min(50, len(everything))


def test_feed_pages(reader: TestClient) -> None:
    url = db_of(reader)
    everything = newest_first(url)
    seen: list[int] = []
    link: str | None = "/changes?limit=4"
    pages: list[str] = []
    while link is not None:
        doc = page(reader, link)
        pages.append(link)
        seen += [int(r) for r in doc.xpath('//tr[@class="change"]/@data-change-id')]
        assert bool(doc.xpath('//a[@class="prev"]')) == (len(pages) > 1)
        assert f"page {len(pages)} of {-(-len(everything) // 4)}" in doc.xpath(
            'string(//p[@class="count"])'
        )
        nexts = doc.xpath('//a[@class="next"]/@href')
        link = nexts[0] if nexts else None
    assert seen == everything
    assert len(pages) == -(-len(everything) // 4) > 2
    # Back from the last page, each previous link is the page before.
    back = pages[-1]
    for before in reversed(pages[:-1]):
        [back] = page(reader, back).xpath('//a[@class="prev"]/@href')
        assert int(parse_qs(back.split("?")[1])["page"][0]) == pages.index(before) + 1
        assert feed_ids(reader, back.split("?")[1]) == feed_ids(reader, before.split("?")[1])
    assert api(reader, f"/api/changes?limit=4&page={len(pages) + 1}")["changes"] == []
    grade = api(reader, "/api/changes?grade=major&page=2&limit=4")
    major = newest_first(url, min_grade="major")
    assert grade["total"] == len(major)
    assert [c["id"] for c in grade["changes"]] == major[4:8]
    # A filtered page's links keep its filters.
    doc = page(reader, "/changes?grade=major&limit=2&clock=registry&page=2")
    for href in doc.xpath('//nav[@class="paging"]/a/@href'):
        kept = parse_qs(href.split("?")[1])
        assert (kept["grade"], kept["limit"], kept["clock"]) == (["major"], ["2"], ["registry"])


def test_feed_of_a_watch_is_what_the_outbox_queues(client: TestClient) -> None:
    url = db_of(client)
    held = trials(url)
    others = sorted(n for n in held if n != TRIAL)[:3]
    searched = {"q": "covid"}
    ids = [
        new_watch(url, email="one@example.org", nct_ids=[TRIAL]),
        new_watch(
            url,
            email="two@example.org",
            nct_ids=[TRIAL, *others],
            kinds=["status", "enrollment", "eligibility_criteria"],
            min_grade="major",
        ),
        new_watch(
            url,
            email="three@example.org",
            source="ctgov",
            kinds=list(CHANGE_KINDS),
            min_grade="editorial",
        ),
        new_watch(url, email="four@example.org", query=searched, kinds=list(CHANGE_KINDS)),
    ]
    with session_on(url) as session:  # the search found TRIAL and one other
        for nct in (TRIAL, others[0]):
            note_query_member(session, key=query_key(searched), nct_id=nct, seen_at=ROUND_1)
    outbox = heard(url)
    assert all(outbox.get(i) for i in ids), outbox
    assert outbox[ids[0]] != outbox[ids[1]] != outbox[ids[2]]
    everything = newest_first(url)
    for watch in ids:
        want = [i for i in everything if i in outbox[watch]]
        assert feed_ids(client, f"watch={watch}") == want, watch
        response = client.get(f"/changes?watch={watch}")
        assert "example.org" not in response.text and "example.org" not in str(
            api(client, f"/api/changes?watch={watch}")
        )
        doc = html.fromstring(response.text)
        assert f"watch {watch}:" in doc.xpath('string(//p[@class="watch-said"])')
    both = [i for i in newest_first(url, kinds=["status"]) if i in outbox[ids[0]]]
    assert feed_ids(client, f"watch={ids[0]}&kind=status") == both


# ---- errors and headers


BAD = [
    ("/changes?since=2026-02-30", 400, "since"),
    ("/changes?clock=sideways", 400, "clock"),
    ("/changes?status=dancing", 400, "status"),
    ("/changes?limit=0", 400, "limit"),
    ("/changes?limit=501", 400, "limit"),
    ("/changes?limit=ten", 400, "limit"),
    ("/changes?limit=-1", 400, "limit"),
    ("/changes?watch=x", 400, "watch"),
    ("/changes?watch=987654", 400, "watch: there is no watch 987654"),
    ("/changes?q=" + "x" * 201, 400, "q:"),
    ("/trials?status=dancing", 400, "status"),
    ("/trials?phase=9", 400, "phase"),
    ("/trials?sort=sideways", 400, "sort"),
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
# Not under /api: the Atom feeds and the CSV answer a problem with the page's one line.
NOT_API = [
    ("/changes.atom?limit=0", 400, "limit"),
    ("/changes.atom?grade=huge", 400, "grade"),
    ("/trials.csv?sort=sideways", 400, "sort"),
    ("/trials/NCT99999999/changes.atom", 404, "NCT99999999"),
    ("/trials/nonsense/changes.atom", 404, "not an NCT id"),
    ("/watches/987654/changes.atom", 404, "no such watch"),
    ("/watches/x/changes.atom", 404, "no such watch"),
]


def test_bad_requests_get_one_line(reader: TestClient) -> None:
    for url, status, words in BAD:
        doc = page(reader, url, status)
        [line] = doc.xpath('//p[@id="problem"]/text()')
        assert words in line and "\n" not in line.strip(), url
        assert "Traceback" not in html.tostring(doc, encoding="unicode")
        if not url.startswith("/no/"):
            data = api(reader, "/api" + url, status)
            assert data == {"detail": line}
    for url, status, words in NOT_API:
        [line] = page(reader, url, status).xpath('//p[@id="problem"]/text()')
        assert words in line and "\n" not in line.strip(), url


def test_every_response_carries_the_security_headers(reader: TestClient) -> None:
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
        "/changes.atom",
        f"/trials/{TRIAL}/changes.atom",
        "/trials.csv",
    ):
        response = reader.get(url)
        assert response.headers["content-security-policy"] == CSP, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    redirect = reader.get(f"/trials?q={TRIAL}", follow_redirects=False)
    assert redirect.headers["content-security-policy"] == CSP
    refused = reader.post(f"/trials/{TRIAL}")
    assert refused.status_code == 405 and refused.headers["content-security-policy"] == CSP
    text = reader.get(f"/trials/{TRIAL}").text
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
