"""The readers that replace super-linear regexes and scans read exactly as those did.

Each old form is kept here as the reference (it is fast on short texts) and compared with
its replacement on short texts built from the pieces it reacts to; tests/parsers/
test_linear_time.py shows that the replacements stay fast on long texts.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from trialwatch.parsers import (
    centerwatch,
    clinicaltrialexchange,
    site_words,
    sitelabels,
    trialpage,
    veeva,
)
from trialwatch.parsers.clean import _without_brackets
from trialwatch.parsers.criteria_lines import _Open, _Stack
from trialwatch.parsers.criteria_markup import block_tags
from trialwatch.parsers.criteria_read import Marker, Node, _follows, _sup_tags, group_word, sup

SHORT = settings(max_examples=400, deadline=None, database=None)


def _texts(pieces: list[str], most: int = 12) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=most).map("".join)


# --- criteria -----------------------------------------------------------------------

OLD_SUP = re.compile(r"<\s*sup\s*>(.*?)<\s*/\s*sup\s*>", re.IGNORECASE | re.DOTALL)
OLD_HTML_HINT = re.compile(r"<\s*/?\s*(?:p|li|ul|ol|br|div|table|tr|td|h[1-6])\b[^>]*>", re.I)
OLD_GROUP_WORD = re.compile(
    r"^(?:group|cohort|part|arm|stage|phase|step|period|sub-?study|panel|population|"
    r"segment|module|cohorts|parts|arms)\s+[\w.-]{1,6}(?:\s*(?:and|&|/|,)\s*[\w.-]{1,6})*$",
    re.IGNORECASE,
)
TAG_PIECES = ["<sup>", "</sup>", "< SUP >", "</ sup>", "<", ">", "/", " ", "1", "x", "\n", "sup"]


@SHORT
@given(_texts(TAG_PIECES))
def test_sup_tags_read_as_the_lazy_regex(text: str) -> None:
    assert _sup_tags(text) == OLD_SUP.sub(lambda m: sup(m[1]), text)


@SHORT
@given(_texts(["<", ">", "/", " ", "p", "li", "br", "pre", "x", "h1", "\t", "\n"]))
def test_block_tags_found_as_the_regex_found_them(text: str) -> None:
    assert block_tags(text) == bool(OLD_HTML_HINT.search(text))


GROUP_PIECES = ["group ", "Cohorts ", "part", " ", "a", "AND", "and", "&", "/", ",", "1", "."]


@SHORT
@given(_texts(GROUP_PIECES + ["-", "x!", "\n", "abcdefg"], most=14))
def test_group_words_read_as_the_regex_read_them(text: str) -> None:
    assert group_word(text) == bool(OLD_GROUP_WORD.match(text))


def test_group_words_of_real_headings() -> None:
    for text in ("Cohort 2", "Parts A and B", "Arms 1, 2 & 3", "group 1/2", "Part A\n"):
        assert group_word(text), text
    for text in ("Cohort", "Part A and", "Cohort 1234567", "Group A: adults", "Parts A\n\n"):
        assert not group_word(text), text


READINGS = [("1", 1), ("1", 2), ("1", 0), ("a", 1), ("a", 2), ("ai", 1), ("b-", 0), ("b*", 0)]


@SHORT
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["push", "push", "pop", "cut", "ask"]),
            st.integers(0, 3),
            st.integers(1, 4),
            st.lists(st.sampled_from(READINGS), min_size=1, max_size=2, unique=True),
        ),
        max_size=30,
    )
)
def test_open_items_found_as_a_scan_of_them_all(steps: list[tuple]) -> None:
    """`_Stack.continued` answers what a scan from the innermost open item did."""
    stack = _Stack()
    for step, indent, width, readings in steps:
        if step == "push":
            stack.push(_Open(Node(""), indent, indent + width, tuple(readings)))
        elif step == "pop" and stack.items:
            stack.pop()
        elif step == "cut":
            stack.cut(indent)
        m = Marker(width, tuple(readings), False, readings[0][0][0] == "b")
        scan = [
            k
            for k, o in enumerate(stack.items)
            if (o.indent == indent or o.text_col == indent + width)
            and _follows(o.readings, m.readings)
        ]
        assert stack.continued(m, indent) == (scan[-1] if scan else None)


@SHORT
@given(_texts(["[", "]", "x", " ", "Patient Registry", "[a]"]))
def test_brackets_dropped_as_the_lazy_regex_dropped_them(text: str) -> None:
    assert _without_brackets(text) == re.sub(r"\[.*?\]", "", text)


# --- site pages -----------------------------------------------------------------------

WORDS = ["accept", "all", "cookies", "cookie", "settings", "privacy", "policy", "share", "on"]
WORDS += ["this", "print", "page", "x", "twitter.com", "©", "2026", "subscribe", "to", "our"]
WORDS += ["newsletter", "now", "sign", "up", "for", "terms", "of", "use", "&", "conditions"]
WORDS += ["we", "follow", "us", "back", "top", "reject", "manage", "preferences", "site"]
WORDS += ["map", "log", "in", "reserved.", "rights", "(c)", "copyright", "do", "not", "sell"]
WORDS += ["my", "personal", "information", "your", "choices", "skip", "main", "content"]
SEPARATORS = [" ", "", " | ", "\n", " - ", " · "]


def _old_run(phrases: tuple[str, ...]) -> re.Pattern[str]:
    one = "|".join(phrases)
    separator = r"[\s|·•/,–—-]*"
    return re.compile(rf"^{separator}(?:(?:{one}){separator})+$", re.IGNORECASE)


OLD_ANY = _old_run(site_words._END_PHRASES + site_words._SKIP_PHRASES)
OLD_SKIP = _old_run(site_words._SKIP_PHRASES)


@settings(max_examples=1000, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=7))
def test_chrome_lines_told_as_the_regex_told_them(words: list[tuple[str, str]]) -> None:
    text = "".join(word + separator for word, separator in words)
    old = None if not OLD_ANY.match(text) else "skip" if OLD_SKIP.match(text) else "end"
    assert site_words.chrome_kind(text) == old


def test_a_long_line_almost_of_chrome_is_told_at_once() -> None:
    assert site_words.chrome_kind("accept cookies " * 19 + "x") is None
    assert site_words.chrome_kind("Accept all Cookies settings | Privacy policy") == "end"


SITE_LABELS = [veeva.LABELS, centerwatch.LABELS, clinicaltrialexchange.LABELS, trialpage.LABELS]
LABEL_PIECES = sorted({label.text for labels in SITE_LABELS for label in labels})
LABEL_PIECES += ["x", " ", ":", "Phase 1", "phase", "12 participants needed", "Tongji"]


def _old_whole(text: str, labels: list[sitelabels.Label]) -> sitelabels.Label | None:
    key = sitelabels.label_key(text)
    for label in labels:
        if label.pattern is not None:
            if label.pattern.fullmatch(text):
                return label
        elif key == label.key:
            return label
    return None


def _old_shown(text: str, label: sitelabels.Label) -> bool:
    if label.pattern is not None:
        m = label.pattern.match(text)
        return bool(m and m[0].strip())
    return text[: len(label.text)].lower() == label.text.lower()


@SHORT
@given(st.sampled_from(SITE_LABELS), _texts(LABEL_PIECES, most=4))
def test_labels_at_the_start_of_a_line_found_as_by_trying_each(
    labels: list[sitelabels.Label], text: str
) -> None:
    index = sitelabels._Labels(labels)
    assert index.whole(text) == _old_whole(text, labels)
    shown = [label for label in labels if _old_shown(text, label)]
    assert [label for label in index.starting(text) if _old_shown(text, label)] == shown


def _old_split(text: str, labels: list[sitelabels.Label], strict: bool) -> list[tuple]:
    """sitelabels._split_line as it was: the rest of the line cut off and searched again."""
    out: list[tuple] = []
    head = sitelabels._line_label(text, sitelabels._Labels(labels), strict)
    out.append(head[:2] + ("",) if head else (None, "", ""))
    text = head[2] if head else text
    while text:
        best = None
        for label in labels:
            punctuated = label.text.endswith((":", "?"))
            if not label.inline or label.pattern is not None or (strict and not punctuated):
                continue
            position = text.find(label.text, 1)
            if position < 0 or (not punctuated and position + len(label.text) != len(text)):
                continue
            if best is None or position < best[1]:
                best = (label, position)
        if best is None:
            out[-1] = (out[-1][0], out[-1][1], text)
            break
        label, position = best
        before, text = text[:position].strip(), text[position + len(label.text) :].strip()
        out[-1] = (out[-1][0], out[-1][1], before)
        out.append((label, label.text, ""))
    return out


@SHORT
@given(st.booleans(), _texts(LABEL_PIECES + ["Details", "Lead Sponsor:", "No"], most=8))
def test_labels_inside_a_line_found_as_by_searching_its_rest(strict: bool, text: str) -> None:
    text = text.strip()  # a page's lines are cleaned
    labels = clinicaltrialexchange.LABELS
    new = sitelabels._split_line(text, sitelabels._Labels(labels), strict)
    assert new == _old_split(text, labels, strict)
