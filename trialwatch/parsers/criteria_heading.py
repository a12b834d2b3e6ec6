"""Criteria headings: which lines are section headings ("Inclusion Criteria:", "Key
Exclusion Criteria", "Inclusion Criteria for Cohort A:", French "non-inclusion" =
exclusion) and what they name (see criteria.py for how the tree uses them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from trialwatch.parsers.criteria_read import CLOSES, HEADING, OPENS, STRONG, group_word

__all__ = ["Heading", "heading", "heading_test"]


@dataclass(frozen=True)
class Heading:
    kind: Literal["inclusion", "exclusion", "neutral"]
    groups: tuple[str, ...]  # qualifiers: ("Cohort A",)
    rest: str | None  # text after the heading's colon: an item
    scope: bool = False  # "Eligibility criteria for X": X holds over the sections after it
    strong: bool = False  # plainly a heading even inside a paragraph: no name before it


# --- headings ------------------------------------------------------------------------

_HEAD = re.compile(
    r"^(?P<pre>(?:[^\s:]+\s+){0,4}?)"
    r"(?:(?P<both>(?:inclusion\s*(?:and|&|/|or)\s*exclusion|eligibility|selection)"
    r"(?P<bcrit>\s+criteri(?:a|on))?)"
    r"|(?P<neg>non[-\s]?)?(?P<kind>inclusion|exclusion)s?(?P<crit>\s+criteri(?:a|on))?"
    r"|(?P<bare>criteria))"
    r"(?=$|[\s:(\-–—])\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CRITERIA_FOR = re.compile(r"^criteria\s+(?:for|of)\s+(inclusion|exclusion)\b", re.IGNORECASE)
# Words before "inclusion criteria" that name no group.
_PLAIN_PRE = frozenset(
    "key main major general principal other additional specific study detailed basic"
    " important select selected summary".split()
)
# Words that make the text before or after "inclusion criteria" a sentence, not a name.
_SENTENCE = frozenset(
    "is are was were be been do does did will may must should can could would not no"
    " might shall apply applies have has meet meets meeting met who which that if listed".split()
)
_PRE_STOP = _SENTENCE | frozenset(
    "the of following any all these those with for in to by and or below above".split()
)
# Qualifiers that name no group: "Inclusion criteria include:", "... are as follows:".
_NO_GROUP = re.compile(
    r"^(?:include[sd]?|including|are|is|are as follows|is as follows|as follows|"
    r"the following|listed below|below)$",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text.lower())


def _qualifier(text: str, colon: bool) -> str | None | Literal[False]:
    """A heading's qualifier text -> the group name, None (names no group), or False (the
    text is a sentence, so the line is no heading)."""
    q = re.sub(r"^[-–—]\s*", "", text.strip().rstrip(":").strip())
    if q.startswith("(") and q.endswith(")"):
        q = q[1:-1].strip()
    q = re.sub(r"^(?:for|in)\s+", "", q, flags=re.IGNORECASE).strip()
    if not q or _NO_GROUP.match(q):
        return None
    words = _words(q)
    if any(w in _SENTENCE for w in words) or q.endswith((".", ";")):
        return False
    if colon:
        return q if len(q) <= 100 and len(words) <= 15 else False
    # Without a colon only a short name: "Stage 1", "(MCI patients)", "for Part A".
    named = group_word(q) or text.lstrip()[:1] in "(-–—" or q[:1].isupper()
    named = named or q[:1].isdigit() or bool(re.match(r"(?i)for\s", text.lstrip()))
    return q if named and len(words) <= 5 else False


_TAIL = re.compile(
    r"^(?P<head>.+?)\s+(?P<tail>(?:non[-\s]?)?(?:inclusion|exclusion)s?\s+criteri(?:a|on))\s*:?$",
    re.IGNORECASE | re.DOTALL,
)
_FOR_GROUP = re.compile(
    r"^(?:eligibility|inclusion\s*(?:and|&|/)\s*exclusion)\s+criteria\s+for\s+(?P<q>.+)$",
    re.IGNORECASE | re.DOTALL,
)


# The same lines come back in every text ("Inclusion Criteria:", "Age 18 or older") and
# every node is tested more than once: the tests below are pure, so their answers for
# lines up to this length are remembered.
_CACHED_LENGTH = 200


def _no_heading_words(text: str) -> bool:
    """Every heading (and "Eligibility criteria for X") holds one of these words; most
    lines hold none. Only for ASCII: with IGNORECASE, _HEAD's "i" also matches a dotless
    "ı". (Tests written out: a generator's `any` costs more than they do.)"""
    if not text.isascii():
        return False
    low = text.lower()
    return not ("clusion" in low or "criteria" in low or "eligibility" in low or "selection" in low)


def heading(text: str) -> Heading | None:
    """The heading a (cleaned) line is, or None for any other line."""
    if _no_heading_words(text):
        return None
    return _heading_cached(text) if len(text) <= _CACHED_LENGTH else _heading(text)


def _heading(text: str) -> Heading | None:
    text = _CRITERIA_FOR.sub(r"\1 criteria", text.strip())
    # "Eligibility criteria for the secondary randomisation ... Inclusion criteria"
    if (tail := _TAIL.match(text)) and (scoped := _FOR_GROUP.match(tail["head"])):
        name = _qualifier(scoped["q"], True)
        inner = heading(tail["tail"])
        if name and inner is not None:
            return Heading(inner.kind, (name,), None, scope=True)
    m = _HEAD.match(text)
    if m is None:
        return None
    pre = m["pre"].strip().rstrip("-–—:").strip()
    pre_words = _words(pre)
    if any(w in _PRE_STOP for w in pre_words) or (m["bare"] and pre_words):
        return None
    group = pre if pre and not all(w in _PLAIN_PRE for w in pre_words) else None
    kind: Literal["inclusion", "exclusion", "neutral"] = "neutral"
    if m["kind"]:
        # French-style "non-inclusion criteria" are exclusion criteria.
        kind = "inclusion" if m["kind"].lower() == "inclusion" and not m["neg"] else "exclusion"
    has_crit = bool(m["crit"] or m["bcrit"] or m["bare"])
    rest = m["rest"].strip()
    if not has_crit and rest[:1] not in ("", ":"):
        return None  # "Inclusion of minors ...", "Laboratory Inclusion Values:"
    if not rest and not has_crit and not m["both"]:
        return None
    after: str | None = None
    named: str | None | Literal[False] = None
    if rest.startswith(":"):
        after = rest[1:].strip() or None
    elif rest[:1] in ("-", "–", "—") and ":" not in rest and not group_word(rest[1:].strip()):
        after = rest[1:].strip() or None  # "Inclusion criteria - adults with asthma"
    elif ":" in rest:
        before, _, behind = rest.partition(":")
        named, after = _qualifier(before, True), behind.strip() or None
    elif rest:
        named = _qualifier(rest, False)
    if named is False:
        return None
    groups = tuple(g for g in (group, named) if g)
    # Only a section heading with no name before it breaks a paragraph (see criteria_read):
    # a wrapped "... based on 1 of the following\n criteria:" stays one item.
    strong = kind != "neutral" and group is None
    strong = strong and (not named or rest.endswith(":") or after is not None)
    return Heading(kind, groups, after, scope=kind == "neutral" and bool(groups), strong=strong)


_heading_cached = lru_cache(maxsize=1 << 14)(_heading)


def heading_test(line: str) -> int:
    """For the line reader: HEADING | STRONG (breaks a paragraph) | CLOSES (nothing after)
    | OPENS ("Eligibility criteria for X" that a section heading on the next line ends)."""
    if _no_heading_words(line):
        return 0
    return _test_cached(line) if len(line) <= _CACHED_LENGTH else _heading_test(line)


def _heading_test(line: str) -> int:
    line = line.strip()
    scoped = _FOR_GROUP.match(line)
    opens = bool(scoped and not line.endswith(":") and _qualifier(scoped["q"], True))
    h = heading(line)
    if h is None:
        return OPENS if opens else 0
    # A named heading without a colon may go on on the next line, a wrap: "Eligibility
    # criteria for the secondary randomisation\n to once vs twice daily ... Inclusion criteria".
    closes = h.rest is None and (h.strong or not h.groups or line.endswith(":"))
    flags = HEADING | (STRONG if h.strong else 0) | (CLOSES if closes else 0)
    return flags | (OPENS if opens and not closes else 0)


_test_cached = lru_cache(maxsize=1 << 14)(_heading_test)
