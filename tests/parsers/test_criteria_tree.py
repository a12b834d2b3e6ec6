"""The criteria tree over real criteria texts (tests/fixtures/criteria/SOURCES.md): (b) the
same text in another rendering (markdown, HTML, classic plain text; re-wrapped, other bullets
and numbering, entities, escapes, NFKC forms) gives the identical list, and the API.

(a) is in test_criteria_real_texts.py; (c) and (d) in test_criteria_edits.py.
"""

from __future__ import annotations

import html
import re
import textwrap

import pytest
from markdown_it import MarkdownIt

from tests.parsers.criteria_texts import EXC, INC, NCT02110043, TEXTS, edit, load
from trialwatch.parsers.criteria import parse_criteria, read_outline
from trialwatch.parsers.criteria_read import Node
from trialwatch.parsers.eligibility import eligibility_from_text, split_criteria

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
    restyled = edit(text, "1. Male or female", "1) Male or female")
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
