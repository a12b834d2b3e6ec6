"""A real criteria text (NCT04267848, API v2 markdown) rendered again as HTML is no change;
one reworded item is exactly one graded edit, whatever rendering each side arrives in."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from trialwatch.diffing import compare
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.record import TrialRecord

TEXT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "criteria" / "NCT04267848_v2.md"
).read_text(encoding="utf-8")


def _record(text: str) -> TrialRecord:
    return TrialRecord(
        nct_id="NCT04267848", source="ctgov", eligibility=eligibility_from_text(text)
    )


def _html(markdown: str) -> str:
    """The same text as HTML, rendered by a real markdown renderer (no line breaks kept)."""
    return MarkdownIt("commonmark").render(markdown).replace("\n", "")


def test_the_html_rendering_is_no_change() -> None:
    assert compare(_record(TEXT), _record(_html(TEXT))) == []


@pytest.mark.parametrize("render", [lambda t: t, _html], ids=["markdown", "html"])
@pytest.mark.parametrize(
    ("old", "new", "op", "grade", "reason"),
    [
        (
            "* Hemoglobin \\>= 8 gm/dl",
            "* Hemoglobin \\>= 9 gm/dl",
            "changed",
            "major",
            "number changed (8 \u2192 9)",
        ),
        (
            "* Hemoglobin \\>= 8 gm/dl",
            "* hemoglobin \\>= 8 gm/dl",
            "changed",
            "editorial",
            "case only",
        ),
        (
            "* Hemoglobin \\>= 8 gm/dl",
            "* Hemoglobin \\>= 8 gm/dl, measured locally",
            "changed",
            "minor",
            "detail added (measured locally)",
        ),
        (
            "* No prior allogeneic tissue/solid organ transplant\n",
            "",
            "removed",
            "major",
            "inclusion item removed",
        ),
    ],
)
def test_one_reworded_item_is_one_graded_edit(
    render: object, old: str, new: str, op: str, grade: str, reason: str
) -> None:
    assert old in TEXT
    edited = TEXT.replace(old, new)
    assert callable(render)
    [change] = compare(_record(TEXT), _record(render(edited)))
    [edit] = change.detail["items"]
    assert (edit["op"], edit["grade"]) == (op, grade)
    assert reason in edit["reason"] and change.grade == grade
