"""Site pages that survive a redesign: the same real page text in every markup of
tests/fixtures/<slug>/<case>/ (see SITES.md), with page chrome around it, gives the record a
person reads on the page (expected.json), and chrome never becomes data.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import Recorder
from trialwatch.parsers import ParseError, centerwatch, clinicaltrialexchange, trialpage, veeva
from trialwatch.record import TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PARSERS: dict[str, Callable[[bytes, str | None], TrialRecord]] = {
    "veeva": veeva.parse,
    "centerwatch": centerwatch.parse,
    "clinicaltrialexchange": clinicaltrialexchange.parse,
    "trialpage": trialpage.parse,
}
SITE_NAMES = {
    "veeva": "ClinicalTrials.Veeva",
    "centerwatch": "CenterWatch",
    "clinicaltrialexchange": "ClinicalTrialExchange",
    "trialpage": "Trial-finder",
}
REDESIGNS = ("lines.html", "inline.html", "dl.html", "table.html", "nested.html")
CASES = sorted(p.parent for slug in PARSERS for p in (FIXTURES / slug).glob("*/expected.json"))
# The chrome our markups put around the page text (make_site_pages.py), by its words.
CHROME_WORDS = re.compile(
    r"cookie|privacy|subscribe|newsletter|share this|trial finder|©|accept all|search trials",
    re.IGNORECASE,
)


def _expected(case: Path) -> dict[str, Any]:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _check(record: TrialRecord, expected: dict[str, Any], where: str) -> None:
    got = record.model_dump(exclude_none=True)
    got.pop("eligibility", None)
    assert got == expected["record"], where
    want = expected.get("eligibility")
    if want is None:
        assert record.eligibility is None, where
        return
    assert record.eligibility is not None, where
    for part in ("inclusion", "exclusion"):
        items = getattr(record.eligibility, part) or []
        assert len(items) == want[f"{part}_count"], f"{where}: {part}"
        for index, text in want.get(part, {}).items():
            assert items[int(index)] == text, f"{where}: {part}[{index}]"


@pytest.mark.reliability
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_every_markup_of_a_page_gives_its_record_and_no_chrome(
    case: Path, reliability: Recorder
) -> None:
    expected, slug = _expected(case), case.parent.name
    pages = sorted([case / "page.txt", *case.glob("*.html")])
    assert {p.name for p in pages} >= {"page.txt", "semantic.html", "divs.html", *REDESIGNS}
    records = []
    for page in pages:
        where = f"{case.name}/{page.name}"
        if "parse_error" in expected:
            with pytest.raises(ParseError, match=f"^{re.escape(expected['parse_error'])}"):
                PARSERS[slug](page.read_bytes(), expected["url"])
            continue
        record = PARSERS[slug](page.read_bytes(), expected["url"])
        _check(record, expected, where)
        chrome = [s for s in _strings(record.model_dump()) if CHROME_WORDS.search(s)]
        assert chrome == [], where
        records.append(record)
    # The whole record, eligibility text and criteria paths included, is the same.
    assert all(record == records[0] for record in records)
    good = "expected record from each, the same record; no chrome in any field or criterion"
    reliability.tried(
        "sites",
        f"{SITE_NAMES[slug]} page as its text and in 7-8 markups, header/nav/cookie/footer chrome",
        len(pages),
        "not a trial page in any (ParseError)" if "parse_error" in expected else good,
    )


def test_the_page_printed_without_blank_lines_still_rejoins_its_criteria() -> None:
    """One <p> per line and no empty <p> for blank lines: lines run on unless they open an
    item. Nothing then tells a paragraph from a wrapped line, so an unnumbered paragraph
    joins the criterion before it (NCT03099603's "Males must be ...")."""
    with_blank_lines = 0
    for case in CASES:
        expected = _expected(case)
        if "parse_error" in expected:
            continue
        parse = PARSERS[case.parent.name]
        html = (case / "lines.html").read_text(encoding="utf-8")
        with_blank_lines += "<p>&nbsp;</p>" in html
        record = parse(html.replace("<p>&nbsp;</p>\n", "").encode(), expected["url"])
        if case.name == "NCT03099603":
            assert record.eligibility is not None and record.eligibility.inclusion is not None
            assert len(record.eligibility.inclusion) == 5
            assert record.eligibility.inclusion[3].endswith(
                "amenorrheic female participants <50 years of age. Males must be surgically"
                " sterile (>30 days since vasectomy with no viable sperm), abstinent or if"
                " engaged in sexual relations with a child-bearing potential, the participant"
                " and his partner must be using an acceptable, highly effective, contraceptive"
                " method from Screening and for a period of 60 days after the last dose of"
                " Study Drug. Acceptable methods of contraception are the use of condoms and"
                " an effective contraceptive for the female partner that includes: surgical"
                " sterilization (e.g., bilateral tubal ligation), hormonal contraception, or"
                " intrauterine contraception/device). The Principal Investigator will assess"
                " the adequacy of methods of contraception on a case-by-case basis."
            )
            continue
        _check(record, expected, f"{case.name}/lines.html without blank lines")
    assert with_blank_lines >= 8


def test_the_fixture_markups_are_those_the_script_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    script = importlib.import_module("make_site_pages")
    for case, spec in script.specs().items():
        for name, body in script.markups(FIXTURES / case, spec).items():
            assert (FIXTURES / case / name).read_text(encoding="utf-8") == body, f"{case}/{name}"


# --- what the brief's failing pages showed, and chrome in plain text ------------------

CTE = FIXTURES / "clinicaltrialexchange" / "NCT03099603"
CTE_URL = _expected(CTE)["url"]


def test_one_p_per_line_with_a_footer_keeps_items_and_drops_the_footer() -> None:
    record = clinicaltrialexchange.parse((CTE / "lines.html").read_bytes(), CTE_URL)
    assert record.eligibility is not None
    assert len(record.eligibility.inclusion or []) == 6
    assert record.eligibility.exclusion == [
        "Participation in an investigational drug study within 30"
    ]


def test_end_date_in_one_element_with_its_label() -> None:
    case = FIXTURES / "centerwatch" / "seed004_NCT04561557"
    html = (case / "inline.html").read_text(encoding="utf-8")
    assert "<li>End date Dec 31, 2023</li>" in html
    record = centerwatch.parse(html.encode())
    assert record.completion_date is not None and record.completion_date.date == "2023-12-31"
    changed = centerwatch.parse(html.replace("Dec 31, 2023", "Jun 30, 2025").encode())
    assert changed.completion_date is not None and changed.completion_date.date == "2025-06-30"


def test_phase_and_its_value_in_one_line() -> None:
    text = (CTE / "page.txt").read_text(encoding="utf-8")
    assert "Phase:\nPhase 1\n" in text
    record = clinicaltrialexchange.parse(text.replace("Phase:\nPhase 1\n", "Phase: 2\n").encode())
    assert record.phases == ["PHASE2"]


def test_footer_lines_of_a_text_page_end_the_record() -> None:
    text = (CTE / "page.txt").read_text(encoding="utf-8")
    want = clinicaltrialexchange.parse(text.encode(), CTE_URL)
    footer = (
        "\nShare this trial\nCookie settings\nPrivacy policy\n\n5. Not a criterion\nNCT01234567\n"
    )
    got = clinicaltrialexchange.parse((text + footer).encode(), CTE_URL)
    assert got == want


def test_a_widget_between_criteria_ends_them() -> None:
    text = (CTE / "page.txt").read_text(encoding="utf-8")
    cut = text.replace(
        "\nExclusion Criteria:", "\nSubscribe to our newsletter\nExclusion Criteria:"
    )
    record = clinicaltrialexchange.parse(cut.encode(), CTE_URL)
    assert record.eligibility is not None and record.eligibility.exclusion is None
    assert len(record.eligibility.inclusion or []) == 6


def test_a_cookie_banner_before_the_record_is_skipped() -> None:
    text = (CTE / "page.txt").read_text(encoding="utf-8")
    banner = "We use cookies to make this site work. Accept all cookies\nCookie settings\n\n"
    assert clinicaltrialexchange.parse((banner + text).encode(), CTE_URL) == (
        clinicaltrialexchange.parse(text.encode(), CTE_URL)
    )


def test_a_one_word_label_inside_the_criteria_stays_a_criterion() -> None:
    body = (
        b"<html><body><h1>A study of something in adults</h1><h2>Status</h2><p>Recruiting</p>"
        b"<h2>Eligibility</h2><p>Inclusion Criteria:</p><p>Age 18 years or older</p>"
        b"<p>Status post surgery</p><p>Exclusion Criteria:</p><p>Sex workers</p>"
        b"<p>Ages 5 to 10 in the household</p><h2>FAQs</h2></body></html>"
    )
    record = trialpage.parse(body)
    assert record.minimum_age is None and record.sex is None
    assert record.status_raw == "Recruiting"
    assert record.eligibility is not None
    assert record.eligibility.inclusion == ["Age 18 years or older", "Status post surgery"]
    assert record.eligibility.exclusion == ["Sex workers", "Ages 5 to 10 in the household"]


def test_paragraphs_that_start_with_a_small_letter_stay_criteria() -> None:
    """ "eGFR", "pH", "mRNA" start criteria with a small letter; only a long line that
    ends no sentence is a wrapped one."""
    body = (
        b"<html><body><h1>A study of something in adults</h1><h2>Status</h2><p>Recruiting</p>"
        b"<p>Inclusion Criteria:</p><p>Adults aged 18 or older</p><p>eGFR 30 mL/min or more</p>"
        b"<p>pH of the blood within the normal range</p><p>mRNA vaccine given more than a"
        b" year before the first dose of</p><p>the study drug</p><h2>FAQs</h2></body></html>"
    )
    record = trialpage.parse(body)
    assert record.eligibility is not None
    assert record.eligibility.inclusion == [
        "Adults aged 18 or older",
        "eGFR 30 mL/min or more",
        "pH of the blood within the normal range",
        "mRNA vaccine given more than a year before the first dose of the study drug",
    ]


def test_a_stray_empty_paragraph_keeps_one_paragraph_per_criterion() -> None:
    body = (
        b"<html><body><h1>A study of something in adults</h1><h2>Status</h2><p>Recruiting</p>"
        b"<p>Inclusion Criteria:</p><p>Adults aged 18 or older</p><p>&nbsp;</p>"
        b"<p>Able to swallow tablets</p><p>Signed informed consent</p><h2>FAQs</h2>"
        b"</body></html>"
    )
    record = trialpage.parse(body)
    assert record.eligibility is not None
    assert record.eligibility.inclusion == [
        "Adults aged 18 or older",
        "Able to swallow tablets",
        "Signed informed consent",
    ]
