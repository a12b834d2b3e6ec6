"""The Atom feeds of changes (any filtered feed, a trial's, a watch's) on the analyst database
(SQLite and PostgreSQL): read back by a feed reader's parser and checked against Atom 1.0's
essentials, entry for entry what the JSON feed and the database say; scraped markup and
controls arrive as escaped text."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feedparser
from fastapi.testclient import TestClient
from lxml import etree, html
from sqlmodel import select

from tests.conftest import FIXTURES
from tests.web.conftest import api, db_of, page
from tests.web.expect import changes, heard, new_watch, newest_first, session_on, trials
from tests.web.test_web_hostile import BIDI, ingest_edited
from trialwatch.registry.models import Trial

TRIAL = "NCT04280705"
ATOM = "{http://www.w3.org/2005/Atom}"
TAG = "tag:trialwatch,2026:change/"
BASE = "http://testserver"
SCRIPT = "<script>alert(1)</script>"
FORBIDDEN_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def feed_of(client: TestClient, url: str) -> tuple[Any, Any]:
    """The feed at ``url`` as feedparser reads it and as XML, after checking Atom 1.0's
    essentials: the feed's id, title, updated and self link; each entry's id, title,
    updated and exactly one alternate link; ids unique."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    assert parsed.version == "atom10"
    root = etree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    datetime.fromisoformat(root.findtext(f"{ATOM}updated"))
    assert root.findall(f"{ATOM}author/{ATOM}name")
    [self_link] = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "self"]
    assert self_link.get("href").startswith(BASE)
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        alternate = [
            x for x in entry.findall(f"{ATOM}link") if x.get("rel", "alternate") == "alternate"
        ]
        assert len(alternate) == 1
        assert entry.find(f"{ATOM}content").get("type") == "html"
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
    return parsed, root


def entry_ids(parsed: Any) -> list[int]:
    assert all(e.id.startswith(TAG) for e in parsed.entries)
    return [int(e.id[len(TAG) :]) for e in parsed.entries]


def test_atom_entries_are_the_feeds_changes(reader: TestClient) -> None:
    held = trials(db_of(reader))
    for query, said in (
        ("", ""),
        ("kind=status", "kind=status"),
        ("grade=major&clock=registry", "grade=major&clock=registry"),
        ("limit=3", "limit=3"),
        ("phase=2", "phase=PHASE2"),  # the page's filters as the registry words them
    ):
        parsed, root = feed_of(reader, f"/changes.atom?{query}")
        shown = api(reader, f"/api/changes?{query}")["changes"]
        assert shown and entry_ids(parsed) == [c["id"] for c in shown], query
        for entry, change in zip(parsed.entries, shown, strict=True):
            diff = urlencode({"a": change["from_version_id"], "b": change["to_version_id"]})
            assert entry.link == f"{BASE}/trials/{change['nct_id']}/diff?{diff}"
            assert {t.term for t in entry.tags} == {change["kind"], change["grade"]}
            assert entry.title.startswith(f"{change['nct_id']} · {change['kind']}")
            assert held[change["nct_id"]].brief_title in entry.title
            assert change["summary"] in entry.summary and change["reason"] in entry.summary
            when = datetime.fromisoformat(change["observed_at"])
            if "clock=registry" in query and change["registry_date"]:
                when = datetime.combine(date.fromisoformat(change["registry_date"]), time.min, UTC)
            assert datetime(*entry.updated_parsed[:6], tzinfo=UTC) == when
        newest = max(datetime(*e.updated_parsed[:6], tzinfo=UTC) for e in parsed.entries)
        assert datetime.fromisoformat(root.findtext(f"{ATOM}updated")) == newest
        [alternate] = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "alternate"]
        assert alternate.get("href") == f"{BASE}/changes" + (f"?{said}" if said else "")
    assert len(feed_of(reader, "/changes.atom?limit=2")[0].entries) == 2


def test_atom_content_is_the_item_level_diff(reader: TestClient) -> None:
    stored = changes(db_of(reader))
    parsed, root = feed_of(reader, "/changes.atom?kind=eligibility_criteria")
    assert parsed.entries
    for entry in root.findall(f"{ATOM}entry"):
        change = stored[int(entry.findtext(f"{ATOM}id")[len(TAG) :])]
        content = html.fragment_fromstring(entry.findtext(f"{ATOM}content"), create_parent="div")
        lines = [li.text_content() for li in content.xpath("//li")]
        assert len(lines) == len(change.detail["items"])
        for line, item in zip(lines, change.detail["items"], strict=True):
            assert line.startswith(item["op"])
            for side in ("before", "after", "text"):
                if item.get(side):
                    assert " ".join(item[side].split()) in line, (side, line)
    [status] = [c for c in stored.values() if c.kind == "status" and c.nct_id == TRIAL][:1]
    parsed, root = feed_of(reader, f"/trials/{TRIAL}/changes.atom?kind=status")
    found = [
        e for e in root.findall(f"{ATOM}entry") if e.findtext(f"{ATOM}id") == f"{TAG}{status.id}"
    ]
    content = html.fragment_fromstring(found[0].findtext(f"{ATOM}content"), create_parent="div")
    assert f"{status.before} → {status.after}" in content.text_content()


def test_a_trials_and_a_watchs_atom_feeds(client: TestClient) -> None:
    url = db_of(client)
    parsed, root = feed_of(client, f"/trials/{TRIAL}/changes.atom")
    assert entry_ids(parsed) == newest_first(url, nct_ids=[TRIAL])
    [alternate] = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "alternate"]
    assert alternate.get("href") == f"{BASE}/trials/{TRIAL}"
    assert TRIAL in parsed.feed.title
    watch = new_watch(url, email="someone@example.org", nct_ids=[TRIAL], min_grade="major")
    wanted = heard(url)[watch]
    response = client.get(f"/watches/{watch}/changes.atom")
    assert "example.org" not in response.text
    parsed, _ = feed_of(client, f"/watches/{watch}/changes.atom")
    assert entry_ids(parsed) == [i for i in newest_first(url) if i in wanted]
    assert wanted and f"watch {watch}" in parsed.feed.title
    assert entry_ids(feed_of(client, f"/changes.atom?watch={watch}")[0]) == entry_ids(parsed)


def test_pages_name_their_atom_feed(reader: TestClient) -> None:
    for where, atom in (
        ("/changes?kind=status&limit=2", "/changes.atom?kind=status&limit=2"),
        ("/changes", "/changes.atom"),
        ("/trials?q=lymphoma&status=completed", "/changes.atom?q=lymphoma&status=COMPLETED"),
        ("/", "/changes.atom"),
    ):
        doc = page(reader, where)
        found = doc.xpath('//head/link[@rel="alternate"][@type="application/atom+xml"]/@href')
        assert found == [atom], where
        assert doc.xpath('//main//a[@class="atom"]/@href') == [atom], where
        parsed, _ = feed_of(reader, atom)
        query = atom.partition("?")[2]
        assert entry_ids(parsed) == [
            c["id"] for c in api(reader, f"/api/changes?{query}")["changes"]
        ]
    assert entry_ids(feed_of(reader, "/changes.atom?q=lymphoma&status=COMPLETED")[0])


def test_scraped_text_in_atom_is_escaped_text(client: TestClient, tmp_path: Path) -> None:
    """A stated test edit of a real study: its title and a new exclusion criterion hold a
    script element, bidirectional controls, line breaks and an escape character; the stored
    title is then given line breaks and a vertical tab, as a source keeping them would."""
    original = FIXTURES / "ctgov" / "NCT00184067" / "ctgov_v2_NCT00184067.json"
    study = json.loads(original.read_bytes())
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = f"Booster \u202e{SCRIPT}\u202c\r\ntrial\x1b"
    criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
    escaped = SCRIPT.replace("<", "\\<").replace(">", "\\>")  # Markdown: a literal "<"
    protocol["eligibilityModule"]["eligibilityCriteria"] = criteria.replace(
        "Exclusion Criteria:\n", f"Exclusion Criteria:\n\n* Age {BIDI}{escaped} over 90\x1b\n", 1
    )
    protocol["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2015-01-05"
    ingest_edited(db_of(client), study, tmp_path)
    with session_on(db_of(client)) as session:
        trial = session.exec(select(Trial).where(Trial.nct_id == "NCT00184067")).one()
        trial.brief_title = f"Booster \u2067{SCRIPT}\r\n\x0btrial\u2069\n"
        session.add(trial)

    for url in ("/trials/NCT00184067/changes.atom", "/changes.atom"):
        body = client.get(url).text
        assert not set(BIDI) & set(body) and not FORBIDDEN_IN_XML.search(body), url
        parsed, root = feed_of(client, url)
        entries = [
            e for e in root.findall(f"{ATOM}entry") if "NCT00184067" in e.findtext(f"{ATOM}title")
        ]
        kinds = {e.find(f"{ATOM}category").get("term") for e in entries}
        assert {"title", "eligibility_criteria"} <= kinds, url
        for entry in entries:
            title = entry.findtext(f"{ATOM}title")
            assert f"Booster {SCRIPT} trial" in title
            assert not re.search("[\r\n\x00-\x1f]", title) and not set(BIDI) & set(title)
            text = entry.findtext(f"{ATOM}content")  # the HTML, as a reader gets it
            assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
            content = html.fragment_fromstring(text, create_parent="div")
            assert not content.xpath("//script") and SCRIPT in content.text_content()
        [criterion] = [
            e for e in entries if e.find(f"{ATOM}category").get("term") == "eligibility_criteria"
        ]
        content = html.fragment_fromstring(
            criterion.findtext(f"{ATOM}content"), create_parent="div"
        )
        assert f"Age {SCRIPT} over 90" in content.text_content()
        assert any(SCRIPT in e.title for e in parsed.entries)
