"""Word-level marks inside a changed item: which words the older text lost and the newer one
gained, as runs of plain text the template wraps in <del> and <ins> (never markup)."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from pydantic import BaseModel

# Words, runs of space, and single other characters: "≥18" is "≥" and "18", so a changed
# number is marked alone, not with its sign.
TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
# A pair of texts longer than this (in tokens, each; a word and the space after it are two)
# is shown whole: SequenceMatcher's time grows with the product of the lengths (two texts of
# 4,000 tokens from a small vocabulary took 5.5 s, of 800 under a tenth of a second).
MAX_TOKENS = 800
# Below this share of tokens in common, marks would be confetti: the texts are shown whole.
MIN_COMMON = 0.3


class Run(BaseModel):
    """A run of text and whether it is in both texts (``same``), only the older (``del``) or
    only the newer (``ins``)."""

    op: str
    text: str


class Marks(BaseModel):
    before: list[Run]
    after: list[Run]


def _runs(pairs: list[tuple[str, str]]) -> list[Run]:
    """Adjacent runs of one kind joined."""
    out: list[Run] = []
    for op, text in pairs:
        if not text:
            continue
        if out and out[-1].op == op:
            out[-1].text += text
        else:
            out.append(Run(op=op, text=text))
    return out


def word_marks(before: str, after: str) -> Marks | None:
    """The words each text has that the other lacks; None when there is nothing to mark
    (one side empty, the texts equal) or marks would not help (too long, too different)."""
    if not before or not after or before == after:
        return None
    a, b = TOKEN.findall(before), TOKEN.findall(after)
    if len(a) > MAX_TOKENS or len(b) > MAX_TOKENS:
        return None
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.quick_ratio() < MIN_COMMON or matcher.ratio() < MIN_COMMON:
        return None
    old: list[tuple[str, str]] = []
    new: list[tuple[str, str]] = []
    codes = matcher.get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(codes):
        # A space alone between two marked runs is marked with them on both sides, so a
        # rewritten phrase is one mark, not one per word.
        lone_space = 0 < n < len(codes) - 1 and not "".join(a[i1:i2]).strip()
        if tag == "equal" and not lone_space:
            old.append(("same", "".join(a[i1:i2])))
            new.append(("same", "".join(b[j1:j2])))
            continue
        old.append(("del", "".join(a[i1:i2])))
        new.append(("ins", "".join(b[j1:j2])))
    return Marks(before=_runs(old), after=_runs(new))
