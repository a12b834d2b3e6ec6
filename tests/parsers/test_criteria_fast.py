"""The line-based reader of API v2 markdown (criteria_fast.py) against markdown-it.

Every criteria text of the fixtures, both sides of the graded criteria edits, those texts
reworded the way the benchmark's eligibility edit rewords them, hand-made tricky texts and
seeded random ones: the outline and the criteria must be exactly those of the reference
reader (`fast=False`: markdown-it for all markdown), and the fast reader must actually read
most API v2 texts (a reader that always falls back would pass the first check).
"""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from benchmarks.criteria import criteria_in, studies_in
from benchmarks.edits import _CLAUSES, _reword
from trialwatch.parsers import criteria as criteria_module
from trialwatch.parsers.clean import clean_markdown, unchecked
from trialwatch.parsers.criteria import (
    heading,
    heading_test,
    parse_criteria,
    read_outline,
)
from trialwatch.parsers.criteria_fast import _LINES, _ODD_SPACE, fast_markdown_nodes
from trialwatch.parsers.criteria_heading import _heading, _heading_test
from trialwatch.parsers.criteria_markup import (
    _ASCII_PUNCTUATION,
    block_tags,
    looks_like_markdown,
    markdown_source,
)
from trialwatch.parsers.criteria_read import powers
from trialwatch.parsers.ctgov import record_from_study
from trialwatch.record import Criterion, Eligibility, Location, Outcome, TrialRecord
from trialwatch.text import clean_text, md_unescape

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None


JSON_FILES = sorted(FIXTURES.rglob("*.json"))
V2_TEXTS = sorted({t for path in JSON_FILES for t in criteria_in(_load(path)) if t.strip()})
GRADED = sorted(
    {
        edit[side]
        for path in sorted((FIXTURES / "grading").glob("*.json"))
        for edit in _load(path) or []
        if isinstance(edit, dict) and edit.get("kind") == "eligibility_criteria"
        for side in ("before", "after")
        if isinstance(edit.get(side), str) and edit[side].strip()
    }
)
FILES = sorted(
    p.read_text(encoding="utf-8")
    for p in (FIXTURES / "criteria").glob("*_*.*")
    if p.suffix in (".md", ".txt", ".html")
)
REAL = sorted(set(V2_TEXTS) | set(GRADED) | set(FILES))
# The benchmark's eligibility edit: a qualifying clause added to the last item.
REWORDED = sorted({_reword(text, clause)[0] for text in REAL for clause in _CLAUSES[:3]})
STUDIES = [s for path in JSON_FILES for s in studies_in(_load(path))]


def _fast_taken(text: str) -> bool:
    return fast_markdown_nodes(markdown_source(text), heading_test) is not None


def _markdown(text: str) -> bool:
    return not block_tags(text) and looks_like_markdown(text)


def _same(text: str, rendering: Any = "auto") -> None:
    assert read_outline(text, rendering) == read_outline(text, rendering, fast=False)
    fast, reference = parse_criteria(text, rendering), parse_criteria(text, rendering, fast=False)
    assert fast == reference
    assert [c.model_dump() for c in fast] == [c.model_dump() for c in reference]


def test_the_fixtures_hold_texts_enough() -> None:
    assert len(V2_TEXTS) >= 25 and len(GRADED) >= 100 and len(REWORDED) >= 300
    assert len(STUDIES) >= 40


@pytest.mark.parametrize("group", ["v2", "graded", "files", "reworded"])
def test_fast_reader_gives_the_reference_trees(group: str) -> None:
    texts = {"v2": V2_TEXTS, "graded": GRADED, "files": FILES, "reworded": REWORDED}[group]
    for text in texts:
        _same(text)


def test_fast_reader_reads_most_api_v2_texts() -> None:
    markdown = [t for t in V2_TEXTS if _markdown(t)]
    taken = [t for t in markdown if _fast_taken(t)]
    assert len(markdown) >= 20
    assert len(taken) >= 0.9 * len(markdown), f"{len(taken)} of {len(markdown)}"
    reworded = [t for t in REWORDED if _markdown(t)]
    assert sum(map(_fast_taken, reworded)) >= 0.5 * len(reworded)


# (text, whether the fast reader takes it): either way the trees must be the reference's.
TRICKY: list[tuple[str, bool]] = [
    (
        "Inclusion Criteria:\n\n* Age 18\n* Adults\n  * with asthma\n\nExclusion:\n\n* None",
        True,
    ),
    ("* ANC \\> 1500/mm\\^3\n* Hb \\>= 9 g/dL\n* 1\\. not a list", True),
    ("* \\* a star\n* \\[bracketed\\] \\<10", True),
    ("* escaped backslash \\\\* x", False),
    ("* a\n  * b\n    * c\n      * d", True),
    ("* a\n   * three spaces\n* b", True),
    ("* a\n    * four spaces\n* b", True),
    ("* a\n      * six spaces: a lazy line", False),
    ("* a\n\n  second paragraph\n* b", True),
    ("* a\n\n\n* b after two blank lines", True),
    ("- dash one\n- dash two\n+ plus starts a new list", True),
    ("* star\n- dash: a new list\n  * nested", True),
    ("1. one\n2. two\n   * sub\n3. three", True),
    ("1. one\n\n  - set in less than the item's text", True),
    ("Patients must:\n2. not a list: a lazy line", False),
    ("Patients must:\n1. a list at 1 interrupts", True),
    ("**Inclusion Criteria:**\n\n* a", False),
    ("Inclusion Criteria:  \n\n* trailing spaces  \n* b   ", True),
    ("Inclusion Criteria:\r\n\r\n* CRLF\r\n* b", True),
    ("Inclusion Criteria:\n\n*\ttab", False),
    ("* ≥ 18 years\n* ＞ 5\n* ｘ fullwidth\n* 10⁹/L", True),
    ("* ≥ 18 years\n* １８. fullwidth: a list in the item", False),
    ("* e.g. _emphasis_", False),
    ("* `code`", False),
    ("* [a link](http://x)", False),
    ("* <b>html</b>", False),
    ("* a &amp; b\n* c & d", False),
    ("* c & d", True),
    ("# Heading\n\n* a", False),
    ("Inclusion\n===\n* a", False),
    ("* a\n\n---\n\n* b", False),
    ("> quoted\n* a", False),
    ("    indented code\n* a", False),
    ("* a) lettered\n* b) second", True),
    ("* Cohort A:\n  * a\n* Cohort B:\n  * b", True),
    ("* a\nlazy continuation\n* b", True),
    ("Inclusion Criteria:\nExclusion Criteria:\n* a", True),
    ("* a \\\n* hard break", False),
    ("*     five spaces", False),
    ("* \n* empty item", False),
    ("* a\n\u2028* line separator", False),
    ("* a\u00a0b\n* no-break space", True),
    ("Eligibility criteria for Part A\nInclusion criteria:\n* a\n* ınclusıon criteria:", True),
]


@pytest.mark.parametrize(("text", "taken"), TRICKY)
def test_tricky_texts(text: str, taken: bool) -> None:
    assert _fast_taken(text) is taken
    _same(text, "markdown")
    _same(text)


_MARKS = ["* ", "* ", "* ", "- ", "1. ", "2. ", "1) ", "*  ", "", "", "1\\. ", "\\* ", "+ "]
_BODIES = [
    "Inclusion Criteria:",
    "Exclusion Criteria:",
    "Cohort A:",
    "Age 18 or older",
    "\\>= 18 years",
    "a & b",
    "≥ 18",
    "Patients must have:",
    "one of the following:",
    "Key Inclusion Criteria",
    "ANC \\> 1500/mm\\^3",
    "a) lettered",
    "b) second",
    "(1) paren",
    "Part B",
    "[ref]",
    "10⁹/L",
    "e.g. this",
    "1.5 mg",
    "Donor Inclusion Criteria:",
    "• bullet",
    "A. weak",
    "B. weak",
    "**bold**",
    "x_y",
    "# h",
]


def _random_text(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.2:
            lines.append("")
            continue
        indent = " " * rng.choice([0, 0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 8])
        trail = rng.choice(["", "", " ", "  "])
        lines.append(indent + rng.choice(_MARKS) + rng.choice(_BODIES) + trail)
    return "\n".join(lines)


def test_random_texts() -> None:
    rng = random.Random(20240611)
    taken = 0
    for _ in range(1500):
        text = _random_text(rng)
        if not text.strip():
            continue
        taken += _fast_taken(text)
        _same(text, "markdown")
    assert taken >= 300  # the comparison covers the fast reader, not only its fallback


def _markdown_source_by_character(text: str) -> str:
    """markdown_source as it was: every character visited."""
    text = powers(text)
    out = []
    for char in text:
        if ord(char) > 127 and (form := unicodedata.normalize("NFKC", char)) != char:
            char = f"\\{form}" if len(form) == 1 and form in _ASCII_PUNCTUATION else char
        out.append(char)
    return unicodedata.normalize("NFKC", "".join(out)).replace("\r\n", "\n").replace("\r", "\n")


def test_markdown_source_is_unchanged() -> None:
    odd = "＞＜＝１８．ﬁ⁹²ⅣＡ　\u00a0\u2003é\u0301ı\r\n\rx＊［］"
    for text in [*REAL, odd, "plain ascii\r\nline", *(c * 3 for c in odd)]:
        assert markdown_source(text) == _markdown_source_by_character(text)


def test_heading_words_and_odd_spaces() -> None:
    lines = [
        "Inclusion Criteria:",
        "ınclusıon criteria:",
        "Age 18 or older",
        "Eligibility criteria for Part A",
        "Criteria for exclusion",
        "Selection:",
        "NON-INCLUSION CRITERIA",
        "Key exclusions:",
    ]
    for line in lines + [t for text in REAL[:40] for t in text.split("\n")]:
        assert heading(line) == _heading(line)
        assert heading_test(line) == _heading_test(line)
    assert not any(chr(c).isspace() for c in range(0x3001, 0x110000))
    # Whitespace other than " " and "\n" that a markdown_source() text can hold: refused.
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    kept = {c for space in spaces for c in markdown_source(f"a{space}b") if c.isspace()}
    assert kept - {" ", "\n"} <= set(_ODD_SPACE)


def _dumps(record: TrialRecord) -> tuple[Any, Any]:
    return record.model_dump(), record.model_dump(mode="json")


def test_records_are_those_of_the_reference_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = [_dumps(record_from_study(s)) for s in STUDIES]
    for record in map(record_from_study, STUDIES):
        # Models built unchecked equal the validated ones.
        assert TrialRecord(**record.model_dump()) == record
    monkeypatch.setattr(criteria_module, "fast_markdown_nodes", lambda *_: None)
    assert [_dumps(record_from_study(s)) for s in STUDIES] == fast


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
@pytest.mark.parametrize("layout", ["\n\n* a{}b\n* c", "\n- a{}b\n- c"])
def test_unstorable_criteria_as_before(bad: str, layout: str) -> None:
    """A text a record cannot hold raises as it did (markdown-it turns NUL into U+FFFD)."""
    text = "Inclusion Criteria:" + layout.format(bad)

    def outcome(fast: bool) -> object:
        try:
            return parse_criteria(text, fast=fast)
        except ValueError as exc:
            return str(exc)

    assert outcome(True) == outcome(False)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Criterion, {"section": "exclusion", "path": ["Cohort A"], "text": "x"}),
        (Location, {"facility": "F", "city": None, "country": "C", "status": None}),
        (Outcome, {"measure": "m", "time_frame": None, "description": "d"}),
        (Eligibility, {"text": "t", "inclusion": ["x"], "exclusion": None, "criteria": None}),
    ],
)
def test_unchecked_is_model_construct(model: Any, values: dict[str, Any]) -> None:
    built, constructed = unchecked(model, dict(values)), model.model_construct(**values)
    assert built.__getstate__() == constructed.__getstate__()
    assert list(built.__dict__) == list(constructed.__dict__)
    assert built == constructed == model(**values)
    assert repr(built) == repr(model(**values))
    assert built.model_fields_set == model(**values).model_fields_set


def test_clean_markdown_of_long_ascii_texts() -> None:
    """The whitespace-only path of clean_markdown gives clean_text's answer."""
    rng = random.Random(7)
    pieces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "a", "b.", ",", "&", "\\*"]
    for _ in range(3000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(150, 300)))
        assert clean_markdown(value) == clean_text(md_unescape(value))


def test_lines_read_at_once_are_the_lines() -> None:
    """_LINES.findall gives each line of the text, as str.split("\\n") does."""
    for text in [*REAL, "", "\n", "a\n", "\na", "a\n\n\nb\n", *(t for t, _ in TRICKY)]:
        source = markdown_source(text)
        assert [found[0] for found in _LINES.findall(source)] == source.split("\n")
