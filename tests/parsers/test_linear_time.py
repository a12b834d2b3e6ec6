"""Every parser reads in time linear in the size of its input.

Each adversarial text of tests/parsers/adversarial.py (a run of unclosed tags, list markers,
digits, brackets, whitespace, markdown marks, headings or short lines) is put into a real
saved payload, as a stated edit: into the criteria of an API v2 study (markdown), of a
record-history version (HTML) and of a classic record (plain text), into the criteria
section of each site's real page text and of one of its markups, and into the other text
fields of a registry record and of each site's page. Each is read through parse_payload at
25 KB and at 100 KB of adversarial text: it must give records or a ParseError, in time that
grows about 4 times (linear), not 16 times (quadratic), and within CAP seconds.

Times are CPU time of this process, so other work on the machine counts little; a case
that looks slow is measured once more and its faster times kept.
"""

from __future__ import annotations

import time

import pytest

from tests.parsers.adversarial import (
    FAMILIES,
    Build,
    classic_criteria,
    classic_fields,
    history_criteria,
    site_html,
    site_page,
    v2_criteria,
    v2_fields,
)
from trialwatch.parsers import ParseError, parse_payload

SMALL, BIG = 25_000, 100_000  # characters of adversarial text
GROWTH = 9.0  # the most BIG may take over SMALL: linear is 4, quadratic 16
CAP = 2.0  # seconds for any one BIG input
QUICK = 0.1  # seconds: a BIG input read faster than this is too quick to time its growth

VEEVA = ("veeva", "seed003_NCT02249676")
CENTERWATCH = ("centerwatch", "seed004_NCT04561557")
EXCHANGE = ("clinicaltrialexchange", "NCT03099603")
TRIALPAGE = ("trialpage", "seed000_NCT05828212")

CRITERIA: dict[str, Build] = {
    "ctgov": v2_criteria,
    "ctgov_history": history_criteria,
    "ctgov_classic": classic_criteria,
    "veeva": site_page(*VEEVA, r"inclusion criteria$"),
    # The page shows no criteria: the text goes in under a heading of its own.
    "centerwatch": site_page(*CENTERWATCH, r"antibody-mediated", heading="Inclusion Criteria:"),
    "clinicaltrialexchange": site_page(*EXCHANGE, r"inclusion criteria:$"),
    "trialpage": site_page(*TRIALPAGE, r"inclusion criteria:$"),
    "veeva_html": site_html(*VEEVA, "<h2>Inclusion criteria</h2>\n<ul>"),
}
FIELDS: dict[str, Build] = {
    "ctgov": v2_fields,
    "ctgov_classic": classic_fields,
    "veeva": site_page(*VEEVA, r"conditions$"),  # the conditions, one per line
    "centerwatch": site_page(*CENTERWATCH, r"safety and efficacy"),  # after the title
    "clinicaltrialexchange": site_page(*EXCHANGE, r"summary$"),
    "trialpage": site_page(*TRIALPAGE, r"non recruiting$"),  # among the chips
}


def _seconds(build: Build, size: int, text_of: str) -> float:
    body, source = build(FAMILIES[text_of](size))
    start = time.process_time()
    try:
        parse_payload(body, None, source)
    except ParseError:
        pass  # refusing the input is fine; taking long over it is not
    return time.process_time() - start


def _slow(small: float, big: float) -> bool:
    return big > CAP or (big > QUICK and big > GROWTH * small)


def _check(build: Build, family: str) -> None:
    small, big = _seconds(build, SMALL, family), _seconds(build, BIG, family)
    if _slow(small, big):  # once more, keeping the faster times: the machine may be busy
        small = min(small, _seconds(build, SMALL, family))
        big = min(big, _seconds(build, BIG, family))
    assert big <= CAP, f"{BIG:,} characters of {family!r} took {big:.2f} s"
    assert not _slow(small, big), (
        f"{family!r}: {small:.3f} s at {SMALL:,} characters, {big:.3f} s at {BIG:,}"
        f" ({big / small:.1f} times; linear is 4)"
    )


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("entry", CRITERIA)
def test_criteria_are_read_in_linear_time(entry: str, family: str) -> None:
    _check(CRITERIA[entry], family)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("entry", FIELDS)
def test_other_fields_are_read_in_linear_time(entry: str, family: str) -> None:
    _check(FIELDS[entry], family)
