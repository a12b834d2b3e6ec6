"""A trial's pages in a real browser (Debian's Chromium, driven by Playwright) at a laptop's
width and a phone's: nothing runs past the right edge, criteria read as items (no tags, no
entities), a reworded criterion's words are marked, and the links between versions lead where
they say. Screenshots are kept for people to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.browser import (
    Tab,
    artifact,
    copy_analyst,
    require_playwright,
)
from tests.web.conftest import cli_json, serve_app

require_playwright()
from playwright.sync_api import expect  # noqa: E402

TRIAL = "NCT04280705"
MANY_SITES = "NCT04267848"
WIDTHS = (1280, 390)  # a laptop, a phone
RAW_SOURCE = re.compile(r"<\s*/?\s*(p|li|ol|ul|br|div)\b|&(#x?[0-9a-f]+|[a-z]+);", re.IGNORECASE)


@pytest.fixture(scope="module")
def served(
    analyst_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of the app on a copy of the analyst database."""
    url, _ = copy_analyst(analyst_template, tmp_path_factory.mktemp("trial-pages"))
    with serve_app(url) as base:
        yield base, url


def overflow(tab: Tab) -> int:
    """How far the page runs past the window's right edge, in CSS pixels."""
    return int(tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def shoot(tab: Tab, name: str) -> None:
    shot = artifact(name)
    tab.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000


@pytest.mark.parametrize("width", WIDTHS)
def test_trial_diff_and_whole_record_at_each_width(
    served: tuple[str, str], tab: Tab, width: int
) -> None:
    base, url = served
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900})
    [reworded] = cli_json(url, "changes", "--nct", TRIAL, "--kind", "eligibility_criteria")
    a, b = reworded["from_version_id"], reworded["to_version_id"]

    page.goto(f"{base}/trials/{TRIAL}")
    assert overflow(tab) <= 0, f"trial page runs {overflow(tab)} px past a {width} px window"
    items = page.locator("#criteria li.criterion")
    expect(items.first).to_be_visible()
    record = cli_json(url, "show", TRIAL)
    assert items.count() == len(record["eligibility"]["criteria"])
    text = page.locator("#eligibility").inner_text()
    assert not RAW_SOURCE.search(text), RAW_SOURCE.search(text)
    expect(page.locator("table#versions")).to_be_visible()
    expect(
        page.locator(f'#links a[href="https://clinicaltrials.gov/study/{TRIAL}"]')
    ).to_be_visible()
    shoot(tab, f"trial_{TRIAL}_{width}.png")

    # The versions table's link to what one version changed.
    link = page.locator(f'table#versions a.diff-link[href="/trials/{TRIAL}/diff?a={a}&b={b}"]')
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(f"/trials/{TRIAL}/diff?a={a}&b={b}"), page.url
    assert overflow(tab) <= 0, f"diff page runs {overflow(tab)} px past a {width} px window"
    row = page.locator("section#diff tr.item")
    expect(row.locator("td.after ins").first).to_be_visible()
    expect(row.locator("td.before del").first).to_be_visible()
    assert (
        row.locator("td.after")
        .inner_text()
        .strip()
        .endswith(reworded["detail"]["items"][0]["after"])
    )
    shoot(tab, f"diff_{TRIAL}_{width}.png")

    # Previous, then next again: back where it started.
    with page.expect_navigation():
        page.locator("nav.versions-nav a[rel=prev]").click()
    assert page.url.endswith(f"&b={a}"), page.url
    with page.expect_navigation():
        page.locator("nav.versions-nav a[rel=next]").click()
    assert page.url.endswith(f"/trials/{TRIAL}/diff?a={a}&b={b}"), page.url

    with page.expect_navigation():
        page.locator("nav.versions-nav a.compare").click()
    assert page.url.endswith(f"/trials/{TRIAL}/compare?a={a}&b={b}"), page.url
    assert overflow(tab) <= 0, f"side by side runs {overflow(tab)} px past a {width} px window"
    expect(
        page.locator('details[data-section="Eligibility"] tr.changed td.after ins').first
    ).to_be_visible()
    expect(page.locator('details[data-section="Locations"] table')).to_be_hidden()  # folded
    shoot(tab, f"compare_{TRIAL}_{width}.png")
    assert tab.csp_problems() == [] and tab.console_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_thousand_sites_stay_folded_and_inside_the_page(
    served: tuple[str, str], tab: Tab, width: int
) -> None:
    base, url = served
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900})
    [sites] = cli_json(url, "changes", "--nct", MANY_SITES, "--kind", "locations")
    page.goto(
        f"{base}/trials/{MANY_SITES}/diff?a={sites['from_version_id']}&b={sites['to_version_id']}"
    )
    folded = page.locator('details.folded[data-op="added"]')
    expect(folded.locator("table")).to_be_hidden()
    folded.locator("summary").click()
    rows = folded.locator("tr[data-op=added]")
    expect(rows.first).to_be_visible()
    assert rows.count() == len(sites["detail"]["added"])
    assert overflow(tab) <= 0, f"opened list runs {overflow(tab)} px past a {width} px window"

    page.goto(f"{base}/trials/{MANY_SITES}")
    assert overflow(tab) <= 0
    held = cli_json(url, "show", MANY_SITES)["locations"]
    assert page.locator("#site-count").inner_text().startswith(f"{len(held):,} sites")
    expect(page.locator("#locations li.site").first).to_be_hidden()
    shoot(tab, f"trial_{MANY_SITES}_{width}.png")


def test_the_compare_form_opens_either_view(served: tuple[str, str], tab: Tab) -> None:
    base, _ = served
    page = tab.page
    page.goto(f"{base}/trials/{TRIAL}")
    form = page.locator("form#diff-form")
    first = form.locator("select[name=a] option").first.get_attribute("value")
    last = form.locator("select[name=b] option").last.get_attribute("value")
    form.locator("select[name=a]").select_option(first)
    form.locator("select[name=b]").select_option(last)
    with page.expect_navigation():
        form.locator("button[formaction]").click()
    assert page.url.endswith(f"/trials/{TRIAL}/compare?a={first}&b={last}"), page.url
    opened = page.locator("details.section[open]")
    assert opened.count() >= 3  # status, design (enrollment), eligibility at least
    assert tab.csp_problems() == []
