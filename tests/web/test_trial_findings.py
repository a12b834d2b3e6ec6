"""The trial page's integrity findings: the stored findings that hold today, read from the
analyst database (real recorded records), each linking to the versions that show it; their
text is data, shown escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from tests.web.conftest import Client, api, db_of, page
from trialwatch.kinds import FINDING_TITLES
from trialwatch.registry.db import open_engine
from trialwatch.registry.findings import stored_findings
from trialwatch.registry.models import Finding, TrialVersion

TRIAL = "NCT04280705"  # its last version is stale and owes results (real history)
TWO_VERSIONS = "NCT00513591"  # enrollment target doubled between two real downloads
NONE = "NCT00002475"  # no finding
HOSTILE_TEXT = "<script>alert('finding')</script> & <b>bold</b>"
HOSTILE_KIND = "<img src=x onerror=alert(1)>"


def _add_hostile(url: str) -> None:
    engine = open_engine(url)
    try:
        with Session(engine) as session:
            version = session.exec(
                select(TrialVersion).where(TrialVersion.nct_id == TRIAL).limit(1)
            ).one()
            session.add(
                Finding(
                    trial_id=version.trial_id,
                    nct_id=TRIAL,
                    kind=HOSTILE_KIND,
                    key="hostile",
                    grade='"><i>major',
                    since="2020-01-01",
                    version_ids=[version.id, 10**9],
                    registry_dates=["<u>2020</u>", "2020-02-02"],
                    text=HOSTILE_TEXT,
                    detail={"phase": "<script>x</script>"},
                    first_seen_at=datetime.now(UTC),
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_findings_section_shows_what_holds_links_versions_and_escapes(client: Client) -> None:
    engine = open_engine(db_of(client))
    with Session(engine) as session:
        today = datetime.now(UTC).date()
        stored = [(f.kind, f.text) for f in stored_findings(session, on=today, nct_ids=[TRIAL])]
    engine.dispose()
    assert len(stored) >= 2
    assert any("no results posted at its last update on 2020-05-30" in t for _, t in stored)

    doc = page(client, f"/trials/{TRIAL}")
    items = doc.xpath('//section[@id="findings"]/ul[@class="findings"]/li[@class="finding"]')
    shown = [(li.get("data-kind"), li.xpath('string(.//*[@class="finding-text"])')) for li in items]
    assert shown == stored
    titles = [li.xpath('string(.//*[@class="finding-title"])') for li in items]
    assert titles == [FINDING_TITLES[kind] for kind, _ in stored]
    links = doc.xpath('//section[@id="findings"]//a/@href')
    assert links and all(h.startswith(f"/trials/{TRIAL}/compare?") for h in links)
    api_findings = api(client, f"/api/trials/{TRIAL}")["findings"]
    assert [(f["kind"], f["text"]) for f in api_findings] == stored

    # A finding naming two versions links the changes between them.
    doc = page(client, f"/trials/{TWO_VERSIONS}")
    [diff] = doc.xpath('//li[@data-kind="enrollment_change"]//a[@class="diff-link"]/@href')
    links += [diff, *doc.xpath('//section[@id="findings"]//a[@class="version-link"]/@href')]
    for url in dict.fromkeys(links):
        page(client, url)
    assert "enrollment 500 → 1000" in page(client, diff).text_content()
    empty = page(client, f"/trials/{NONE}").xpath('//section[@id="findings"]/p/text()')
    assert empty == ["No integrity finding holds today."]

    _add_hostile(db_of(client))
    response = client.get(f"/trials/{TRIAL}")
    assert response.status_code == 200
    assert "<script>" not in response.text and "<img" not in response.text
    assert "<i>" not in response.text and "<u>" not in response.text
    doc = page(client, f"/trials/{TRIAL}")
    hostile = doc.xpath('//section[@id="findings"]//li[@class="finding"]')[0]
    assert hostile.get("data-kind") == HOSTILE_KIND  # the oldest first
    assert hostile.xpath('string(.//*[@class="finding-text"])') == HOSTILE_TEXT
    assert hostile.xpath('string(.//*[@class="finding-title"])') == HOSTILE_KIND
    assert hostile.xpath('.//*[@class="version-gone"]')  # not one of its versions: no link
    assert api(client, f"/api/trials/{TRIAL}")["findings"][0]["text"] == HOSTILE_TEXT
