"""Site-page parsers over tests/fixtures/<slug>/<case>/ (see tests/fixtures/SITES.md).

Each case holds a real page's visible text (page.txt) and HTML markups we wrote around that
same text. expected.json was written by reading page.txt field by field; every markup and
the text itself must give that record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from trialwatch.parsers import (
    ParseError,
    centerwatch,
    clinicaltrialexchange,
    parse_payload,
    trialpage,
    veeva,
)
from trialwatch.record import FIELDS, TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PARSERS: dict[str, Callable[[bytes, str | None], TrialRecord]] = {
    "veeva": veeva.parse,
    "centerwatch": centerwatch.parse,
    "clinicaltrialexchange": clinicaltrialexchange.parse,
    "trialpage": trialpage.parse,
}
CASES = sorted(p.parent for slug in PARSERS for p in (FIXTURES / slug).glob("*/expected.json"))
CONSTRUCTED = sorted(FIXTURES.glob("*/constructed_*/page.html"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _expected(case: Path) -> dict[str, Any]:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _pages(case: Path) -> list[Path]:
    return sorted([case / "page.txt", *case.glob("*.html")])


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


PAGES = [(case, page) for case in CASES for page in _pages(case)]
GOOD = [(c, p) for c, p in PAGES if "record" in _expected(c)]


def test_fixture_sets_are_present() -> None:
    assert len(CASES) == 14  # 5 seed pages + 9 aggregator excerpts
    assert len(CONSTRUCTED) == 3
    for case in CASES:
        # semantic, divs, the five redesigns (lines, inline, dl, table, nested) and the six
        # criteria layouts (lists, nested_lists, divp, br, pre, prewrap)
        assert len(list(case.glob("*.html"))) >= 13, f"{case} needs thirteen markups"


@pytest.mark.parametrize(("case", "page"), GOOD, ids=[_id(p) for _, p in GOOD])
def test_page_gives_the_expected_record(case: Path, page: Path) -> None:
    expected = _expected(case)
    slug = case.parent.name
    record = PARSERS[slug](page.read_bytes(), expected["url"])
    got = _drop_none(record.model_dump())
    want = expected["record"]
    for field in FIELDS:
        if field == "eligibility":
            continue
        assert got.get(field) == want.get(field), f"{field} of {_id(page)}"
    # No unexpected fields: whatever the parser filled, expected.json names.
    assert set(got) - {"eligibility"} == set(want)
    _check_eligibility(record, expected.get("eligibility"))
    assert record.source == slug and record.source_url == expected["url"]


def _check_eligibility(record: TrialRecord, want: dict[str, Any] | None) -> None:
    if want is None:
        assert record.eligibility is None
        return
    assert record.eligibility is not None and record.eligibility.text
    for part in ("inclusion", "exclusion"):
        items = getattr(record.eligibility, part) or []
        assert len(items) == want[f"{part}_count"], part
        for index, text in want.get(part, {}).items():
            assert items[int(index)] == text, f"{part}[{index}]"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_every_markup_gives_the_same_record(case: Path) -> None:
    expected, parse = _expected(case), PARSERS[case.parent.name]
    if "parse_error" in expected:
        for page in _pages(case):
            with pytest.raises(ParseError, match=f"^{re.escape(expected['parse_error'])}"):
                parse(page.read_bytes(), expected["url"])
        return
    records = {page.name: parse(page.read_bytes(), expected["url"]) for page in _pages(case)}
    first = records["page.txt"]
    for name, record in records.items():
        assert record == first, f"{name} differs from page.txt"


def _words(text: str) -> str:
    """Visible words only: bullets a browser draws and all spacing removed."""
    text = re.sub(r"^\s*(Image|Menu)\s*$", "", text, flags=re.M)
    return re.sub(r"[\s•‣⁃]", "", text)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_markups_show_exactly_the_page_text(case: Path) -> None:
    """The HTML is only wrapping: its visible text is the real page text."""
    text = _words((case / "page.txt").read_text(encoding="utf-8"))
    for page in case.glob("*.html"):
        root = lxml.html.fromstring(page.read_bytes())
        for hidden in root.xpath("//script|//style|//nav|//head|//*[@data-chrome]"):
            hidden.drop_tree()
        for item in root.xpath("//*[@data-marker]"):  # what a browser draws for an <ol>
            item.text = f"{item.get('data-marker')} {item.text or ''}"
        assert _words(root.text_content()) == text, page.name


def test_the_two_renderings_of_the_finder_page_give_the_same_criteria() -> None:
    seed000 = FIXTURES / "trialpage" / "seed000_NCT05828212"
    seed001 = FIXTURES / "trialpage" / "seed001_criteria_only"
    records = [
        trialpage.parse(page.read_bytes()) for case in (seed000, seed001) for page in _pages(case)
    ]
    assert len(records) >= 5
    for record in records:
        assert record.eligibility is not None
        assert record.eligibility.inclusion == records[0].eligibility.inclusion  # type: ignore[union-attr]
        assert record.eligibility.exclusion == records[0].eligibility.exclusion  # type: ignore[union-attr]


@pytest.mark.parametrize("page", CONSTRUCTED, ids=_id)
@pytest.mark.parametrize("slug", list(PARSERS))
def test_pages_that_are_not_trials_raise(page: Path, slug: str) -> None:
    # At a trial's own address, so the NCT id in the URL cannot make it a trial page.
    url = "https://www.clinicaltrialexchange.com/clinical-trials/Some-Trial/NCT05828225"
    with pytest.raises(ParseError) as caught:
        PARSERS[slug](page.read_bytes(), url)
    message = str(caught.value)
    assert message.startswith("no trial found: none of the labels ")
    assert message.endswith(" on the page") and "\n" not in message


@pytest.mark.parametrize(
    ("slug", "other"),
    [
        ("veeva", "centerwatch/seed004_NCT04561557"),
        ("centerwatch", "veeva/seed003_NCT02249676"),
        ("clinicaltrialexchange", "veeva/seed003_NCT02249676"),
        ("veeva", "clinicaltrialexchange/NCT03099603"),
        ("centerwatch", "trialpage/clincosm_NCT05828225"),
    ],
)
def test_a_page_of_another_site_raises(slug: str, other: str) -> None:
    with pytest.raises(ParseError, match="^no trial found: none of the labels"):
        PARSERS[slug]((FIXTURES / other / "semantic.html").read_bytes())


def test_minimum_a_page_must_show() -> None:
    # A page with the site's labels but no id, status or criteria is not a trial.
    body = (
        b"<html><body><h1>A title only</h1>"
        b"<dl><dt>Study type</dt><dd>Interventional</dd></dl></body></html>"
    )
    with pytest.raises(ParseError, match="shows no NCT id, status or eligibility criteria"):
        veeva.parse(body, "https://ctv.veeva.com/study/some-trial")


def test_nct_id_from_the_url_when_the_page_has_none() -> None:
    case = FIXTURES / "clinicaltrialexchange" / "NCT03198624"
    body = (case / "divs.html").read_bytes()
    assert clinicaltrialexchange.parse(body).nct_id is None
    url = _expected(case)["url"]
    assert clinicaltrialexchange.parse(body, url).nct_id == "NCT03198624"
    assert clinicaltrialexchange.parse(body, url + "?ref=search#top").nct_id == "NCT03198624"
    # An NCT id in the query is not the page's own.
    other = "https://www.clinicaltrialexchange.com/clinical-trials/x?similar=NCT01234567"
    assert clinicaltrialexchange.parse(body, other).nct_id is None


def test_the_page_id_wins_over_the_url() -> None:
    body = (FIXTURES / "veeva" / "seed003_NCT02249676" / "page.txt").read_bytes()
    record = veeva.parse(body, "https://ctv.veeva.com/study/NCT99999999")
    assert record.nct_id == "NCT02249676"


def test_a_page_with_only_an_irb_number() -> None:
    text = (FIXTURES / "veeva" / "seed003_NCT02249676" / "page.txt").read_text(encoding="utf-8")
    assert "NCT02249676\n" in text
    body = text.replace("NCT02249676\n", "").encode()
    record = veeva.parse(body, "https://ctv.veeva.com/study/autologous-mesenchymal-stem-cells")
    assert record.nct_id is None
    assert record.secondary_ids == ["IRB2013-055-02"]
    assert record.overall_status == "COMPLETED"


def test_repeated_values_are_read_once() -> None:
    body = (FIXTURES / "clinicaltrialexchange" / "seed002_no_url" / "page.txt").read_bytes()
    assert b"Recruiting\nRecruiting\n" in body
    record = clinicaltrialexchange.parse(body)
    assert record.status_raw == "Recruiting"
    assert record.completion_date is not None and record.completion_date.date == "2026-04-20"


def test_zero_target_enrollment_means_not_given() -> None:
    body = (FIXTURES / "clinicaltrialexchange" / "NCT03099603" / "page.txt").read_bytes()
    assert b"Target enrollment:\n0\n" in body
    assert clinicaltrialexchange.parse(body).enrollment is None
    shown = body.replace(b"Target enrollment:\n0\n", b"Target enrollment:\n24\n")
    enrollment = clinicaltrialexchange.parse(shown).enrollment
    assert enrollment is not None and enrollment.count == 24


def test_a_changed_value_is_read() -> None:
    """The tests can fail: the same page with another status gives another record."""
    case = FIXTURES / "veeva" / "seed003_NCT02249676"
    html = (case / "divs.html").read_text(encoding="utf-8")
    changed = html.replace("<td>Completed</td>", "<td>Terminated</td>", 1)
    assert changed != html
    record = veeva.parse(changed.encode())
    assert (record.overall_status, record.status_raw) == ("TERMINATED", "Terminated")


# --- parse_payload routing -------------------------------------------------------


def _semantic(case: str) -> bytes:
    return (FIXTURES / case / "semantic.html").read_bytes()


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://ctv.veeva.com/study/autologous-mesenchymal-stem-cells", "veeva"),
        ("https://www.centerwatch.com/clinical-trials/listings/NCT04561557/x", "centerwatch"),
        (
            "https://clinicaltrialexchange.com/clinical-trials/x/NCT03099603",
            "clinicaltrialexchange",
        ),
    ],
)
def test_parse_payload_infers_the_site_from_the_host(url: str, slug: str) -> None:
    case = {
        "veeva": "veeva/seed003_NCT02249676",
        "centerwatch": "centerwatch/seed004_NCT04561557",
        "clinicaltrialexchange": "clinicaltrialexchange/NCT03099603",
    }[slug]
    [record] = parse_payload(_semantic(case), url)
    assert record.source == slug and record.source_url == url
    assert record == PARSERS[slug](_semantic(case), url)


def test_parse_payload_uses_the_given_source() -> None:
    body = _semantic("trialpage/seed000_NCT05828212")
    [record] = parse_payload(body, "https://example.org/trial/1", source="trialpage")
    assert record.nct_id == "NCT05828212" and record.source == "trialpage"
    text = (FIXTURES / "trialpage" / "trialsco_NCT05828225" / "page.txt").read_bytes()
    url = "https://trials.co/clinical-trials-details/-/NCT05828225"
    [record] = parse_payload(text, url, source="trialpage")
    assert record.nct_id == "NCT05828225"


def test_other_hosts_need_a_source() -> None:
    body = _semantic("trialpage/clincosm_NCT05828225")
    with pytest.raises(ParseError) as caught:
        parse_payload(body, "https://www.clincosm.com/trial/x")
    assert str(caught.value) == (
        "HTML page, not a ClinicalTrials.gov record (give --source SLUG for a site page)"
    )


def test_parse_payload_raises_for_a_login_wall_at_a_known_host() -> None:
    body = (
        FIXTURES / "clinicaltrialexchange" / "constructed_login_wall" / "page.html"
    ).read_bytes()
    url = "https://www.clinicaltrialexchange.com/clinical-trials/x/NCT05828225"
    with pytest.raises(ParseError, match="^no trial found"):
        parse_payload(body, url)
