"""The web page in a real browser (Debian's Chromium, driven by Playwright) over the analyst
database: what a person sees and clicks, that scraped text stays text, and that the page keeps
to its own Content-Security-Policy. Expected values are read from the database the app serves.
"""

from __future__ import annotations

import re

from tests.web.browser import (
    HOSTILE,
    HOSTILE_TRIAL,
    Tab,
    artifact,
    require_playwright,
)
from tests.web.browser_site import Site, attrs, site_fixture, submit, visit  # noqa: F401
from trialwatch.registry.models import TrialVersion

require_playwright()
from playwright.sync_api import Locator, expect  # noqa: E402

TRIAL = "NCT04280705"
# Its registry history as stated in trialwatch/demo/data/history_plan.json.
STATUSES = ["NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING"]
PAGE_SIZE = 50
CSP = "default-src 'none'"


def words(status: str) -> re.Pattern[str]:
    """A label for ``status`` as text: its words in any case, joined by spaces, _ or ,."""
    return re.compile(r"^\s*" + r"[\s_,]+".join(status.split("_")) + r"\b", re.IGNORECASE)


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    assert found["width"] > 0 and found["height"] > 0, f"{locator} is empty: {found}"
    return {key: float(found[key]) for key in ("x", "y", "width", "height")}


def left_to_right(boxes: list[dict[str, float]]) -> bool:
    """Each box starts right of the one before (boxes of SVG shapes take in their stroke, so
    neighbours may share a pixel or two)."""
    return all(a["x"] < b["x"] for a, b in zip(boxes, boxes[1:], strict=False))


def side_by_side(boxes: list[dict[str, float]], overlap: float = 3.0) -> bool:
    """Left to right and not on top of each other."""
    return left_to_right(boxes) and all(
        a["x"] + a["width"] <= b["x"] + overlap for a, b in zip(boxes, boxes[1:], strict=False)
    )


def expected_bands(versions: list[TrialVersion]) -> list[tuple[str | None, ...]]:
    """(status, from, until) per run of registry versions holding one status."""
    runs: list[list[str]] = []
    for version in versions:
        status = str(version.record.get("overall_status"))
        if not runs or runs[-1][0] != status:
            if runs:
                runs[-1][2] = version.registry_date or ""
            runs.append([status, version.registry_date or "", ""])
    return [(status, start, until) for status, start, until in runs]


def test_trial_page_timeline_versions_and_diff(site: Site, tab: Tab) -> None:
    trial, versions, changes, rows = site.query(TRIAL)
    page = tab.page
    response = visit(tab, f"{site.base}/trials/{TRIAL}")
    assert CSP in (response.headers.get("content-security-policy") or "")
    expect(page.locator("h1")).to_contain_text(trial.brief_title or "")

    # The status bands: one per period on the registry clock, in order, drawn left to right.
    bands = page.locator("section#timeline svg#status-bands rect.band")
    got = attrs(bands, "data-status", "data-from", "data-until")
    assert [status for status, _, _ in got] == STATUSES
    assert got == expected_bands(versions)
    band_boxes = [box(band) for band in bands.all()]
    assert side_by_side(band_boxes), band_boxes
    labels = page.locator("svg#status-bands text")
    label_boxes = []
    for band, status in zip(bands.all(), STATUSES, strict=True):
        expect(band.locator("title")).to_have_count(1)
        label = labels.filter(has_text=words(status)).first
        expect(label).to_be_visible()
        label_boxes.append(box(label))
    assert left_to_right(label_boxes), label_boxes

    # The primary completion chart: a point per version stating a date, the slip between.
    points = page.locator("svg#pcd-chart circle.pcd-point")
    stated = [
        (str(v.id), v.record["primary_completion_date"]["date"])
        for v in versions
        if v.record.get("primary_completion_date")
    ]
    assert attrs(points, "data-version-id", "data-date") == stated
    assert {date for _, date in stated} == {"2023-04-01", "2020-04-19"}
    for point in points.all():
        box(point)
    slips = page.locator("svg#pcd-chart line.slip")
    moved = [c.detail["delta_days"] for c in changes if c.kind == "primary_completion_date"]
    assert moved == [-1077]
    assert [int(d or "") for (d,) in attrs(slips, "data-delta-days")] == moved
    expect(slips).to_have_count(len(moved))

    # The versions table: every stored version, with its registry date.
    table_rows = page.locator("table#versions tr.version")
    assert sorted(int(i or "") for (i,) in attrs(table_rows, "data-version-id")) == sorted(
        row["version_id"] for row in rows
    )
    for row in rows:
        if row["registry_date"]:
            one = table_rows.locator(f'xpath=self::*[@data-version-id="{row["version_id"]}"]')
            expect(one).to_contain_text(row["registry_date"])
    shot = artifact("trial_NCT04280705.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000

    # Two versions chosen in the diff form: the reworded criterion side by side, graded.
    [reworded] = [c for c in changes if c.kind == "eligibility_criteria"]
    [item] = reworded.detail["items"]
    form = page.locator(f'form#diff-form[action="/trials/{TRIAL}/diff"]')
    form.locator("select[name=a]").select_option(str(reworded.from_version_id))
    form.locator("select[name=b]").select_option(str(reworded.to_version_id))
    submit(form)
    assert re.search(
        rf"/trials/{TRIAL}/diff\?a={reworded.from_version_id}&b={reworded.to_version_id}$",
        page.url,
    ), page.url
    diff = page.locator("section#diff")
    expect(diff).to_be_visible()
    shown = diff.locator("table.side-by-side tr.item").filter(has_text=item["after"])
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("data-grade", item["grade"])
    expect(shown.locator("td.before")).to_contain_text(item["before"])
    expect(shown.locator("td.after")).to_contain_text(item["after"])
    expect(shown).to_contain_text(item["reason"])
    expect(diff.locator(f"span.grade.grade-{reworded.grade}").first).to_be_visible()
    shot = artifact("diff_NCT04280705.png")
    diff.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000
    assert tab.csp_problems() == []
    assert tab.dialogs == []


def test_hostile_text_stays_text(site: Site, tab: Tab) -> None:
    _, versions, changes, _ = site.query(HOSTILE_TRIAL)
    page = tab.page
    [added] = [c for c in changes if c.kind == "eligibility_criteria"]
    assert added.to_version_id == versions[-1].id

    def inert() -> None:
        expect(page.locator('img[src="x"]')).to_have_count(0)
        expect(page.locator("[onerror]")).to_have_count(0)
        page.wait_for_timeout(100)  # time for an onerror handler, had one been parsed
        assert tab.dialogs == []

    visit(tab, f"{site.base}/trials/{HOSTILE_TRIAL}")
    expect(page.locator("h1")).to_contain_text(HOSTILE)
    inert()

    visit(
        tab,
        f"{site.base}/trials/{HOSTILE_TRIAL}/diff?a={added.from_version_id}"
        f"&b={added.to_version_id}",
    )
    after = page.locator("section#diff tr.item td.after").filter(has_text=HOSTILE)
    expect(after).to_have_count(1)
    expect(after).to_be_visible()
    inert()

    visit(tab, f"{site.base}/")
    form = page.locator("form#search")
    form.locator("input[name=q]").fill(HOSTILE)
    submit(form)
    found = page.locator(f'table#results tr.trial[data-nct="{HOSTILE_TRIAL}"]')
    expect(found).to_have_count(1)
    expect(found).to_contain_text(HOSTILE)
    expect(found.locator(f'a[href="/trials/{HOSTILE_TRIAL}"]')).to_have_count(1)
    inert()
    assert tab.csp_problems() == []


def test_every_page_keeps_its_csp(site: Site, tab: Tab) -> None:
    _, _, changes, _ = site.query(TRIAL)
    first = changes[0]
    paths = [
        "/",
        "/trials?q=remdesivir",
        f"/trials/{TRIAL}",
        f"/trials/{TRIAL}/diff?a={first.from_version_id}&b={first.to_version_id}",
        "/changes",
        "/changes?grade=major&kind=status",
    ]
    for path in paths:
        response = visit(tab, f"{site.base}{path}")
        policy = response.headers.get("content-security-policy") or ""
        assert CSP in policy and "style-src 'self'" in policy, (path, policy)
        assert response.headers.get("x-content-type-options") == "nosniff", path
        # Its stylesheet loaded (a blocked one would leave no rules).
        sheets = tab.page.evaluate("document.styleSheets.length")
        assert sheets >= 1, f"{path}: no stylesheet applied"
        assert tab.csp_problems() == [], path
    assert tab.console_errors == []
