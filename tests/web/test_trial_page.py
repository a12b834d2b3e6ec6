"""The trial page tells the trial's story, and its diffs can be scanned: read from the analyst
database (real recorded records and the demo's stated edits), compared with what `trialwatch
show`, `history` and `changes` say about the same trial."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from tests.conftest import FIXTURES
from tests.web.browser import HOSTILE, HOSTILE_TRIAL, ingest_hostile
from tests.web.conftest import api, cli_json, db_of, page
from trialwatch.cli import cli
from trialwatch.display import status_words

TRIAL = "NCT04280705"  # registry history: statuses, a reworded criterion, a slip
MANY_SITES = "NCT04267848"  # its later record adds 1,146 sites and drops two collaborators
# Markup or an entity shown as text: what raw criteria source looks like on a page.
RAW_SOURCE = re.compile(
    r"<\s*/?\s*(p|li|ol|ul|br|div|span|b|i|em|strong)\b|&(#x?[0-9a-f]+|[a-z]+);"
)


def criteria_texts(doc: Any) -> list[str]:
    return [
        " ".join(t.split()) for t in doc.xpath('//*[@id="criteria"]//li[@class="criterion"]/text()')
    ]


def stored_criteria(record: dict[str, Any]) -> list[str]:
    return [c["text"] for c in (record.get("eligibility") or {}).get("criteria") or []]


def test_every_trial_shows_its_criteria_as_items_not_source(reader: TestClient) -> None:
    trials = api(reader, "/api/trials")["trials"]
    assert len(trials) > 5
    shown = 0
    for trial in trials:
        nct = trial["nct_id"]
        record = api(reader, f"/api/trials/{nct}")["record"]  # as `show` gives it (test_web)
        doc = page(reader, f"/trials/{nct}")
        text = doc.xpath('string(//*[@id="eligibility"])')
        assert not RAW_SOURCE.search(text), (nct, RAW_SOURCE.search(text))
        assert criteria_texts(doc) == [" ".join(t.split()) for t in stored_criteria(record)], nct
        shown += bool(stored_criteria(record))
    assert shown >= 5


def test_the_flagship_trial_criteria_keep_their_tree(reader: TestClient) -> None:
    record = cli_json(db_of(reader), "show", TRIAL)
    assert "&gt;" in record["eligibility"]["text"] and "<li>" in record["eligibility"]["text"]
    doc = page(reader, f"/trials/{TRIAL}")
    sections = doc.xpath('//*[@id="criteria"]/h3[@class="criteria-section"]/text()')
    assert sections == ["Inclusion criteria", "Exclusion criteria"]
    nested = [c for c in record["eligibility"]["criteria"] if c["path"]]
    assert nested, "the record has sub-items"
    parent = nested[0]["path"][0]
    [holder] = [
        li
        for li in doc.xpath('//*[@id="criteria"]//li[@class="criterion"]')
        if li.text.strip().rstrip(":") == parent
    ]
    subs = [" ".join(t.split()) for t in holder.xpath('./ul/li[@class="criterion"]/text()')]
    assert subs == [c["text"] for c in nested if c["path"] == [parent]]
    assert "Male or non-pregnant female adult >/=18 years" in " ".join(criteria_texts(doc))


def test_header_states_the_record(reader: TestClient) -> None:
    record = cli_json(db_of(reader), "show", TRIAL)
    doc = page(reader, f"/trials/{TRIAL}")
    status = doc.xpath('string(//*[@id="status"])')
    assert status == status_words(record["overall_status"]) and "_" not in status
    facts = {
        dd.get("data-fact"): " ".join(dd.text_content().split())
        for dd in doc.xpath('//dl[@id="facts"]/dd')
    }
    enrollment = record["enrollment"]
    assert (
        facts["Enrollment"]
        == f"{enrollment['count']:,} participants ({enrollment['type'].lower()})"
    )
    for label, field in (
        ("Start", "start_date"),
        ("Primary completion", "primary_completion_date"),
        ("Study completion", "completion_date"),
    ):
        value = record[field]
        assert facts[label] == f"{value['date']} ({value['type'].lower()})", label
    assert facts["Lead sponsor"] == record["lead_sponsor"]
    assert doc.xpath(f'//*[@id="links"]/a[@href="https://clinicaltrials.gov/study/{TRIAL}"]')
    outcomes = doc.xpath('//details[@data-kind="primary_outcomes"]//li[@class="outcome"]')
    assert len(outcomes) == len(record["primary_outcomes"])
    secondary = doc.xpath('//details[@data-kind="secondary_outcomes"]//li[@class="outcome"]')
    assert len(secondary) == len(record["secondary_outcomes"])
    sites = doc.xpath('//*[@id="locations"]//li[@class="site"]')
    assert len(sites) == len(record["locations"])


def test_site_pages_it_was_seen_on_are_links_and_only_web_links(reader: TestClient) -> None:
    many = cli_json(db_of(reader), "show", MANY_SITES)
    doc = page(reader, f"/trials/{MANY_SITES}")
    count = doc.xpath('string(//*[@id="site-count"])')
    assert count.startswith(f"{len(many['locations']):,} sites in ")
    hrefs = doc.xpath('//*[@id="links"]/a/@href')
    assert hrefs[0] == f"https://clinicaltrials.gov/study/{MANY_SITES}"
    assert all(h.startswith(("https://", "http://", "/")) for h in doc.xpath("//a/@href"))


def runs_text(cell: Any, keep: str) -> str:
    """The cell's text without the marks of the other kind (``keep``: del or ins)."""
    parts = [cell.text or ""]
    for child in cell:
        if child.tag in ("del", "ins") and child.tag != keep:
            continue
        parts.append(child.text_content())
        parts.append(child.tail or "")
    return "".join(parts)


def test_reworded_criterion_marks_the_words_that_changed(reader: TestClient) -> None:
    [stored] = cli_json(db_of(reader), "changes", "--nct", TRIAL, "--kind", "eligibility_criteria")
    [item] = stored["detail"]["items"]
    doc = page(
        reader, f"/trials/{TRIAL}/diff?a={stored['from_version_id']}&b={stored['to_version_id']}"
    )
    [row] = doc.xpath('//section[@id="diff"]//tr[@class="item"]')
    before, after = row.xpath('td[@class="before"]')[0], row.xpath('td[@class="after"]')[0]
    # Each side reads as its text; the marks are the words only that side has.
    assert before.text_content() == item["before"] and after.text_content() == item["after"]
    deleted = [d.text_content() for d in before.xpath(".//del")]
    inserted = [i.text_content() for i in after.xpath(".//ins")]
    assert inserted and deleted
    assert not before.xpath(".//ins") and not after.xpath(".//del")
    unchanged_before = "".join(t for t in before.xpath("text()"))
    unchanged_after = "".join(t for t in after.xpath("text()"))
    assert unchanged_before == unchanged_after  # what is not marked is the same on both sides
    api_item = api(
        reader,
        f"/api/trials/{TRIAL}/diff?a={stored['from_version_id']}&b={stored['to_version_id']}",
    )
    marks = api_item["changes"][0]["items"][0]["marks"]
    assert "".join(r["text"] for r in marks["after"] if r["op"] != "del") == item["after"]


def test_a_long_list_is_items_folded_behind_a_count(reader: TestClient) -> None:
    [sites] = cli_json(db_of(reader), "changes", "--nct", MANY_SITES, "--kind", "locations")
    added = sites["detail"]["added"]
    assert len(added) > 1000
    url = f"/trials/{MANY_SITES}/diff?a={sites['from_version_id']}&b={sites['to_version_id']}"
    doc = page(reader, url)
    [folded] = doc.xpath('//details[@class="folded"][@data-op="added"]')
    assert folded.xpath("string(summary)") == f"{len(added):,} sites added"
    rows = folded.xpath('.//table[@data-kind="locations"]//tr[@data-op="added"]')
    assert len(rows) == len(added)
    assert all(";" not in r.xpath('string(td[@class="after"])') for r in rows[:50])
    assert rows[0].xpath('string(td[@class="after"])').startswith(added[0]["facility"])
    # Two collaborators removed: two items, each its own row (a short list is not folded).
    [sponsor] = cli_json(db_of(reader), "changes", "--nct", MANY_SITES, "--kind", "sponsor")
    names = doc.xpath('//table[@data-kind="sponsor"]//tr[@data-op="removed"]/td[@class="before"]')
    assert [n.text_content() for n in names] == sponsor["detail"]["removed"]


def test_previous_and_next_walk_the_versions(reader: TestClient) -> None:
    rows = [r for r in api(reader, f"/api/trials/{TRIAL}/versions") if r["origin"] == "ctgov"]
    pairs = list(zip(rows, rows[1:], strict=False))
    for i, (a, b) in enumerate(pairs):
        doc = page(reader, f"/trials/{TRIAL}/diff?a={a['version_id']}&b={b['version_id']}")
        prev = doc.xpath('//nav[contains(@class, "versions-nav")]/a[@rel="prev"]/@href')
        following = doc.xpath('//nav[contains(@class, "versions-nav")]/a[@rel="next"]/@href')
        if i == 0:
            assert prev == []
        else:
            before = pairs[i - 1]
            assert prev == [f"/trials/{TRIAL}/diff?a={before[0]['version_id']}&b={a['version_id']}"]
        if i == len(pairs) - 1:
            assert following == []
        else:
            after = pairs[i + 1]
            assert following == [
                f"/trials/{TRIAL}/diff?a={b['version_id']}&b={after[1]['version_id']}"
            ]
        page(reader, (prev or following)[0])
    versions = page(reader, f"/trials/{TRIAL}").xpath(
        '//table[@id="versions"]//a[@class="diff-link"]/@href'
    )
    assert versions == [
        f"/trials/{TRIAL}/diff?a={a['version_id']}&b={b['version_id']}" for a, b in pairs
    ]


def test_whole_record_side_by_side_folds_what_did_not_change(reader: TestClient) -> None:
    [stored] = cli_json(db_of(reader), "changes", "--nct", TRIAL, "--kind", "eligibility_criteria")
    a, b = stored["from_version_id"], stored["to_version_id"]
    view = api(reader, f"/api/trials/{TRIAL}/compare?a={a}&b={b}")
    changed = {s["name"]: s["changed"] for s in view["sections"]}
    assert changed["Eligibility"] == 1  # the one reworded criterion
    assert changed["Identification"] == 0 and changed["Locations"] == 0
    doc = page(reader, f"/trials/{TRIAL}/compare?a={a}&b={b}")
    for section in doc.xpath('//section[@id="compare"]/details[@class="section"]'):
        name = section.get("data-section")
        assert (section.get("open") is not None) == bool(changed[name]), name
    [row] = doc.xpath('//details[@data-section="Eligibility"]//tr[@class="changed"]')
    [item] = stored["detail"]["items"]
    assert row.xpath('td[@class="before"]')[0].text_content() == item["before"]
    assert row.xpath('td[@class="after"]')[0].text_content() == item["after"]
    assert row.xpath('td[@class="after"]//ins')
    record = cli_json(db_of(reader), "show", TRIAL)
    shown = doc.xpath('//details[@data-section="Eligibility"]//td[@class="after"]')
    fields = ("sex", "minimum_age", "maximum_age", "healthy_volunteers")
    stated = sum(record.get(f) is not None for f in fields)
    assert len(shown) == len(record["eligibility"]["criteria"]) + stated
    response = reader.get(f"/trials/{TRIAL}/compare?a={a}&b=999999")
    assert response.status_code == 404
    assert "not one of this trial's versions" in html.fromstring(response.text).text_content()


def test_hostile_text_stays_text_in_every_view(client: TestClient, tmp_path: Path) -> None:
    ingest_hostile(db_of(client), tmp_path)
    [added] = cli_json(
        db_of(client), "changes", "--nct", HOSTILE_TRIAL, "--kind", "eligibility_criteria"
    )
    pair = f"a={added['from_version_id']}&b={added['to_version_id']}"
    for url in (
        f"/trials/{HOSTILE_TRIAL}",
        f"/trials/{HOSTILE_TRIAL}/diff?{pair}",
        f"/trials/{HOSTILE_TRIAL}/compare?{pair}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<img" not in response.text, url
        doc = html.fromstring(response.text)
        assert not doc.xpath("//img") and not doc.xpath("//@onerror"), url
        assert HOSTILE in doc.text_content(), url
    doc = page(client, f"/trials/{HOSTILE_TRIAL}/compare?{pair}")
    [title] = doc.xpath('//details[@data-section="Identification"]//tr[@class="changed"]')
    assert HOSTILE in "".join(title.xpath('td[@class="after"]//ins/text()'))
    assert HOSTILE in criteria_texts(page(client, f"/trials/{HOSTILE_TRIAL}"))


def test_a_site_page_it_was_seen_on_is_linked(client: TestClient) -> None:
    folder = FIXTURES / "veeva" / "seed003_NCT02249676"
    nct = json.loads((folder / "expected.json").read_text())["record"]["nct_id"]
    where = f"https://pages.example/study/{nct}"  # where this test says the page was read
    result = CliRunner().invoke(
        cli,
        ["--db", db_of(client), "import", str(folder / "semantic.html")]
        + ["--source", "veeva", "--url", where],
    )
    assert result.exit_code == 0, result.output
    doc = page(client, f"/trials/{nct}")
    links = [(a.text, a.get("href")) for a in doc.xpath('//*[@id="links"]/a[@class="source-link"]')]
    assert links == [
        ("ClinicalTrials.gov", f"https://clinicaltrials.gov/study/{nct}"),
        ("ClinicalTrials.Veeva", where),
    ]
