"""The change feed and the home page in a real browser at a laptop's width and a phone's:
nothing runs past the right edge, pages and filters lead where they say. Screenshots are kept
for people to look at."""

from __future__ import annotations

import math

from sqlmodel import Session, select

from tests.web.browser import Tab, artifact, require_playwright
from tests.web.browser_site import Site, attrs, feed_ids, fits, site_fixture, submit, visit  # noqa: F401
from trialwatch.registry.db import open_engine
from trialwatch.registry.models import Trial

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402


def feed_rows(page: Page) -> list[tuple[str | None, ...]]:
    return attrs(page.locator("tr.change"), "data-kind", "data-grade", "data-nct")


def test_change_feed_filters_and_pages(site: Site, tab: Tab) -> None:
    from tests.web.expect import newest_first

    page = tab.page
    size = 5
    visit(tab, f"{site.base}/changes?limit={size}")
    total = site.count_changes()
    shown = [feed_ids(page)]
    while page.locator("a.next").count():
        assert len(shown[-1]) == size, "a page before the last is not full"
        with page.expect_navigation():
            page.locator("a.next").first.click()
        expect(page.locator("a.prev")).to_have_count(1)
        shown.append(feed_ids(page))
    seen = [i for ids in shown for i in ids]
    assert seen == newest_first(site.url)  # newest first, each change once
    assert len(seen) == total > 0
    assert len(shown) == math.ceil(total / size) > 2
    for before in reversed(shown[:-1]):  # and back, page by page
        with page.expect_navigation():
            page.locator("a.prev").first.click()
        assert feed_ids(page) == before
    expect(page.locator("a.prev")).to_have_count(0)

    # The clock switch: ordered by the registry's dates, then back to when seen.
    with page.expect_navigation():
        page.locator("nav.clock a.clock-registry").click()
    assert "clock=registry" in page.url and f"limit={size}" in page.url
    registry = newest_first(site.url, clock="registry")
    assert feed_ids(page) == registry[:size] != seen[:size]
    expect(page.locator("table#changes thead th").first).to_have_text("Registry date")
    with page.expect_navigation():
        page.locator("nav.clock a.clock-observed").click()
    assert feed_ids(page) == seen[:size]
    expect(page.locator("table#changes thead th").first).to_have_text("Seen")

    for kind in ("status", "primary_completion_date"):
        visit(tab, f"{site.base}/changes")
        form = page.locator("form#feed-filters")
        form.locator("select[name=kind]").select_option(kind)
        submit(form)
        rows = feed_rows(page)
        assert {row[0] for row in rows} == {kind}, rows
        assert len(rows) == site.count_changes(kind=kind)
        expect(page.locator("a.next")).to_have_count(0)

    for grade, allowed in (("major", {"major"}), ("minor", {"minor", "major"})):
        visit(tab, f"{site.base}/changes")
        form = page.locator("form#feed-filters")
        form.locator("select[name=grade]").select_option(grade)
        submit(form)
        rows = feed_rows(page)
        assert rows and {row[1] for row in rows} <= allowed, rows
        assert len(rows) == site.count_changes(min_grade=grade)
    assert len(rows) < total  # the editorial changes were left out

    # Several filters and the clock in one form.
    visit(tab, f"{site.base}/changes")
    form = page.locator("form#feed-filters")
    form.locator("select[name=status]").select_option("RECRUITING")
    form.locator("select[name=clock]").select_option("registry")
    submit(form)
    assert feed_ids(page) == newest_first(site.url, statuses=["RECRUITING"], clock="registry")
    expect(form.locator("select[name=status] option[selected]")).to_have_text("Recruiting")
    assert tab.csp_problems() == []


def test_feed_and_home_fit_wide_and_narrow(site: Site, tab: Tab) -> None:
    from tests.web.expect import newest_first

    page = tab.page
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        visit(tab, f"{site.base}/changes")
        assert fits(page), f"/changes at {width}px"
        expect(page.locator("tr.change").first).to_be_visible()
        shot = artifact(f"changes_{width}.png")
        page.screenshot(path=str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG")

        visit(tab, f"{site.base}/changes?limit=3")
        with page.expect_navigation():
            page.locator("a.next").click()
        assert feed_ids(page) == newest_first(site.url)[3:6] and fits(page)
        with page.expect_navigation():
            page.locator("a.prev").click()
        assert feed_ids(page) == newest_first(site.url)[:3]

        visit(tab, f"{site.base}/")
        assert fits(page), f"/ at {width}px"
        expect(page.locator("tr.trial").first).to_be_visible()
        shot = artifact(f"home_{width}.png")
        page.screenshot(path=str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG")
    assert tab.csp_problems() == [] and tab.console_errors == []


def test_home_filters_and_orders(site: Site, tab: Tab) -> None:
    engine = open_engine(site.url)
    with Session(engine) as session:
        held = {t.nct_id: t.overall_status for t in session.exec(select(Trial)).all()}
    engine.dispose()
    page = tab.page
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        visit(tab, f"{site.base}/")
        form = page.locator("form#search")
        form.locator("select[name=status]").select_option("COMPLETED")
        form.locator("select[name=sort]").select_option("-changed")
        submit(form)
        rows = attrs(page.locator("tr.trial"), "data-nct", "data-status", "data-last-changed")
        assert [n for n, _, _ in rows] and {s for _, s, _ in rows} == {"COMPLETED"}
        assert len(rows) == sum(1 for s in held.values() if s == "COMPLETED")
        changed = [c for _, _, c in rows]
        assert changed == sorted(changed, reverse=True), changed
        expect(page.locator("tr.trial td.state").first).to_have_text("Completed")
        assert fits(page), f"/trials at {width}px"
        csv_link = page.locator("a.csv")
        assert csv_link.get_attribute("href") == "/trials.csv?status=COMPLETED&sort=-changed"
        with page.expect_navigation():
            page.locator("a.changes").click()  # the changes of these trials
        expect(page.locator("form#feed-filters select[name=status] option[selected]")).to_have_text(
            "Completed"
        )
        for nct in attrs(page.locator("tr.change"), "data-nct"):
            assert held[nct[0] or ""] == "COMPLETED"
    assert tab.csp_problems() == []
