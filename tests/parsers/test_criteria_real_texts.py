"""(a) Each real criteria text (tests/fixtures/criteria/SOURCES.md) gives the tree a careful
reader gives: sections, the path of qualified groups, and each item's text."""

from __future__ import annotations

import pytest

from tests.parsers.criteria_spot_checks import SPOT_CHECKS
from tests.parsers.criteria_texts import EXC, INC, NCT02110043, load, tree

# --- (a) real texts give the tree a careful reader gives --------------------------------


def test_history_html_qualified_heading_and_nested_list() -> None:
    text = load("NCT02110043_v1_history.html")
    assert tree(text) == NCT02110043
    # The same text written by hand as API v2 markdown and as classic plain text.
    markdown = (
        "Inclusion Criteria (MCI patients):\n\n* right handedness\n"
        "* amnestic and amnestic plus MCI with:\n\n  1. subjective memory impairment;\n"
        "  2. objective memory difficulties, at least 1 SD below gender, age and education "
        "adjusted standard values;\n  3. relatively normal performance in other cognitive "
        "domains;\n  4. no constraints in activities of daily livings\n  5. age: 50-90 years\n\n"
        "Exclusion Criteria:\n\n* severe internal or psychiatric disease\n* epilepsy\n"
        "* other severe neurological diseases, e.g. previous major stroke or brain tumor\n"
        "* DMS-IV manifest dementia\n"
        "* contraindication for MRT (claustrophobia, metallic implants, tattoos)"
    )
    classic = """
        Inclusion Criteria (MCI patients):

          -  right handedness

          -  amnestic and amnestic plus MCI with:

               1. subjective memory impairment;

               2. objective memory difficulties, at least 1 SD below gender, age and
                  education adjusted standard values;

               3. relatively normal performance in other cognitive domains;

               4. no constraints in activities of daily livings

               5. age: 50-90 years

        Exclusion Criteria:

          -  severe internal or psychiatric disease

          -  epilepsy

          -  other severe neurological diseases, e.g. previous major stroke or brain tumor

          -  DMS-IV manifest dementia

          -  contraindication for MRT (claustrophobia, metallic implants, tattoos)
      """
    assert tree(markdown) == tree(classic) == NCT02110043


@pytest.mark.parametrize(
    ("name", "n_in", "n_ex", "checks"), SPOT_CHECKS, ids=[s[0] for s in SPOT_CHECKS]
)
def test_real_text_tree(
    name: str, n_in: int, n_ex: int, checks: list[tuple[int, str, tuple[str, ...], str]]
) -> None:
    got = tree(load(name))
    assert [s for s, _, _ in got].count(INC) == n_in
    assert [s for s, _, _ in got].count(EXC) == n_ex
    for index, section, path, text in checks:
        assert got[index] == (section, path, text), index
