"""Criteria splitting: layout never changes the items, wording does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from trialwatch.parsers.eligibility import split_criteria

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

INCLUSION = [
    "Age ≥ 18 years",
    "Histologically confirmed adenocarcinoma of the pancreas that is locally advanced or "
    "metastatic and not amenable to curative surgery, as judged by the treating surgeon",
    "Adequate organ function:",
    "ANC ≥ 1,500/mm3",
    "Serum creatinine < 1.5 × ULN & bilirubin normal",
]
EXCLUSION = [
    "Prior chemotherapy for metastatic disease",
    "Pregnant or breast-feeding women",
]
SUB = {3}  # INCLUSION[3:] are sub-items of "Adequate organ function:"


def markdown(bullet: str = "*", sub: str = "  *") -> str:
    lines = ["Inclusion Criteria:", ""]
    lines += [f"{sub if i >= 3 else bullet} {item}" for i, item in enumerate(INCLUSION)]
    lines += ["", "Exclusion Criteria:", ""]
    lines += [f"{bullet} {item}" for item in EXCLUSION]
    return "\n".join(lines)


def numbered(style: str) -> str:
    """ "1." / "1)" / "a)" / "i." numbering, sub-items numbered separately."""

    def mark(n: int) -> str:
        return {
            "1.": f"{n}.",
            "1)": f"{n})",
            "a)": f"{'abcdefgh'[n - 1]})",
            "i.": f"{['i', 'ii', 'iii', 'iv', 'v'][n - 1]}.",
        }[style]

    lines = ["Inclusion Criteria:", ""]
    lines += [f"{mark(i + 1)} {item}" for i, item in enumerate(INCLUSION[:3])]
    lines += [f"   {mark(i + 1)} {item}" for i, item in enumerate(INCLUSION[3:])]
    lines += ["", "Exclusion Criteria:", ""]
    lines += [f"{mark(i + 1)} {item}" for i, item in enumerate(EXCLUSION)]
    return "\n".join(lines)


def classic(width: int = 100, marker: str = "-") -> str:
    """The classic XML layout: deep indentation, blank lines, hard wrapping."""

    def block(item: str, indent: int) -> list[str]:
        first = " " * indent + f"{marker}  "
        rest = " " * (indent + len(marker) + 2)
        return textwrap.wrap(item, width, initial_indent=first, subsequent_indent=rest) + [""]

    lines = ["        Inclusion Criteria:", ""]
    for i, item in enumerate(INCLUSION):
        lines += block(item, 15 if i >= 3 else 10)
    lines += ["        Exclusion Criteria:", ""]
    for item in EXCLUSION:
        lines += block(item, 10)
    return "\n" + "\n".join(lines) + "\n      "


def test_markdown_baseline() -> None:
    assert split_criteria(markdown()) == (INCLUSION, EXCLUSION)


@pytest.mark.parametrize("bullet", ["*", "-", "•", "·", "+", "▪"])
def test_bullet_styles(bullet: str) -> None:
    assert split_criteria(markdown(bullet, "    " + bullet)) == (INCLUSION, EXCLUSION)


def test_symbol_bullet_without_a_space() -> None:
    text = markdown().replace("* ", "•")
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


@pytest.mark.parametrize("style", ["1.", "1)", "a)", "i."])
def test_numbering_styles(style: str) -> None:
    assert split_criteria(numbered(style)) == (INCLUSION, EXCLUSION)


@pytest.mark.parametrize("width", [100, 72, 40])
def test_classic_wrapping_and_indentation(width: int) -> None:
    text = classic(width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_classic_with_dash_and_number_markers() -> None:
    assert split_criteria(classic(60, "1.")) == (INCLUSION, EXCLUSION)


def test_crlf_and_blank_lines_and_trailing_spaces() -> None:
    text = markdown().replace("\n", "  \r\n").replace("\r\n* ", "\r\n\r\n\r\n*   ")
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_html_entities() -> None:
    text = (
        markdown()
        .replace("&", "&amp;")
        .replace("≥", "&#8805;")
        .replace("<", "&lt;")
        .replace("×", "&times;")
    )
    assert "≥" not in text and "&#8805;" in text
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_markdown_backslash_escapes() -> None:
    text = markdown().replace("<", "\\<").replace("(", "\\(")
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_unicode_compatibility_forms() -> None:
    # NO-BREAK SPACE, fullwidth digits and letters, the "fi" ligature.
    text = (
        markdown()
        .replace("Age ≥ 18", "Age\u00a0≥\u00a0\uff11\uff18")
        .replace("confirmed", "con\ufb01rmed")
        .replace("ANC", "\uff21\uff2e\uff23")
    )
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_html_rendering() -> None:
    # The record-history endpoint gives criteria as HTML with escaped text.
    def esc(item: str) -> str:
        return item.replace("&", "&amp;").replace("<", "&lt;").replace("≥", "&#8805;")

    html = (
        "<p>Inclusion Criteria:</p><ol>"
        + "".join(f"<li>{esc(i)}</li>" for i in INCLUSION[:2])
        + f"<li><p>{esc(INCLUSION[2])}</p><ul>"
        + "".join(f"<li>{esc(i)}</li>" for i in INCLUSION[3:])
        + "</ul></li></ol><p>Exclusion Criteria:</p><ul>"
        + "".join(f"<li>{esc(i)}</li>" for i in EXCLUSION)
        + "</ul>"
    )
    assert "&lt; 1.5" in html and "&amp;" in html
    assert split_criteria(html) == (INCLUSION, EXCLUSION)


@pytest.mark.parametrize(
    ("inclusion_heading", "exclusion_heading"),
    [
        ("Inclusion Criteria:", "Exclusion Criteria:"),
        ("INCLUSION CRITERIA", "EXCLUSION CRITERIA"),
        ("Key Inclusion Criteria:", "Key Exclusion Criteria:"),
        ("Inclusion criteria", "Exclusion criteria"),
        ("  -  INCLUSION CRITERIA:", "  -  EXCLUSION CRITERIA:"),
        ("Inclusion Criteria include:", "Exclusion criteria for all cohorts:"),
        ("Main inclusion criteria:", "Main exclusion criteria:"),
        ("Criteria for inclusion:", "Criteria for exclusion:"),
        ("Inclusion criteria:", "Non-inclusion criteria:"),
        ("Transplant Inclusion:", "Transplant Exclusion:"),
    ],
)
def test_heading_variants(inclusion_heading: str, exclusion_heading: str) -> None:
    text = markdown().replace("Inclusion Criteria:", inclusion_heading)
    text = text.replace("Exclusion Criteria:", exclusion_heading)
    assert split_criteria(text) == (INCLUSION, EXCLUSION)


def test_text_after_a_heading_colon_is_an_item() -> None:
    text = "Inclusion criteria: adults with asthma\nExclusion criteria: smokers"
    assert split_criteria(text) == (["adults with asthma"], ["smokers"])


def test_no_headings_means_all_inclusion() -> None:
    assert split_criteria("* Healthy adults\n* Able to swallow tablets") == (
        ["Healthy adults", "Able to swallow tablets"],
        None,
    )


def test_exclusion_only() -> None:
    assert split_criteria("Exclusion Criteria:\n\n* Smokers") == (None, ["Smokers"])


def test_paragraphs_are_items_and_sentences_inside_are_not_headings() -> None:
    text = (
        "Inclusion Criteria:\n\nWomen with singleton pregnancies will be evaluated\n\n"
        "Exclusion Criteria:\n\nInclusion of minors is not planned."
    )
    assert split_criteria(text) == (
        ["Women with singleton pregnancies will be evaluated"],
        ["Inclusion of minors is not planned."],
    )


def test_rewording_is_seen() -> None:
    changed = markdown().replace("Age ≥ 18 years", "Age ≥ 21 years")
    assert split_criteria(changed)[0] != INCLUSION


def test_empty_and_none() -> None:
    assert split_criteria(None) == (None, None)
    assert split_criteria("") == (None, None)
    assert split_criteria("  \n\n ") == (None, None)


# --- real criteria texts ------------------------------------------------------


def _v2_criteria(case: str) -> str:
    path = next((FIXTURES / "ctgov" / case).glob("ctgov_v2_*.json"))
    return json.loads(path.read_bytes())["protocolSection"]["eligibilityModule"][
        "eligibilityCriteria"
    ]


def _to_classic(markdown_text: str, width: int = 100) -> str:
    """Re-render API v2 markdown the way the classic XML textblock laid it out."""
    out = []
    for line in markdown_text.replace("\\>", ">").replace("\\<", "<").splitlines():
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if stripped.startswith("* "):
            marker, body = "-  ", stripped[2:]
        elif stripped[:1].isdigit() and ". " in stripped[:4]:
            number, body = stripped.split(". ", 1)
            marker = f"{number}. "
        else:
            out += textwrap.wrap(stripped, width, initial_indent=" " * 8) or [""]
            continue
        indent = " " * (10 + 2 * depth)
        out += textwrap.wrap(
            body,
            width,
            initial_indent=indent + marker,
            subsequent_indent=indent + " " * len(marker),
        )
        out.append("")
    return "\n".join(out)


@pytest.mark.parametrize("case", ["NCT00184067", "NCT04207047", "NCT02552212", "NCT04431453"])
def test_real_v2_text_rendered_classic_gives_the_same_items(case: str) -> None:
    text = _v2_criteria(case)
    rendered = _to_classic(text)
    assert rendered != text and any(len(line) > 90 for line in rendered.splitlines())
    inclusion, exclusion = split_criteria(text)
    assert inclusion and exclusion
    assert split_criteria(rendered) == (inclusion, exclusion)


def test_real_v2_nested_numbering_is_split_into_items() -> None:
    inclusion, _ = split_criteria(_v2_criteria("NCT04207047"))
    assert inclusion is not None
    assert "Postmenopausal for at least 12 months prior to study;" in inclusion
    assert "Without a uterus and/or both ovaries; or" in inclusion


def test_real_classic_rewrapped_download_gives_the_same_items() -> None:
    # Two real downloads of NCT00513591: one wraps a sub-item onto two lines.
    def criteria(case: str) -> str:
        path = next((FIXTURES / "ctgov_classic" / case).glob("*.xml"))
        xml = path.read_text(encoding="utf-8")
        block = xml.split("<criteria>")[1].split("</criteria>")[0]
        return block.split("<textblock>")[1].split("</textblock>")[0]

    older, newer = criteria("NCT00513591_redownloaded"), criteria("NCT00513591")
    assert "Ankylosing\n" in older and "Ankylosing Spondylitis)" in newer
    assert split_criteria(older) == split_criteria(newer)
    inclusion, exclusion = split_criteria(older)
    assert inclusion is not None and exclusion is not None
    assert "Inflammatory Arthritis (including Psoriatic Arthritis and Ankylosing Spondylitis)" in (
        inclusion
    )
    assert len(inclusion) == 13 and len(exclusion) == 3
