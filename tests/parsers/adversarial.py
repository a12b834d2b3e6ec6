"""Adversarial texts and the real payloads they are put into (tests/parsers/test_linear_time.py).

Each family is a run of one thing real criteria hold a few of (an unclosed tag, a list
marker, a digit, a bracket, a space, a markdown mark, a heading, a short line), made as long
as asked. Every payload is a real saved one from tests/fixtures/ with one stated edit: the
text put into its eligibility criteria, or into its other text fields.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Family = Callable[[int], str]


def _run(unit: str) -> Family:
    """`unit` repeated to `size` characters."""
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _numbered(size: int) -> str:
    """ "1. x 2. x 3. x ...": a numbered run on one line (sites glue criteria so)."""
    parts, total, n = [], 0, 1
    while total < size:
        parts.append(f"{n}. x ")
        total += len(parts[-1])
        n += 1
    return "".join(parts)[:size]


def _counted(size: int) -> str:
    """ "1\n2\n3\n...": short lines, no two alike (a list of distinct values)."""
    parts, total, n = [], 0, 1
    while total < size:
        parts.append(f"{n}\n")
        total += len(parts[-1])
        n += 1
    return "".join(parts)[:size]


def _indented(size: int) -> str:
    """Bullets each set in one space further than the one before: ever deeper nesting."""
    parts, total, depth = [], 0, 0
    while total < size:
        parts.append(" " * depth + "- x\n")
        total += len(parts[-1])
        depth += 1
    return "".join(parts)[:size]


FAMILIES: dict[str, Family] = {
    # unclosed tags, repeated
    "sup": _run("10<sup>9 "),
    "sup_only": _run("<sup>"),
    "sub": _run("HbA<sub>1c "),
    "b": _run("<b>x "),
    "li": _run("<li>x "),
    "p": _run("<p>x "),
    "ul": _run("<ul>"),
    "ul_li": _run("<ul><li>x"),
    "mixed_tags": _run("<sup><b><li><p><ul>x"),
    "tag_without_end": _run("<p "),
    "lt_then_spaces": lambda size: "<" + " " * (size - 2) + "x",
    "li_paragraphs": lambda size: "<ul><li>x" + _run("<p>more text</p>")(size - 9),
    # list markers, with and without line breaks
    "stars_in_line": _run("* "),
    "dashes_in_line": _run("- "),
    "bullets": _run("•"),
    "numbers_in_line": _run("1. "),
    "markers_in_line": _run("* - • 1. a) (i) "),
    "numbered_run": _numbered,
    "bullet_lines": _run("* x\n- x\n• x\n"),
    "number_lines": _run("1. x\n"),
    "letter_lines": _run("a) x\n(i) x\n"),
    "alternating_lists": _run("1. x\nA) x\n"),
    "indented": _indented,
    "item_paragraphs": lambda size: "- x\n" + _run("\n  more text\n")(size - 4),
    # digits, brackets, whitespace, long lines
    "digits": _run("1"),
    "digit_words": _run("1 "),
    "counted_lines": _counted,
    "open_parens": _run("("),
    "nested_parens": lambda size: "(" * (size // 2) + ")" * (size - size // 2),
    "unbalanced_parens": _run("((x)"),
    "open_brackets": _run("["),
    "spaces": lambda size: "x" + " " * (size - 2) + "x",
    "tabs": lambda size: "x" + "\t" * (size - 2) + "x",
    "spaces_and_tabs": _run(" \t"),
    "blank_lines": _run("  \n"),
    "long_line": _run("word "),
    "long_word": _run("x"),
    # markdown
    "quotes": _run(">"),
    "quote_lines": _run("> "),
    "hashes": _run("#"),
    "heading_lines": _run("# x\n"),
    "backticks": _run("`"),
    "fences": _run("```\n"),
    "emphasis": _run("**a"),
    "links": _run("[a]("),
    "images": _run("!["),
    "backslashes": _run("\\"),
    "entities": _run("&amp;"),
    # what the criteria and page readers look for
    "short_lines": _run("x\n"),
    "section_headings": _run("Inclusion Criteria:\n"),
    "scoped_headings": _run("Eligibility criteria for x\n"),
    "group_labels": _run("Cohort 1:\n"),
    "group_names": lambda size: "group a" + _run("and")(size - 8) + "!",
    "chrome_lines": _run("accept cookies " * 19 + "x\n"),
    "glued_labels": _run("xPhase:"),
}


# --- the payloads ---------------------------------------------------------------------

Payload = tuple[bytes, str | None]  # the body and the source slug to give parse_payload
Build = Callable[[str], Payload]

_V2 = FIXTURES / "ctgov" / "NCT03630471" / "ctgov_v2_NCT03630471.json"
_HISTORY = FIXTURES / "ctgov_history" / "NCT04280705_v0" / "ctgov_history_NCT04280705_v0.json"
_CLASSIC_CASE = FIXTURES / "ctgov_classic" / "NCT00002475_2017-01-18"
_CLASSIC = _CLASSIC_CASE / "ctgov_classic_xml_NCT00002475_2017-01-18.xml"


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _after_first_line(real: str, text: str) -> str:
    """The text as a paragraph of its own after the criteria's first line (its heading)."""
    head, _, rest = real.partition("\n")
    return f"{head}\n\n{text}\n\n{rest}"


def v2_criteria(text: str) -> Payload:
    """Put in as the criteria's last paragraph: after the last ">" of the real text."""
    data = json.loads(_read(_V2))
    module = data["protocolSection"]["eligibilityModule"]
    module["eligibilityCriteria"] = f"{module['eligibilityCriteria']}\n\n{text}"
    return json.dumps(data).encode(), None


def v2_fields(text: str) -> Payload:
    """Titles, the reason stopped, conditions (one per line), an intervention, the outcomes,
    a location and the study type."""
    data = json.loads(_read(_V2))
    ps = data["protocolSection"]
    for key in ("briefTitle", "officialTitle", "acronym"):
        ps["identificationModule"][key] = text
    ps["statusModule"]["whyStopped"] = text
    ps["conditionsModule"]["conditions"] = text.split("\n")
    ps["designModule"]["studyType"] = text
    ps["armsInterventionsModule"]["interventions"][0]["name"] = text
    for outcome in ps["outcomesModule"]["primaryOutcomes"]:
        outcome.update(measure=text, description=text, timeFrame=text)
    location = ps["contactsLocationsModule"]["locations"][0]
    location.update(facility=text, city=text)
    return json.dumps(data).encode(), None


def history_criteria(text: str) -> Payload:
    """Put in the version's criteria HTML right after its "Inclusion Criteria:" paragraph."""
    data = json.loads(_read(_HISTORY))
    module = data["study"]["protocolSection"]["eligibilityModule"]
    head, end, rest = module["eligibilityCriteria"].partition("</p>")
    module["eligibilityCriteria"] = f"{head}{end}{text}{rest}"
    return json.dumps(data).encode(), None


def _classic(edit: Callable[[str], str]) -> str:
    return edit(_read(_CLASSIC))


def classic_criteria(text: str) -> Payload:
    def edit(xml: str) -> str:
        start = xml.index("<textblock>", xml.index("<criteria>")) + len("<textblock>")
        end = xml.index("</textblock>", start)
        block = _after_first_line(xml[start:end].strip("\n"), html.escape(text, quote=False))
        return xml[:start] + block + xml[end:]

    return _classic(edit).encode(), None


def classic_fields(text: str) -> Payload:
    """Titles, the conditions, the study type, the interventions' names, a facility's name
    and every outcome's measure and time frame."""
    escaped = html.escape(text, quote=False)
    tags = ("brief_title", "official_title", "condition", "study_type", "intervention_name")
    tags += ("name", "measure", "time_frame")

    def edit(xml: str) -> str:
        for tag in tags:
            value = f"<{tag}>{escaped}</{tag}>"
            xml = re.sub(rf"<{tag}>[^<]*</{tag}>", lambda _, value=value: value, xml)
        return xml

    return _classic(edit).encode(), None


def site_page(slug: str, case: str, *anchors: str, heading: str = "") -> Build:
    """A site page's real text (page.txt) with the text on the lines after the first line
    matching each anchor (preceded by `heading`, for a page that shows no criteria)."""

    def build(text: str) -> Payload:
        lines = _read(FIXTURES / slug / case / "page.txt").split("\n")
        for anchor in anchors:
            at = next(i for i, line in enumerate(lines) if re.match(anchor, line.strip(), re.I))
            lines[at + 1 : at + 1] = [heading, text] if heading else [text]
        return "\n".join(lines).encode(), slug

    return build


def site_html(slug: str, case: str, anchor: str) -> Build:
    """A markup written around a site page's real text (see tests/fixtures/SITES.md) with the
    text put in raw, as markup, right after `anchor`."""

    def build(text: str) -> Payload:
        page = _read(FIXTURES / slug / case / "semantic.html")
        at = page.index(anchor) + len(anchor)
        return (page[:at] + text + page[at:]).encode(), slug

    return build
