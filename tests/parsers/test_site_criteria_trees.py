"""One criteria tree whatever the markup: every site page case (tests/fixtures/SITES.md) in
its criteria layouts (lists, nested lists, div/p lines, <br> lines, <pre> and pre-wrap text,
all markup WE wrote around the real page text) gives the tree of expected.json, sub-items
(`parents`, read off page.txt) nested under their parent, and a re-render of the page in
another markup is no eligibility change.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.parsers.test_site_redesigns import CASES, PARSERS
from trialwatch.diffing import compare
from trialwatch.parsers import parse_payload
from trialwatch.record import Criterion, TrialRecord

LAYOUTS = ("lists.html", "nested_lists.html", "divp.html", "br.html", "pre.html", "prewrap.html")
WITH_CRITERIA = [
    case
    for case in CASES
    if json.loads((case / "expected.json").read_text(encoding="utf-8")).get("eligibility")
]


def _expected(case: Path) -> dict[str, Any]:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _parse(case: Path, name: str) -> TrialRecord:
    return PARSERS[case.parent.name]((case / name).read_bytes(), _expected(case)["url"])


def _tree(record: TrialRecord) -> list[Criterion]:
    assert record.eligibility is not None and record.eligibility.criteria
    return record.eligibility.criteria


def _check_tree(criteria: list[Criterion], want: dict[str, Any], where: str) -> None:
    for section in ("inclusion", "exclusion"):
        items = [c for c in criteria if c.section == section]
        assert len(items) == want[f"{section}_count"], f"{where}: {section}"
        for index, text in want.get(section, {}).items():
            assert items[int(index)].text == text, f"{where}: {section}[{index}]"
        parents = {int(k): v for k, v in want.get("parents", {}).get(section, {}).items()}
        for index, item in enumerate(items):
            if index in parents:
                parent = items[parents[index]]
                assert item.path == [*parent.path, parent.text.rstrip(":")], f"{where}: {index}"
            else:
                assert item.path == [], f"{where}: {section}[{index}] is no sub-item"


def test_the_cases_with_criteria() -> None:
    assert len(WITH_CRITERIA) == 11
    nested = [case.name for case in WITH_CRITERIA if _expected(case)["eligibility"].get("parents")]
    assert len(nested) == 6  # seeds 000, 001, 002, 003 and NCT05828225's two pages


@pytest.mark.parametrize("case", WITH_CRITERIA, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_every_layout_gives_one_tree_the_expected_one(case: Path) -> None:
    want = _expected(case)["eligibility"]
    names = ["page.txt", *LAYOUTS, *sorted(p.name for p in case.glob("*.html"))]
    trees = {name: _tree(_parse(case, name)) for name in dict.fromkeys(names)}
    assert len(trees) >= 14
    for name, criteria in trees.items():
        _check_tree(criteria, want, f"{case.name}/{name}")
        assert criteria == trees["page.txt"], f"{case.name}/{name}: another tree than page.txt"


@pytest.mark.parametrize("case", WITH_CRITERIA, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_a_re_render_in_another_markup_is_no_eligibility_change(case: Path) -> None:
    records = [_parse(case, name) for name in ("semantic.html", "page.txt", *LAYOUTS)]
    for old, new in pairwise([*records, records[0]]):
        kinds = [change.kind for change in compare(old, new)]
        assert "eligibility_criteria" not in kinds and "eligibility" not in kinds, kinds


# --- each bug the issue named, on one real page ------------------------------------------

SEED000 = next(case for case in CASES if case.name == "seed000_NCT05828212")
SEED003 = next(case for case in CASES if case.name == "seed003_NCT02249676")


def test_a_list_nested_in_a_list_item_is_a_sub_list() -> None:
    # Seed 003's "Progression ..." holds four sub-items: a <ul> inside its <li>.
    html = (SEED003 / "semantic.html").read_text(encoding="utf-8")
    assert "of the following:<ul><li>Increase of 1 EDSS point" in html
    criteria = _tree(_parse(SEED003, "semantic.html"))
    parent = "Progression continued relapses or worsening MRI after at least a year of"
    assert [c.path[0][: len(parent)] for c in criteria[4:8]] == [parent] * 4


def test_a_bullets_only_re_render_of_div_lines_is_no_change() -> None:
    # Seed 000 as div/p lines (sub-list restarting at 1 under item 3, then items 4-7) and
    # the same page as bulleted lists: the same tree, so comparing them finds no change.
    divp, lists = _parse(SEED000, "divp.html"), _parse(SEED000, "lists.html")
    inclusion = [c for c in _tree(divp) if c.section == "inclusion"]
    assert [len(c.path) for c in inclusion] == [0, 0, 0] + [1] * 9 + [0] * 4
    assert inclusion[12].text.startswith("Corticosteroids combined")
    assert compare(divp, lists) == [] and compare(lists, divp) == []


def test_pre_text_is_read_as_printed_lines() -> None:
    record = _parse(SEED000, "pre.html")
    assert "<pre>Inclusion Criteria:" in (SEED000 / "pre.html").read_text(encoding="utf-8")
    texts = [c.text for c in _tree(record)]
    assert not [t for t in texts if t.endswith("-") or "•" in t]
    assert texts[12] == (
        "Corticosteroids combined with immunosuppressants (azathioprine or mycophenolate"
        " mofetil or rituximab) still relapse after treatment;"
    )
    assert _tree(_parse(SEED000, "prewrap.html")) == _tree(record)


# --- chips and labels as inline spans; a page read without what its site shows -----------

ALL_PAGES = [
    (case, page)
    for case in CASES
    if "record" in _expected(case)
    for page in sorted([case / "page.txt", *case.glob("*.html")])
]


def test_chips_given_as_inline_spans_are_read() -> None:
    html = (SEED000 / "lists.html").read_text(encoding="utf-8")
    assert '<div class="chips"><span class="chip">Non Recruiting</span>' in html
    record = _parse(SEED000, "lists.html")
    assert (record.status_raw, record.phases, record.sex) == ("Non Recruiting", ["PHASE1"], "ALL")
    assert (record.minimum_age, record.maximum_age) == ("18 Years", "60 Years")


def test_no_fixture_page_is_reported() -> None:
    for case, page in ALL_PAGES:
        warnings: list[str] = []
        slug = case.parent.name
        [record] = parse_payload(page.read_bytes(), _expected(case)["url"], slug, warnings=warnings)
        assert warnings == [], f"{case.name}/{page.name}"
    assert len(ALL_PAGES) >= 150


def test_a_page_whose_chips_are_lost_is_reported_in_one_line() -> None:
    # Seed 000 with its chips run into one line of text (no box of their own): the status,
    # ages, sex and phase can no longer be told apart. The record is kept and the page is
    # reported, as a page the parser no longer understands.
    html = (SEED000 / "lists.html").read_text(encoding="utf-8")
    glued = html.replace('<div class="chips">', "<div>").replace('class="chip"', 'class="c"')
    warnings: list[str] = []
    [record] = parse_payload(glued.encode(), None, "trialpage", warnings=warnings)
    assert record.status_raw is None and record.phases is None
    assert record.eligibility is not None and record.nct_id == "NCT05828212"
    assert warnings == [
        "Trial-finder page read without status or phase, which its pages show; kept without"
    ]
    # A Veeva page whose "Status and phase" values run together: the phase is still read,
    # the status is not.
    veeva_html = (SEED003 / "lists.html").read_text(encoding="utf-8")
    run_together = veeva_html.replace(
        '<span class="value">Completed</span><span class="value">Phase 2</span>',
        "<span>Completed Phase II trial</span>",
    )
    assert run_together != veeva_html
    warnings = []
    parse_payload(run_together.encode(), None, "veeva", warnings=warnings)
    assert warnings == [
        "ClinicalTrials.Veeva page read without status, which its pages show; kept without"
    ]
