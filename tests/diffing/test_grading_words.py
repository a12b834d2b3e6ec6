"""Word-level rules behind editorial grades: misspellings told from other words, one word in
another form, abbreviations spelled out after their long form, and criteria items paired
when one holds every word of the other. Each rule also keeps a real change major."""

from __future__ import annotations

import pytest

from trialwatch.diffing.criteria import compare_criteria
from trialwatch.diffing.grading import grade_text
from trialwatch.diffing.outcomes import grade_outcome


@pytest.mark.parametrize(
    ("before", "after", "grade"),
    [
        ("Recieved prior therapy", "Received prior therapy", "editorial"),  # letters swapped
        ("unabled to read", "unable to read", "editorial"),  # a letter dropped
        ("Rate of occurance", "Rate of occurrence", "editorial"),  # two letters, now a word
        ("Known hypersensivity", "Known hypersensitivity", "editorial"),
        ("swab of the nasopharynx", "nasopharyngeal swab", "editorial"),  # another form
        ("randomised patients", "randomization patients", "editorial"),
        # Two words a list knows, or two it does not: another word, not a misspelling.
        ("Known hypertension", "Known hypotension", "major"),
        ("Treated with prednisone", "Treated with prednisolone", "major"),
        ("Grade 2 pain", "Grade 2 gain", "major"),
        ("measurable disease", "evaluable disease", "major"),
    ],
)
def test_misspellings_and_word_forms(before: str, after: str, grade: str) -> None:
    assert grade_text(before, after)[0] == grade


@pytest.mark.parametrize(
    ("before", "after", "grade"),
    [
        ("Alanine aminotransferase level", "Alanine aminotransferase (ALT) level", "editorial"),
        (
            "AST and ALT ≥ 2.5 x ULN",
            "Aspartate aminotransferase (AST) and alanine aminotransferase(ALT) ≥ 2.5 x ULN",
            "editorial",
        ),  # fmt: skip
        ("refractory to anti-TNFs", "refractory to anti-tumor necrosis factor (TNF)", "editorial"),
        ("CDAI score", "Crohn's disease activity index (CDAI) score", "editorial"),
        (
            "CVA or TIA within 6 months",
            "Cerebrovascular accident or transient ischemic attack within 6 months",
            "editorial",
        ),  # fmt: skip
        (
            "an IRB/IEC-approved form",
            "an Institutional Review Board/Institutional Ethics Committee-approved form",
            "editorial",
        ),  # fmt: skip
        (
            "leukopenia (WBC < 2500 mm3)",
            "leukopenia (white blood cell count [WBC] < 2500 mm3)",
            "editorial",
        ),  # "cell" here is a word of the long form, not a unit  # fmt: skip
        ("Be on a regimen", "Be on a second regimen", "minor"),  # "second" with no number
        ("for 30 seconds", "for 30 minutes", "major"),
        ("OS", "progression free survival", "major"),
        # A long form with words of its own is detail, not a spelling.
        ("patients with diabetes", "patients with diabetes mellitus (DM)", "minor"),
        ("overall survival", "progression free survival (PFS)", "major"),
    ],
)
def test_abbreviations_spelled_out_after_their_long_form(
    before: str, after: str, grade: str
) -> None:
    assert grade_text(before, after)[0] == grade


def test_an_item_spelled_out_is_paired_however_far_apart_it_reads() -> None:
    old = [("exclusion", (), "AST and ALT ≥ 2.5 x ULN")]
    new = [
        (
            "exclusion",
            (),
            "Aspartate aminotransferase (AST) and alanine aminotransferase(ALT) ≥ 2.5 x ULN",
        )
    ]
    [edit] = compare_criteria(old, new)
    assert (edit["op"], edit["grade"]) == ("changed", "editorial")
    wider = [("exclusion", (), "AST and ALT ≥ 3 x ULN")]
    [edit] = compare_criteria(old, wider)
    assert (edit["op"], edit["grade"]) == ("changed", "major")


def o(measure: str, time_frame: str | None = None) -> dict:
    return {"measure": measure, "time_frame": time_frame, "description": None}


def test_framing_verbs_and_nouns_are_boilerplate() -> None:
    assert (
        grade_outcome(o("To assess the level of satisfaction"), o("level of satisfaction"))[0]
        == "editorial"
    )
    assert grade_outcome(o("Assessment of pain"), o("Pain"))[0] == "editorial"
    assert grade_outcome(o("To assess pain"), o("To assess fatigue"))[0] == "major"


def test_a_time_point_stated_where_there_was_none_is_detail() -> None:
    assert grade_outcome(
        o("Length of stay", "ICU and hospital"),
        o("Length of stay", "ICU and hospital (3-6 months)"),
    ) == ("minor", "time frame: time point stated (month 3, month 6)")
    # One time point for another stays major.
    assert grade_outcome(o("Mortality", "28 days"), o("Mortality", "28 days and 90 days"))[0] == (
        "major"
    )
