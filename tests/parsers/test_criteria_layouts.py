"""Criteria laid out without the structure a list markup gives, read into the same tree
(tests/fixtures/criteria/SOURCES.md names each real text):

- plain text with one item per line and no markers, as the registry's classic site gave
  the text of older versions, is one item per line (wrapped prose staying one item is
  test_criteria_tree.py's re-wrapping of every real text);
- a sub-list printed at its parent's indentation, or restarting at 1 under an item, ends
  where its parent's numbering resumes.
"""

from __future__ import annotations

import re

import pytest

from tests.parsers.criteria_texts import EXC, INC, NCT02110043, TEXTS, edit, load, tree
from trialwatch.diffing import compare
from trialwatch.parsers.criteria import parse_criteria
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.record import TrialRecord

CLASSIC_SITE = "NCT02110043_v1_classic_site.txt"  # version 1 on the classic history page


def test_one_item_per_line_without_markers_is_one_item_per_line() -> None:
    text = load(CLASSIC_SITE)
    assert "\nright handedness\namnestic and" in text and "\n- " not in text
    got = tree(text)
    # The same items as version 1 in the history API's HTML (NCT02110043), there with the
    # upper age 90: this version says 80. Its lines carry no nesting: each is an item.
    want = [(s, t.replace("50-90", "50-80")) for s, _, t in NCT02110043]
    assert [(s, t) for s, _, t in got] == want
    assert [p for _, p, _ in got] == [("MCI patients",)] * 7 + [()] * 5


def test_the_old_text_against_the_next_version_is_one_reworded_item() -> None:
    def record(text: str) -> TrialRecord:
        eligibility = eligibility_from_text(text)
        return TrialRecord(nct_id="NCT02110043", source="ctgov", eligibility=eligibility)

    changes = compare(record(load(CLASSIC_SITE)), record(load("NCT02110043_v1_history.html")))
    [criteria] = [c for c in changes if c.kind == "eligibility_criteria"]
    # No item added or removed (the old reading was one item per section: all of them);
    # in words only the age changed. The old text's lines carry no nesting: the sub-items
    # move under their parent, which the diff names.
    for side in ("inclusion", "exclusion"):
        assert criteria.detail[side]["added"] == criteria.detail[side]["removed"] == []
    reworded = [(e["before"], e["after"]) for e in criteria.detail["items"]]
    assert [pair for pair in reworded if pair[0] != pair[1]] == [
        ("age: 50-80 years", "age: 50-90 years")
    ]
    assert {e["op"] for e in criteria.detail["items"]} == {"moved"}


def _one_line_each(name: str) -> str:
    """A real text as the classic site printed older versions: its headings, then each item
    on a line of its own, without markers or indentation."""
    lines: list[str] = []
    section = None
    for s, _, text in tree(load(name)):
        if s != section:
            lines += ["", "Inclusion Criteria:" if s == INC else "Exclusion Criteria:", ""]
            section = s
        lines.append(text)
    return "\n".join(lines)


def _flat_items(name: str) -> list[tuple[str, str]]:
    return [(s, t) for s, _, t in tree(load(name))]


# Texts whose items read as one: a label line ("Cohort 1:", "PATIENT CHARACTERISTICS:")
# printed alone names a group, as it would in the original; such texts are left out.
ONE_PER_LINE = [
    name
    for name in TEXTS
    if not any(t.endswith(":") and len(t.split()) <= 4 for _, _, t in tree(load(name)))
]


@pytest.mark.parametrize("name", ONE_PER_LINE)
def test_real_items_one_per_line_without_markers(name: str) -> None:
    text = _one_line_each(name)
    got = [(c.section, c.text) for c in parse_criteria(text, "plain")]
    assert got == _flat_items(name)


def test_enough_real_texts_printed_one_per_line() -> None:
    assert len(ONE_PER_LINE) >= 15


# --- sub-lists printed at their parent's indentation ------------------------------------


def test_a_registry_sub_list_without_indentation_ends_where_the_parent_resumes() -> None:
    # NCT04207047's item 7 holds "   1." to "   3." (indented); item 8 follows "   3.".
    text = load("NCT04207047_v2.md")
    assert "\n   3. Bilateral tubal ligation" in text and "study enrollment.\n8. Absence" in text
    flat = text.replace("\n   1. Post", "\n1. Post").replace("\n   2. With", "\n2. With")
    flat = flat.replace("\n   3. Bil", "\n3. Bil").replace("\n    ", "\n")
    assert "\n   1." not in flat and "\n    1." not in flat
    assert tree(flat) == tree(text)
    inclusion = [(len(p), t[:20]) for s, p, t in tree(flat) if s == INC]
    assert inclusion[6:11] == [
        (0, "Subjects of childbea"),
        (1, "Postmenopausal for a"),
        (1, "Without a uterus and"),
        (1, "Bilateral tubal liga"),
        (0, "Absence of physical "),
    ]


def test_a_classic_sub_list_set_back_to_its_parent_column() -> None:
    # NCT03599518 (classic): exclusion item 3 has sub-items 1-4 and item 4 has sub-items
    # 1-4, so the "4." after sub-item "4." is the parent's; item 5 follows item 4's list.
    text = load("NCT03599518_classic.txt")
    flat = edit(text, "               1. Historical", "          1. Historical")
    for n in range(1, 5):
        flat = flat.replace(f"\n               {n}. ", f"\n          {n}. ")
    flat = re.sub(r"(?m)^                  (?=\S)", "             ", flat)
    assert "\n               " not in flat
    assert tree(flat) == tree(text)
    exclusion = [(len(p), t[:12]) for s, p, t in tree(flat) if s == EXC]
    assert [depth for depth, _ in exclusion[2:13]] == [0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]


def test_an_indented_sub_list_without_blank_lines_in_a_classic_text() -> None:
    # NCT03599518 (classic: a blank line before every item) with the blank lines around
    # inclusion item 3's sub-list taken out, as other printings of the registry's text run
    # them on: "   1." in item 3's text column and "4." right after "   2." are items,
    # not wrapped lines of item 3.
    text = load("NCT03599518_classic.txt")
    run_on = edit(text, "(PMID: 19949011):\n\n", "(PMID: 19949011):\n")
    run_on = edit(
        run_on,
        "EGFR TKI sensitivity (including G719X, exon 19 deletion, L858R,\n"
        "                  L861Q) OR\n\n",
        "EGFR TKI sensitivity (including G719X, exon 19"
        " deletion, L858R,\n                  L861Q) OR\n",
    )
    run_on = edit(
        run_on,
        "continuous treatment with an EGFR TKI\n\n",
        "continuous treatment with an EGFR TKI\n",
    )
    assert "(PMID: 19949011):\n               1. Historical" in run_on
    assert "an EGFR TKI\n          4. Is currently" in run_on
    assert tree(run_on) == tree(text)
    assert [len(p) for s, p, _ in tree(run_on) if s == INC][:6] == [0, 0, 0, 1, 1, 0]


@pytest.mark.parametrize("blank", ["\n\n", "\n"])
def test_a_registry_text_item_after_a_sub_list_that_restarted_at_1(blank: str) -> None:
    # The registry's text form: item 6 opens a sub-list numbered 1-3, indented; item 7 comes
    # back at the parent's column and numbering, with or without blank lines between.
    lines = [
        "        Inclusion Criteria:",
        "          6. At least one of the following:",
        "               1. prior surgery",
        "               2. prior radiotherapy",
        "               3. prior chemotherapy",
        "          7. Signed informed consent",
        "        Exclusion Criteria:",
        "          1. Pregnancy",
    ]
    got = [(c.section, c.path, c.text) for c in parse_criteria(blank.join(lines))]
    parent = ["At least one of the following"]
    assert got == [
        ("inclusion", [], "At least one of the following:"),
        ("inclusion", parent, "prior surgery"),
        ("inclusion", parent, "prior radiotherapy"),
        ("inclusion", parent, "prior chemotherapy"),
        ("inclusion", [], "Signed informed consent"),
        ("exclusion", [], "Pregnancy"),
    ]
