"""(c) The old line splitter's misreadings of real criteria texts stay fixed, and (d) a
reworded text differs in exactly the criteria whose wording changed. Each edit of a real text
is stated where it is made."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tests.parsers.criteria_texts import EXC, INC, NCT02110043, edit, load, tree
from trialwatch.parsers.criteria import parse_criteria
from trialwatch.parsers.eligibility import split_criteria
from trialwatch.record import Criterion

# --- (c) what the old line splitter misread ----------------------------------------------


def test_a_heading_like_sentence_in_a_list_is_an_item() -> None:
    # Edit: NCT00482794 gets a first inclusion item that names the exclusion criteria.
    text = edit(
        load("NCT00482794_classic.txt"),
        "Inclusion Criteria:\n\n",
        "Inclusion Criteria:\n\n          -  Exclusion criteria of the parent study do not "
        "apply\n\n",
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion is not None and len(inclusion) == 9
    assert inclusion[0] == "Exclusion criteria of the parent study do not apply"
    assert exclusion == ["No documented presence of antiphospholipid antibody"]


def test_genus_abbreviations_are_text() -> None:
    # Edits to NCT03147742: an item that starts with "H. pylori", and an item whose hard
    # wrap puts "E. coli" at the start of a line.
    text = load("NCT03147742_classic.txt")
    pylori = edit(text, "-  Known HIV infection.", "-  H. pylori infection.")
    assert "H. pylori infection." in (split_criteria(pylori)[1] or [])
    coli = edit(text, "-  Known HIV infection.", "-  Known HIV or\n             E. coli infection.")
    _, exclusion = split_criteria(coli)
    assert exclusion is not None and len(exclusion) == 14
    assert "Known HIV or E. coli infection." in exclusion
    # Edit to NCT04431453 (markdown): an item that starts with "C. difficile".
    v2 = edit(
        load("NCT04431453_v2.md"),
        "* Hospitalized and requiring",
        "* C. difficile infection, or hospitalized and requiring",
    )
    inclusion, _ = split_criteria(v2)
    assert inclusion is not None and inclusion[-1].startswith("C. difficile infection, or hosp")


def test_words_that_look_like_roman_numerals_are_text() -> None:
    # Edit: NCT04207047's item 3 hard-wrapped before "VI." (a skin type, not item vi).
    text = edit(
        load("NCT04207047_v2.md"),
        "Type I to VI. Protocol",
        "Type I to\n   VI. Protocol",
    )
    inclusion, _ = split_criteria(text)
    assert inclusion == split_criteria(load("NCT04207047_v2.md"))[0]
    # Edit: NCT03424005's item wrapped as "critically\n ill." ("ill" is no numeral).
    text = edit(
        load("NCT03424005_classic.txt"),
        "Severe infection within 4 weeks prior to initiation of study treatment\n",
        "Severe infection within 4 weeks prior to initiation of study treatment, or critically\n"
        "             ill.\n",
    )
    _, exclusion = split_criteria(text)
    assert exclusion is not None and len(exclusion) == 20
    assert exclusion[12].endswith("study treatment, or critically ill.")


def test_numbers_after_a_hard_wrap_continue_the_item() -> None:
    # NCT02465060 re-wrapped so that "6) must occur ..." and "(2) metal ..." (NCT00151216)
    # start lines: each is the text of an item, not an item of its own.
    steps = "(Step 0, 2, 4, 6) must occur after"
    text = load("NCT02465060_classic.txt").replace(
        f"screening steps {steps}",
        "screening steps (Step 0, 2, 4,\n                       6) must occur after",
    )
    assert "\n                       6) must" in text
    assert split_criteria(text) == split_criteria(load("NCT02465060_classic.txt"))
    text = edit(
        load("NCT00151216_classic.txt"),
        "related implants, (2) metal\n             fragment/chip",
        "related implants,\n             (2) metal fragment/chip",
    )
    _, exclusion = split_criteria(text)
    assert exclusion is not None and len(exclusion) == 6
    assert exclusion[-1].startswith("Individuals who have a (1) heart pacemaker")
    # Wrapped numbers that are not enumerators at all: "100 x 10^9/L", "1.5 x ULN".
    lab = load("NCT03147742_classic.txt").replace(
        "platelets ≥ 20 × 10^9/L", "platelets ≥\n             20 × 10^9/L"
    )
    assert split_criteria(lab) == split_criteria(load("NCT03147742_classic.txt"))


def test_group_labels_are_not_items() -> None:
    inclusion, _ = split_criteria(load("NCT01298141_classic.txt"))
    assert inclusion is not None and "Cohort 1:" not in inclusion and "Cohort 2:" not in inclusion
    assert inclusion[0] == "The patient has a documented diagnosis of Fabry disease."


def test_html_superscripts_are_powers() -> None:
    # The old splitter dropped <sup>, reading "1.73m<sup>2</sup>" as "1.73m2".
    markdown = load("NCT04431453_v2.md")
    rendered = MarkdownIt("commonmark").render(markdown).replace("m^2", "m<sup>2</sup>")
    assert split_criteria(rendered) == split_criteria(markdown)
    assert any("1.73m^2" in t for t in split_criteria(rendered)[1] or [])


# --- (d) rewording gives exactly the expected difference ----------------------------------


def _diff(before: list[Criterion], after: list[Criterion]) -> list[int]:
    assert len(before) == len(after)
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]


def test_one_number_changed_changes_one_criterion() -> None:
    text = load("NCT03147742_classic.txt")
    before = parse_criteria(text)
    after = parse_criteria(edit(text, "12 years of age or older", "18 years of age or older"))
    assert _diff(before, after) == [0]
    assert after[0].text == "Male or female, 18 years of age or older."
    assert (after[0].section, after[0].path) == (before[0].section, before[0].path)


def test_renamed_label_changes_only_the_paths_under_it() -> None:
    text = load("NCT01298141_classic.txt")
    before = parse_criteria(text)
    after = parse_criteria(edit(text, "Cohort 2:", "Cohort 3:"))
    assert _diff(before, after) == [23]
    assert after[23].path == ["Cohort 3"] and after[23].text == before[23].text


def test_renamed_heading_qualifier_changes_only_its_section_group() -> None:
    text = load("NCT03424005_classic.txt")
    before = parse_criteria(text)
    after = parse_criteria(edit(text, "Inclusion criteria stage 2", "Inclusion criteria stage 3"))
    assert _diff(before, after) == [15, 16, 17, 18]
    assert all(c.path == ["stage 3"] for c in after[15:19])
    assert [c.text for c in after] == [c.text for c in before]


def test_reworded_parent_changes_it_and_its_sub_items_paths() -> None:
    text = load("NCT04280705_v0_history.html")
    before = parse_criteria(text)
    after = parse_criteria(edit(text, "Illness of any duration,", "Illness of any severity,"))
    assert _diff(before, after) == [5, 6, 7, 8]
    assert after[5].text.startswith("Illness of any severity,")
    assert [c.text for c in after[6:9]] == [c.text for c in before[6:9]]


def test_deleted_sub_item_removes_exactly_it() -> None:
    text = load("NCT02110043_v1_history.html")
    after = parse_criteria(
        edit(text, "<li>relatively normal performance in other cognitive domains;</li>", "")
    )
    assert [(c.section, tuple(c.path), c.text) for c in after] == NCT02110043[:4] + NCT02110043[5:]


def test_moved_item_changes_section() -> None:
    markdown = load("NCT03630471_v2.md")
    moved = edit(markdown, "* Not providing assent\n", "").replace(
        "* Proficient in spoken English or Hindi",
        "* Proficient in spoken English or Hindi\n* Not providing assent",
    )
    before, after = tree(markdown), tree(moved)
    assert (EXC, ("For adolescent participants",), "Not providing assent") in before
    assert (INC, ("For parent participants",), "Not providing assent") in after
    assert [t for t in after if t[2] != "Not providing assent"] == [
        t for t in before if t[2] != "Not providing assent"
    ]
