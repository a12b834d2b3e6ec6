"""Split eligibility criteria text into inclusion and exclusion items.

The same criteria reach us as markdown (API v2: `*`, `1.`, backslash escapes), as HTML
(record history: `<p>`, `<ol><li>`), and as the classic XML textblock (hard-wrapped at
about 100 characters, deep indentation, `-  ` bullets). Layout is formatting, not content,
so every rendering of one text must give the same items.

Rules, in the order they apply to each line:
- a blank line ends the current item;
- an inclusion/exclusion heading switches the section (text after its colon is an item);
- a line starting with a bullet or an enumerator ("*", "-", "•", "1.", "a)", "(iv)") starts
  a new item; sub-bullets are items of their own;
- any other line continues the current item (a wrapped line), or starts one after a blank.
Items before any heading are inclusion items.
"""

from __future__ import annotations

import html
import re
import unicodedata

from trialwatch.parsers.clean import clean_text, md_unescape

_BULLET = re.compile(
    r"""^(?:
        [•·‣◦▪▫●○■□►▸➢➤✓✔]\s*          # symbol bullets, sometimes with no space after
      | (?:[-*+–—]                      # ASCII and dash bullets
        | o(?=\s)                       # plain-text "o" sub-bullet
        | \(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{2,6})[.)]  # 1.  1)  (1)  a)  (iv)  II.
        )(?:\s+|$)
    )""",
    re.VERBOSE,
)

_SECTION = re.compile(
    r"^(?:(?:key|main|major|general|principal|other|additional)\s+)?(?P<neg>non[-\s]?)?"
    r"(?P<kind>inclusion|exclusion)s?(?P<crit>\s+criteri(?:a|on))?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# A short qualified heading: "Transplant Exclusion:", "Donor inclusion criteria:".
_QUALIFIED = re.compile(
    r"^(?:[\w'()-]+\s+){1,4}(?P<neg>non[-\s]?)?(?P<kind>inclusion|exclusion)s?"
    r"(?:\s+criteri(?:a|on))?\s*:\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# Headings that name no section ("Eligibility Criteria:"): dropped, section unchanged.
_NEUTRAL = re.compile(
    r"^(?:(?:inclusion\s*(?:and|&|/)\s*exclusion|eligibility)\s+)?criteria\s*:?$"
    r"|^eligibility\s*:$",
    re.IGNORECASE,
)
_CRITERIA_FOR = re.compile(r"^criteria\s+for\s+(inclusion|exclusion)\b", re.IGNORECASE)
_HTML_HINT = re.compile(r"<\s*(?:li|p|br|ul|ol)\b[^>]*>", re.IGNORECASE)
_HTML_BREAK = re.compile(r"<\s*/?\s*(?:p|br|ul|ol|div)\b[^>]*>", re.IGNORECASE)
_HTML_ITEM = re.compile(r"<\s*li\b[^>]*>", re.IGNORECASE)
_HTML_OTHER = re.compile(
    r"<\s*/?\s*(?:li|b|i|u|em|strong|span|sup|sub|a|font|h[1-6])\b[^>]*>", re.IGNORECASE
)


def split_criteria(text: str | None) -> tuple[list[str] | None, list[str] | None]:
    """(inclusion items, exclusion items); each None when there are no such items."""
    if text is None:
        return None, None
    inclusion: list[str] = []
    exclusion: list[str] = []
    section = inclusion
    parts: list[str] | None = None  # lines of the item being built

    def flush() -> None:
        nonlocal parts
        if parts is not None:
            item = clean_text(" ".join(parts))
            if item is not None:
                section.append(item)
        parts = None

    after_blank = True
    for raw in _lines(text):
        line = raw.strip()
        if not line:
            flush()
            after_blank = True
            continue
        after_blank_before, after_blank = after_blank, False
        body = _strip_bullets(line)
        heading = _heading(body if body is not None else line)
        if heading is not None:
            flush()
            kind, rest = heading
            if kind == "inclusion":
                section = inclusion
            elif kind == "exclusion":
                section = exclusion
            if rest:
                parts = [rest]
            continue
        if body is not None:
            flush()
            parts = [body]
        elif parts is not None and not after_blank_before:
            parts.append(line)
        else:
            flush()
            parts = [line]
    flush()
    return inclusion or None, exclusion or None


def _lines(text: str) -> list[str]:
    """Text -> logical lines, with HTML structure, entities and escapes resolved."""
    if _HTML_HINT.search(text):
        text = _HTML_ITEM.sub("\n* ", text)
        text = _HTML_BREAK.sub("\n", text)
        text = _HTML_OTHER.sub("", text)
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = md_unescape(text)
    return text.splitlines()


def _strip_bullets(line: str) -> str | None:
    """The line without its bullet (and a second enumerator: "* a) x"); None if no bullet."""
    m = _BULLET.match(line)
    if m is None:
        return None
    body = line[m.end() :]
    second = _BULLET.match(body)
    if second is not None and not body[: second.end()].strip().startswith(("-", "–", "—")):
        body = body[second.end() :]
    return body.strip()


def _heading(line: str) -> tuple[str, str | None] | None:
    """("inclusion" | "exclusion" | "neutral", text after the colon) for a heading line."""
    if _NEUTRAL.match(line):
        return "neutral", None
    # "Criteria for inclusion:" reads as "Inclusion criteria:".
    line = _CRITERIA_FOR.sub(r"\1 criteria", line)
    if q := _QUALIFIED.match(line):
        return _kind(q), clean_text(q["rest"])
    m = _SECTION.match(line)
    if m is None:
        return None
    kind, has_criteria, rest = _kind(m), bool(m["crit"]), m["rest"].strip()
    if not rest:
        return (kind, None) if has_criteria else None
    if rest[0] in ":-–—":
        return kind, clean_text(rest[1:].lstrip(":-–— "))
    if not has_criteria:
        return None
    # "Inclusion criteria for cohort A:", "Exclusion criteria include:"
    if m2 := re.match(r"^([^:.;]{0,60}):\s*(.*)$", rest):
        return kind, clean_text(m2[2])
    if len(rest) <= 40 and not rest.endswith("."):
        return kind, None
    return None


def _kind(match: re.Match[str]) -> str:
    # French-style "non-inclusion criteria" are exclusion criteria.
    return "exclusion" if match["neg"] else match["kind"].lower()
