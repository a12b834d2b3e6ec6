"""The criteria tree over real criteria texts (tests/fixtures/criteria/SOURCES.md).

(a) each real text gives the tree a careful reader gives; (b) the same text in another
rendering (markdown, HTML, classic plain text; re-wrapped, other bullets and numbering,
entities, escapes, NFKC forms) gives the identical list; (c) the old splitter's misreadings
stay fixed; (d) a reworded text differs in exactly the criteria whose wording changed.
"""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from trialwatch.parsers.criteria import parse_criteria, read_outline
from trialwatch.parsers.criteria_read import Node
from trialwatch.parsers.eligibility import eligibility_from_text, split_criteria
from trialwatch.record import Criterion

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"
TEXTS = sorted(p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md")
INC, EXC = "inclusion", "exclusion"
Tree = list[tuple[str, tuple[str, ...], str]]


def load(name: str) -> str:
    with open(FIXTURES / name, encoding="utf-8", newline="") as f:
        return f.read()


def tree(text: str) -> Tree:
    return [(c.section, tuple(c.path), c.text) for c in parse_criteria(text)]


# --- renderings of an outline -----------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#&~!^|])")


def _md(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(
        r"^(\d+)([.)])|^([-+])", lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text
    )


def to_markdown(nodes: list[Node], numbered: bool = False, indent: str = "") -> list[str]:
    """API v2 style: `*` or `1.` items, nested by their content column, escapes."""
    lines: list[str] = []
    n = 0
    for node in nodes:
        n = n + 1 if node.item else 0
        mark = (f"{n}. " if numbered else "* ") if node.item else ""
        lines += [indent + mark + _md(node.text), ""]
        lines += to_markdown(node.children, numbered, indent + " " * len(mark))
    return lines


def _html(text: str) -> str:
    escaped = html.escape(text, quote=False).replace("/", "&#x2F;")
    return re.sub(r"\^(\d+)", r"<sup>\1</sup>", escaped)


def to_html(nodes: list[Node], ordered: bool = False) -> str:
    """Record-history style: <p>, <ul>/<ol><li>, entities, <sup>."""
    out: list[str] = []
    items: list[str] = []
    tag = "ol" if ordered else "ul"
    for node in [*nodes, Node("")]:
        if node.item:
            items.append(f"<li>{_html(node.text)}{to_html(node.children, ordered)}</li>")
            continue
        if items:
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            items = []
        if node.text:
            out.append(f"<p>{_html(node.text)}</p>")
    return "".join(out)


def _mark(style: str, n: int) -> str:
    if style in "-*•+▪":
        return f"{style}  "
    letter = "abcdefghijklmnopqrstuvwxyz"[n - 1] if n <= 26 else str(n)
    return {"1.": f"{n}. ", "1)": f"{n}) ", "(1)": f"({n}) ", "a)": f"{letter}) "}[style]


def to_classic(nodes: list[Node], width: int = 100, style: str = "-", col: int = 8) -> list[str]:
    """The classic XML layout: paragraphs at `col`, markers 2 further with numbers right-
    aligned, text 3 after that, continuation lines under the text, blank lines between."""
    lines: list[str] = []
    n = 0
    for node in nodes:
        n = n + 1 if node.item else 0
        text_col = col + 5 if node.item else col
        mark = _mark(style, n) if node.item else ""
        first = " " * (text_col - len(mark)) + mark
        wrapped = textwrap.wrap(
            node.text,
            width,
            initial_indent=first,
            subsequent_indent=" " * text_col,
            break_on_hyphens=False,
            break_long_words=False,
        )
        lines += [*wrapped, ""]
        lines += to_classic(node.children, width, style, text_col)
    return lines


def to_tight(nodes: list[Node], bullet: str = "-", indent: int = 0) -> list[str]:
    """Plain text without wrapping: items on consecutive lines, two spaces per level."""
    lines: list[str] = []
    for node in nodes:
        if node.item:
            lines.append(" " * indent + f"{bullet} {node.text}")
            lines += to_tight(node.children, bullet, indent + 2)
        else:
            lines += ["", " " * indent + node.text, ""]
    return lines


# --- (a) real texts give the tree a careful reader gives --------------------------------

MCI, AMN = "MCI patients", "amnestic and amnestic plus MCI with"
NCT02110043 = [
    (INC, (MCI,), "right handedness"),
    (INC, (MCI,), "amnestic and amnestic plus MCI with:"),
    (INC, (MCI, AMN), "subjective memory impairment;"),
    (
        INC,
        (MCI, AMN),
        "objective memory difficulties, at least 1 SD below gender, age and education "
        "adjusted standard values;",
    ),
    (INC, (MCI, AMN), "relatively normal performance in other cognitive domains;"),
    (INC, (MCI, AMN), "no constraints in activities of daily livings"),
    (INC, (MCI, AMN), "age: 50-90 years"),
    (EXC, (), "severe internal or psychiatric disease"),
    (EXC, (), "epilepsy"),
    (EXC, (), "other severe neurological diseases, e.g. previous major stroke or brain tumor"),
    (EXC, (), "DMS-IV manifest dementia"),
    (EXC, (), "contraindication for MRT (claustrophobia, metallic implants, tattoos)"),
]


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


# (file, inclusion count, exclusion count, [(index, section, path, text)])
SPOT_CHECKS: list[tuple[str, int, int, list[tuple[int, str, tuple[str, ...], str]]]] = [
    (
        "NCT04280705_v0_history.html",
        10,
        5,
        [
            (
                3,
                INC,
                (),
                "Male or non-pregnant female adult >/=18 years of age at time of enrollment.",
            ),
            (5, INC, (), "Illness of any duration, and at least one of the following:"),
            (
                7,
                INC,
                ("Illness of any duration, and at least one of the following",),
                "Clinical assessment (evidence of rales/crackles on exam) AND SpO2 </= 94% on "
                "room air, OR",
            ),
            (
                11,
                EXC,
                (),
                "Stage 4 severe chronic kidney disease or requiring dialysis (i.e. estimated "
                "glomerular filtration rate (eGFR) < 30)",
            ),
        ],
    ),
    (
        # "Cohort 1:" labels items 1-3; "Cohort 2:" closes item 3's text and labels item 4.
        "NCT01298141_classic.txt",
        24,
        3,
        [
            (0, INC, ("Cohort 1",), "The patient has a documented diagnosis of Fabry disease."),
            (
                4,
                INC,
                (
                    "Cohort 1",
                    "The patient must meet current Canadian guidelines for enzyme replacement "
                    "therapy for Fabry disease by meeting one of the following criteria",
                    "Age-adjusted glomerular filtration rate (GFR) <80 ml/min or a decline in "
                    "GFR of >10% which is sustained for 3 months and for which other causes of "
                    "declining renal function have been excluded by a nephrologist or any 2 of "
                    "the following",
                ),
                "Isolated proteinuria ≥500 mg/day/1.73 m2 without other cause",
            ),
            (23, INC, ("Cohort 2",), "Patient must have participated in Study REP001a."),
            (
                26,
                EXC,
                (),
                "The patient is enrolled in another clinical study, other than the Canadian "
                "Fabry Disease Initiative (CFDI).",
            ),
        ],
    ),
    (
        # Group labels nest: "PATIENT CHARACTERISTICS:" is followed by "Age:".
        "NCT00002475_classic.txt",
        35,
        0,
        [
            (
                1,
                INC,
                (
                    "DISEASE CHARACTERISTICS",
                    "Histologically confirmed cancer not amenable to cure or long-term control "
                    "by surgery, radiotherapy, chemotherapy, or hormonal manipulations, "
                    "including the following tumor types",
                ),
                "Colon cancer",
            ),
            (10, INC, ("PATIENT CHARACTERISTICS", "Age"), "18 and over"),
            (14, INC, ("PATIENT CHARACTERISTICS", "Performance status"), "Karnofsky 70-100%"),
            (34, INC, ("PRIOR CONCURRENT THERAPY", "Surgery"), "See Disease Characteristics"),
        ],
    ),
    (
        # "Transplant Inclusion:", labels "Group 1" without a colon, glued "•" bullets.
        "NCT01220531_classic.txt",
        12,
        7,
        [
            (
                3,
                INC,
                ("Transplant", "Group 1"),
                "Typical cDGA whose T cells have a PHA response < 5,000 cpm and < 20 fold PHA "
                "response.",
            ),
            (
                10,
                INC,
                ("Transplant", "Group 4"),
                "Atypical cDGA with maternal engraftment and group 4 PHA response",
            ),
            (11, EXC, ("Transplant",), "Heart surgery <4 wks pre-transplantation"),
            (18, INC, ("Biological Mother",), "Must be biological mother of thymus recipient"),
        ],
    ),
    (
        "NCT06388018_v2.md",
        34,
        10,
        [
            (
                11,
                INC,
                (
                    "SUB-STUDY A: Patients with endometrial carcinoma (endometrioid, serous, "
                    "clear cell, un-/dedifferentiated, carcinosarcoma, mixed), must have one of "
                    "the following combinations of International Federation of Gynecology and "
                    "Obstetrics (FIGO) stage, grade, and lymphovascular invasion (LVI)",
                    "Cohort A1",
                ),
                "Stage IA (not confined to polyp), grade 3, pN0, with or without LVI (Pelvic "
                "lymph node surgical assessment (sentinel or full lymphadenectomy) is required "
                "for grade 3 or stage II. Para-aortic lymphadenectomy is not mandated.)",
            ),
            (
                10,
                INC,
                (
                    "SUB-STUDY A: Patients with endometrial carcinoma (endometrioid, serous, "
                    "clear cell, un-/dedifferentiated, carcinosarcoma, mixed), must have one of "
                    "the following combinations of International Federation of Gynecology and "
                    "Obstetrics (FIGO) stage, grade, and lymphovascular invasion (LVI)",
                ),
                "Cohort A1:",
            ),
            (3, INC, (), "Patients' age must be >= 18 years"),
        ],
    ),
    (
        # "* a) Cohort 1: ..." - the inner enumerator is numbering; "m\^2" is a power.
        "NCT04431453_v2.md",
        9,
        7,
        [
            (
                1,
                INC,
                (
                    "Aged < 18 years of age who meet one of the following weight criteria "
                    "(where permitted according to local law and approved nationally and by "
                    "relevant institutional review board (IRB) or independent ethics committee "
                    "(IEC)).",
                ),
                "Cohort 1: ≥ 12 years to < 18 years of age and weight at screening ≥ 40 kg",
            ),
            (
                11,
                EXC,
                (),
                "Estimated glomerular filtration rate (eGFR) < 30 mL/min/1.73m^2 using Schwartz "
                "formula for individuals ≥ 1 year of age.",
            ),
            (15, EXC, (), "Note: Other protocol defined Inclusion/Exclusion criteria may apply"),
        ],
    ),
    (
        # "Eligibility criteria:" names no section; "For ... participants:" are labels.
        "NCT03630471_v2.md",
        9,
        8,
        [
            (
                0,
                INC,
                ("For adolescent participants",),
                "Enrolled as a student in Grades 9-12 (corresponding to 13-20 years of age)",
            ),
            (
                6,
                INC,
                ("For parent participants",),
                "A primary parental caregiver or guardian for the index adolescent",
            ),
            (13, EXC, ("For adolescent participants",), "Not providing assent"),
            (
                16,
                EXC,
                ("For parent participants",),
                "Intoxicated at the point of consent or assessment",
            ),
        ],
    ),
    (
        "NCT03147742_classic.txt",
        11,
        14,
        [
            (4, INC, (), "Evidence of platelet engraftment (ie, platelets ≥ 20 × 10^9/L)."),
            (
                7,
                INC,
                (
                    "Be willing to avoid pregnancy or fathering children based on 1 of the "
                    "following criteria",
                ),
                "Women of non-childbearing potential (ie, surgically sterile with a hysterectomy "
                "and/or bilateral oophorectomy OR ≥ 12 months of amenorrhea).",
            ),
        ],
    ),
    (
        # "Non-inclusion criteria:" are exclusion criteria; "10." is right-aligned.
        "NCT02679963_classic.txt",
        29,
        20,
        [
            (
                9,
                INC,
                ("For inclusion in the study subjects should fulfill the following criteria",),
                "ECOG Performance Status of 0-1",
            ),
            (
                21,
                INC,
                (
                    "For inclusion in the study subjects should fulfill the following criteria",
                    "Evidence of non-childbearing status for women of childbearing potential: "
                    "negative serum pregnancy test within 14 days of study treatment.",
                    "Postmenopausal is defined as",
                ),
                "Amenorrheic for 1 year or more following cessation of exogenous hormonal "
                "treatments,",
            ),
            (
                29,
                EXC,
                (),
                "Uncontrolled or symptomatic brain metastases. Controlled brain metastases are "
                "defined as stable for 1 month. A scan to confirm the absence of brain metastases "
                "is not required. Corticosteroids therapy will be allowed if administered at a "
                "stable dose for at least one month before entering the trial.",
            ),
        ],
    ),
    (
        # A bulleted heading; an introduction that is a label, one that is also an item.
        "NCT00001177_classic.txt",
        12,
        2,
        [
            (
                4,
                INC,
                ("The subjects of this study will be women who meet the following criteria",),
                "regular menses.",
            ),
            (
                11,
                INC,
                (),
                "Age-matched women without mood and behavioral disorders will be recruited.",
            ),
            (
                12,
                EXC,
                (),
                "Subjects should have no general medical illness that is primary (i.e., appears to "
                "be causing the mood disorder);",
            ),
        ],
    ),
    (
        # "Inclusion Criteria Stage 1" has no colon; "Exclusion Criteria for Stage 1".
        "NCT03424005_classic.txt",
        19,
        20,
        [
            (0, INC, ("Stage 1",), "ECOG Performance Status of 0 or 1"),
            (15, INC, ("stage 2",), "ECOG Performance Status of 0, 1, or 2"),
            (
                19,
                EXC,
                ("Stage 1",),
                "Prior treatment with any of the Stage 1 protocol-specified study treatments "
                "included in arms that are open at the time of screening, with the exception of "
                "capecitabine",
            ),
        ],
    ),
    (
        # "Eligibility criteria for the secondary randomisation ... Inclusion criteria"
        # names a group that holds over its inclusion and exclusion criteria.
        "NCT02028676_classic.txt",
        32,
        11,
        [
            (
                31,
                INC,
                ("the secondary randomisation to once vs twice daily lamivudine+abacavir",),
                "Participating in ARROW",
            ),
            (
                35,
                EXC,
                ("the secondary randomisation to once vs twice daily lamivudine+abacavir",),
                "Likely to switch to second-line therapy in the next 12 weeks",
            ),
            (
                42,
                EXC,
                (
                    "the secondary randomisation to stop or continue cotrimoxazole prophylaxis "
                    "randomisation",
                ),
                "Previous diagnosis of Pneumocystis jiroveci pneumonia (cotrimoxazole is "
                "secondary prophylaxis and should not be discontinued)",
            ),
        ],
    ),
    (
        "NCT01357915_classic.txt",
        5,
        6,
        [
            (
                3,
                INC,
                (
                    "Subjects of the vaccine group should in addition satisfy the following "
                    "criterion",
                ),
                "Subjects who participated in the primary study 108890 (NCT00435396), having "
                "received 3 doses of the GSK's CMV candidate vaccine and having completed the Year "
                "2 follow-up study 109211 (NCT00435396).",
            ),
            (
                10,
                EXC,
                (
                    "For subjects in the seropositive reference group, the following exclusion "
                    "criterion should be checked in addition",
                ),
                "Administration of any CMV vaccine since the screening visit of primary study "
                "108890 (NCT00435396).",
            ),
        ],
    ),
    (
        # Capitals labels; the source's "mm³" keeps its power as "mm^3", like "mm\^3".
        "NCT00276835_v2.md",
        44,
        0,
        [
            (
                26,
                INC,
                ("PATIENT CHARACTERISTICS", "Adequate pulmonary reserve"),
                "FEV_1 > 75% of predicted",
            ),
            (19, INC, ("PATIENT CHARACTERISTICS",), "Platelets > 100,000/mm^3"),
            (
                35,
                INC,
                ("PRIOR CONCURRENT THERAPY",),
                "Recovered from all toxic effects of prior therapy",
            ),
        ],
    ),
    (
        # Nested "1." lists; a trailing empty "-" bullet is no criterion.
        "NCT04207047_v2.md",
        12,
        22,
        [
            (
                10,
                INC,
                (),
                "Absence of physical or psychological conditions unacceptable to the investigator.",
            ),
            (
                33,
                EXC,
                ("History or current use of the following medications",),
                "Psychiatric drugs that in the investigators opinion would impair the subject from "
                "understanding the protocol requirements or understanding and signing the informed "
                "consent.",
            ),
        ],
    ),
]


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


# --- (b) formatting is never content -----------------------------------------------------


def _visible(nodes: list[Node]) -> list[Node]:
    """The outline without empty items ("-" alone on a line), which carry nothing."""
    out: list[Node] = []
    for node in nodes:
        children = _visible(node.children)
        if node.text or not node.item:
            out.append(Node(node.text, node.item, children))
        else:
            out += children
    return out


def _outline(name: str) -> list[Node]:
    return _visible(read_outline(load(name)))


@pytest.mark.parametrize("name", TEXTS)
def test_every_rendering_of_a_real_text_gives_the_same_criteria(name: str) -> None:
    want = parse_criteria(load(name))
    assert want, "a real text gives criteria"
    nodes = _outline(name)
    renderings = {
        "markdown": "\n".join(to_markdown(nodes)),
        "markdown numbered": "\n".join(to_markdown(nodes, numbered=True)),
        "html": to_html(nodes),
        "html ordered": to_html(nodes, ordered=True),
        "classic": "\n" + "\n".join(to_classic(nodes)) + "\n      ",
        "plain tight": "\n".join(to_tight(nodes)),
    }
    for how, text in renderings.items():
        assert parse_criteria(text) == want, how


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize(("width", "style"), [(60, "1."), (80, "•"), (132, "(1)"), (72, "a)")])
def test_rewrapped_with_other_bullets_and_numbering(name: str, width: int, style: str) -> None:
    text = "\n".join(to_classic(_outline(name), width, style))
    assert max(len(line) for line in text.splitlines()) <= width or "  " not in text
    assert parse_criteria(text) == parse_criteria(load(name))


@pytest.mark.parametrize("bullet", ["*", "+", "▪", "–"])
@pytest.mark.parametrize("name", ["NCT01298141_classic.txt", "NCT06388018_v2.md"])
def test_plain_bullet_symbols(name: str, bullet: str) -> None:
    text = "\n".join(to_tight(_outline(name), bullet))
    assert parse_criteria(text, "plain") == parse_criteria(load(name))


def _entities(text: str) -> str:
    return html.escape(text, quote=False).replace("≥", "&ge;").replace("×", "&#215;")


def _nfkc_forms(text: str, markup: bool) -> str:
    """No-break spaces between words, fullwidth letters, the "fi" ligature; NFKC reads
    them back. In HTML only the words change: tags and entities stay markup."""

    def forms(words: str) -> str:
        words = re.sub(r"(?<=\w) (?=\w)", "\u00a0", words).replace("fi", "ﬁ")
        return re.sub(r"[A-Za-z]", lambda m: chr(ord(m[0]) + 0xFEE0), words)

    return re.sub(r"(?:^|(?<=>))[^<&]+", lambda m: forms(m[0]), text) if markup else forms(text)


@pytest.mark.parametrize("name", TEXTS)
def test_entities_nfkc_and_line_endings(name: str) -> None:
    text, want = load(name), parse_criteria(load(name))
    if not name.endswith(".html"):  # HTML already spells its text in entities
        assert "&gt;" in _entities(text) or ">" not in text
        assert parse_criteria(_entities(text)) == want
    assert parse_criteria(_nfkc_forms(text, name.endswith(".html"))) == want
    assert parse_criteria(text.replace("\r\n", "\n").replace("\n", "\r\n")) == want


@pytest.mark.parametrize("name", [n for n in TEXTS if n.endswith(".md")])
def test_real_markdown_rendered_as_html(name: str) -> None:
    rendered = MarkdownIt("commonmark").render(load(name))
    assert "<li>" in rendered
    assert parse_criteria(rendered) == parse_criteria(load(name))


def test_numbering_style_may_change_within_a_list() -> None:
    # "1)" then "2." is one list: the numbers go on, only their punctuation changed.
    text = load("NCT04207047_v2.md")
    restyled = _edit(text, "1. Male or female", "1) Male or female")
    assert parse_criteria(restyled) == parse_criteria(text)
    assert parse_criteria(restyled.replace("\n", "\r\n"), "plain") == parse_criteria(text)


def test_markdown_escapes_are_not_content() -> None:
    text = load("NCT04431453_v2.md")
    assert "\\<" in text and "\\>" in text and "\\^" in text
    plain = text.replace("\\<", "<").replace("\\>", ">").replace("\\^", "^")
    assert parse_criteria(plain, "plain") == parse_criteria(text)


def test_superscripts_and_subscripts_keep_their_meaning() -> None:
    # NCT04431453 writes "1.73m\^2" in markdown; as HTML that is "1.73m<sup>2</sup>".
    markdown = load("NCT04431453_v2.md")
    html_text = MarkdownIt("commonmark").render(markdown).replace("m^2", "m<sup>2</sup>")
    assert "<sup>2</sup>" in html_text
    assert parse_criteria(html_text) == parse_criteria(markdown)
    # NCT03147742 writes "10^9/L"; unicode superscripts and <sup> say the same.
    classic = load("NCT03147742_classic.txt")
    assert "10^9/L" in classic
    want = parse_criteria(classic)
    assert parse_criteria(classic.replace("10^9", "10⁹")) == want
    assert parse_criteria(to_html(_visible(read_outline(classic)))) == want
    # Subscripts are joined. Edit: NCT00276835's "FEV\_1" written as a subscript and as
    # "FEV1" (the markdown "FEV\_1" itself stays "FEV_1": the underscore is its wording).
    v2 = load("NCT00276835_v2.md").replace("FEV\\_1", "FEV1")
    sub = MarkdownIt("commonmark").render(v2).replace("FEV1", "FEV<sub>1</sub>")
    assert "FEV<sub>1</sub>" in sub
    assert parse_criteria(sub) == parse_criteria(v2)
    assert ("inclusion", ["PATIENT CHARACTERISTICS", "Adequate pulmonary reserve"]) == (
        parse_criteria(sub)[26].section,
        parse_criteria(sub)[26].path,
    )
    assert parse_criteria(sub)[26].text == "FEV1 > 75% of predicted"


# --- (c) what the old line splitter misread ----------------------------------------------


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_a_heading_like_sentence_in_a_list_is_an_item() -> None:
    # Edit: NCT00482794 gets a first inclusion item that names the exclusion criteria.
    text = _edit(
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
    pylori = _edit(text, "-  Known HIV infection.", "-  H. pylori infection.")
    assert "H. pylori infection." in (split_criteria(pylori)[1] or [])
    coli = _edit(
        text, "-  Known HIV infection.", "-  Known HIV or\n             E. coli infection."
    )
    _, exclusion = split_criteria(coli)
    assert exclusion is not None and len(exclusion) == 14
    assert "Known HIV or E. coli infection." in exclusion
    # Edit to NCT04431453 (markdown): an item that starts with "C. difficile".
    v2 = _edit(
        load("NCT04431453_v2.md"),
        "* Hospitalized and requiring",
        "* C. difficile infection, or hospitalized and requiring",
    )
    inclusion, _ = split_criteria(v2)
    assert inclusion is not None and inclusion[-1].startswith("C. difficile infection, or hosp")


def test_words_that_look_like_roman_numerals_are_text() -> None:
    # Edit: NCT04207047's item 3 hard-wrapped before "VI." (a skin type, not item vi).
    text = _edit(
        load("NCT04207047_v2.md"),
        "Type I to VI. Protocol",
        "Type I to\n   VI. Protocol",
    )
    inclusion, _ = split_criteria(text)
    assert inclusion == split_criteria(load("NCT04207047_v2.md"))[0]
    # Edit: NCT03424005's item wrapped as "critically\n ill." ("ill" is no numeral).
    text = _edit(
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
    text = _edit(
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
    after = parse_criteria(_edit(text, "12 years of age or older", "18 years of age or older"))
    assert _diff(before, after) == [0]
    assert after[0].text == "Male or female, 18 years of age or older."
    assert (after[0].section, after[0].path) == (before[0].section, before[0].path)


def test_renamed_label_changes_only_the_paths_under_it() -> None:
    text = load("NCT01298141_classic.txt")
    before = parse_criteria(text)
    after = parse_criteria(_edit(text, "Cohort 2:", "Cohort 3:"))
    assert _diff(before, after) == [23]
    assert after[23].path == ["Cohort 3"] and after[23].text == before[23].text


def test_renamed_heading_qualifier_changes_only_its_section_group() -> None:
    text = load("NCT03424005_classic.txt")
    before = parse_criteria(text)
    after = parse_criteria(_edit(text, "Inclusion criteria stage 2", "Inclusion criteria stage 3"))
    assert _diff(before, after) == [15, 16, 17, 18]
    assert all(c.path == ["stage 3"] for c in after[15:19])
    assert [c.text for c in after] == [c.text for c in before]


def test_reworded_parent_changes_it_and_its_sub_items_paths() -> None:
    text = load("NCT04280705_v0_history.html")
    before = parse_criteria(text)
    after = parse_criteria(_edit(text, "Illness of any duration,", "Illness of any severity,"))
    assert _diff(before, after) == [5, 6, 7, 8]
    assert after[5].text.startswith("Illness of any severity,")
    assert [c.text for c in after[6:9]] == [c.text for c in before[6:9]]


def test_deleted_sub_item_removes_exactly_it() -> None:
    text = load("NCT02110043_v1_history.html")
    after = parse_criteria(
        _edit(text, "<li>relatively normal performance in other cognitive domains;</li>", "")
    )
    assert [(c.section, tuple(c.path), c.text) for c in after] == NCT02110043[:4] + NCT02110043[5:]


def test_moved_item_changes_section() -> None:
    markdown = load("NCT03630471_v2.md")
    moved = _edit(markdown, "* Not providing assent\n", "").replace(
        "* Proficient in spoken English or Hindi",
        "* Proficient in spoken English or Hindi\n* Not providing assent",
    )
    before, after = tree(markdown), tree(moved)
    assert (EXC, ("For adolescent participants",), "Not providing assent") in before
    assert (INC, ("For parent participants",), "Not providing assent") in after
    assert [t for t in after if t[2] != "Not providing assent"] == [
        t for t in before if t[2] != "Not providing assent"
    ]


# --- the API -------------------------------------------------------------------------------


def test_split_criteria_lists_every_item_in_order() -> None:
    inclusion, exclusion = split_criteria(load("NCT02110043_v1_history.html"))
    assert inclusion == [t for s, _, t in NCT02110043 if s == INC]
    assert exclusion == [t for s, _, t in NCT02110043 if s == EXC]


def test_eligibility_from_text() -> None:
    assert eligibility_from_text(None) is None
    assert eligibility_from_text(" \n ") is None
    text = load("NCT02110043_v1_history.html")
    eligibility = eligibility_from_text(text)
    assert eligibility is not None and eligibility.text == text
    assert eligibility.criteria == parse_criteria(text)
    assert eligibility.inclusion == split_criteria(text)[0]
    assert eligibility.exclusion == split_criteria(text)[1]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<",
        "<ul><li>" * 2000,
        "<div>" * 3000 + "x",
        "\x00<p>a</p>",
        "* " * 5000,
        "\n".join(" " * i + "- x" for i in range(2000)),
        "```\ncode\n```",
        "> > > quoted",
        "&#xd800; &bogus; \\",
        "Inclusion Criteria:",
        "<ul><li><ol><li></li></ol></li></ul>",
        "a)\n" * 40,
    ],
)
def test_bad_input_never_raises(text: str) -> None:
    assert isinstance(parse_criteria(text), list)


def test_plain_paragraphs_are_items_and_wrapped_lines_join() -> None:
    # NCT00001177's exclusion criteria are two plain paragraphs, each hard-wrapped.
    _, exclusion = split_criteria(load("NCT00001177_classic.txt"))
    assert exclusion is not None and len(exclusion) == 2
    assert exclusion[1].startswith(
        "Current alcohol or substance use or dependence (excluding nicotine) of sufficient "
        "magnitude to require"
    )
