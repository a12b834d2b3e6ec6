"""Every parser reads in time linear in the size of its input.

Each adversarial text of tests/parsers/adversarial.py (a run of unclosed tags, list markers,
digits, brackets, whitespace, markdown marks, headings or short lines) is put into a real
saved payload, as a stated edit: into the criteria of an API v2 study (markdown), of a
record-history version (HTML) and of a classic record (plain text), into the criteria
section of each site's real page text and of one of its markups, and into the other text
fields of a registry record and of each site's page. Each is read through parse_payload at
100 KB and at 25 KB of adversarial text: it must give records or a ParseError, in time that
grows about 4 times (linear), not 16 times (quadratic), and within CAP seconds.

So that the module runs in half a minute, a run of short lines (a criterion each, about a
second at 100 KB) is read by one criteria reader: each registry reader and site page reads
one such run. The other texts are read by the three registry readers, the markup and one
site page in turn, and those that bear on titles, lists, chips and labels by every
parser's other fields.

Times are CPU time of this process, so other work on the machine counts little; a case
that looks slow is measured once more and its faster times kept.
"""

from __future__ import annotations

import gc
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
CAP = 3.0  # seconds for any one BIG input (the slowest take about 1.5 on a busy machine)
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
    "veeva": site_page(*VEEVA, r"status and phase$", r"conditions$", r"treatments$"),
    "centerwatch": site_page(*CENTERWATCH, r"safety and efficacy", r"updated on"),
    "clinicaltrialexchange": site_page(*EXCHANGE, r"summary$", r"lead sponsor:$"),
    "trialpage": site_page(*TRIALPAGE, r"non recruiting$", r"study details$"),  # chips
}

ONE_READER = {
    "letter_lines": "ctgov",  # one markdown paragraph of "a)" and "(i)" items, nesting
    "bullet_lines": "ctgov_history",
    "alternating_lists": "ctgov_classic",
    "number_lines": "veeva",
    "counted_lines": "centerwatch",
    "heading_lines": "clinicaltrialexchange",
    "short_lines": "trialpage",
}
SITES = ["veeva", "centerwatch", "clinicaltrialexchange", "trialpage"]
OTHER_TEXTS = [family for family in FAMILIES if family not in ONE_READER]
CRITERIA_CASES = [(entry, family) for family, entry in ONE_READER.items()] + [
    (entry, family)
    for turn, family in enumerate(OTHER_TEXTS)
    for entry in ("ctgov", "ctgov_history", "ctgov_classic", "veeva_html", SITES[turn % 4])
]
FIELD_TEXTS = [
    *("sup", "tag_without_end", "lt_then_spaces", "counted_lines"),
    *("digit_words", "nested_parens", "open_brackets", "images", "spaces", "long_word"),
    *("entities", "backslashes", "group_names", "chrome_lines", "glued_labels"),
]


def _seconds(build: Build, size: int, text_of: str) -> float:
    body, source = build(FAMILIES[text_of](size))
    # The collector off while timed: a worker that has run many tests holds a large heap, and
    # each full collection walks all of it, a cost of the process, not of the parser.
    gc.collect()
    gc.disable()
    start = time.process_time()
    try:
        parse_payload(body, None, source)
    except ParseError:
        pass  # refusing the input is fine; taking long over it is not
    finally:
        took = time.process_time() - start
        gc.enable()
    return took


def _slow(small: float, big: float) -> bool:
    return big > CAP or (big > QUICK and big > GROWTH * small)


def _check(build: Build, family: str) -> None:
    big = _seconds(build, BIG, family)
    small = _seconds(build, SMALL, family) if big > QUICK else 0.0
    for _ in range(3):  # again, keeping the faster times: the machine may be busy
        if not _slow(small, big):
            break
        small = (
            min(small, _seconds(build, SMALL, family)) if small else _seconds(build, SMALL, family)
        )
        big = min(big, _seconds(build, BIG, family))
    assert big <= CAP, f"{BIG:,} characters of {family!r} took {big:.2f} s"
    assert not _slow(small, big), (
        f"{family!r}: {small:.3f} s at {SMALL:,} characters, {big:.3f} s at {BIG:,}"
        f" ({big / max(small, 1e-6):.1f} times; linear is 4)"
    )


@pytest.mark.parametrize(("entry", "family"), CRITERIA_CASES)
def test_criteria_are_read_in_linear_time(entry: str, family: str) -> None:
    _check(CRITERIA[entry], family)


@pytest.mark.parametrize("family", FIELD_TEXTS)
@pytest.mark.parametrize("entry", FIELDS)
def test_other_fields_are_read_in_linear_time(entry: str, family: str) -> None:
    _check(FIELDS[entry], family)


def test_every_reader_reads_every_kind_of_text() -> None:
    assert set(ONE_READER.values()) | {"veeva_html"} == set(CRITERIA)
    assert set(OTHER_TEXTS) | set(ONE_READER) == set(FAMILIES)
