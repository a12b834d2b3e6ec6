"""Word marks, criteria trees and links as pure functions: each side of a marked pair reads as
its own text, the unmarked words are the same on both sides, and a tree keeps every item."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trialwatch.web.marks import MAX_TOKENS, word_marks
from trialwatch.web.record_view import criteria_count, criteria_tree, web_url

WORDS = st.lists(
    st.sampled_from(["age", "18", "years", "≥", "or", "older", " ", ",", "mg/kg", "Known", "\n"]),
    max_size=30,
).map("".join)


@given(WORDS, WORDS)
def test_each_side_reads_as_its_text(before: str, after: str) -> None:
    marks = word_marks(before, after)
    if marks is None:
        return
    assert "".join(r.text for r in marks.before) == before
    assert "".join(r.text for r in marks.after) == after
    assert {r.op for r in marks.before} <= {"same", "del"}
    assert {r.op for r in marks.after} <= {"same", "ins"}
    same_before = [r.text for r in marks.before if r.op == "same"]
    same_after = [r.text for r in marks.after if r.op == "same"]
    assert "".join(same_before) == "".join(same_after)
    assert any(r.op != "same" for r in marks.before + marks.after)


def test_a_changed_number_is_marked_alone() -> None:
    marks = word_marks("Age ≥ 18 years", "Age ≥ 21 years")
    assert marks is not None
    assert [(r.op, r.text) for r in marks.after] == [
        ("same", "Age ≥ "),
        ("ins", "21"),
        ("same", " years"),
    ]


def test_nothing_to_mark() -> None:
    assert word_marks("same", "same") is None
    assert word_marks("", "added") is None
    assert word_marks("Carboplatin", "Completely different words here") is None
    long = "word " * (MAX_TOKENS + 1)
    assert word_marks(long, long + "more") is None


def test_criteria_tree_nests_items_under_their_parents_and_groups() -> None:
    record = {
        "eligibility": {
            "criteria": [
                {"section": "inclusion", "path": [], "text": "Adults"},
                {"section": "inclusion", "path": [], "text": "One of the following:"},
                {"section": "inclusion", "path": ["One of the following"], "text": "A"},
                {"section": "inclusion", "path": ["One of the following"], "text": "B"},
                {"section": "exclusion", "path": ["Cohort 2"], "text": "Pregnancy"},
            ]
        }
    }
    inclusion, exclusion = criteria_tree(record)
    assert [n.text for n in inclusion.items] == ["Adults", "One of the following:"]
    assert [n.text for n in inclusion.items[1].children] == ["A", "B"]
    [group] = exclusion.items
    assert group.group and group.text == "Cohort 2"
    assert [n.text for n in group.children] == ["Pregnancy"]
    assert criteria_count([inclusion, exclusion]) == 5


def test_criteria_read_from_the_text_when_no_tree_was_stored() -> None:
    record = {"eligibility": {"text": "Inclusion Criteria:\n\n* Adults\n* Consent\n"}}
    [inclusion] = criteria_tree(record)
    assert [n.text for n in inclusion.items] == ["Adults", "Consent"]


def test_only_web_addresses_become_links() -> None:
    assert web_url("https://www.centerwatch.com/clinical-trials/listings/1") is not None
    for bad in ("javascript:alert(1)", "data:text/html,x", "/etc/passwd", "//evil", "", None, 3):
        assert web_url(bad) is None, bad
