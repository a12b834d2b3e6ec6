"""How much an edit matters: rules, not a model, so every grade has a one-line reason.

``editorial``: the meaning is kept (spelling, case, punctuation, spacing, an abbreviation
expanded or a unit spelled out, the same words in another order).
``minor``: detail added or clarified; nothing removed, no number changed.
``major``: a number, threshold, unit or negation changed, or wording removed or replaced.
(Items added, removed or moved, status changes and dates that move are graded by the kinds
that find them; see ``changes.py``.)

Text rules run on folded tokens: lower case, punctuation dropped, common abbreviations and
unit spellings mapped to one form ("h", "hr", "hours" -> "hour"), British spellings to
American, plurals to singulars. Numbers are compared as numbers ("1,000" = "1000").
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher
from functools import lru_cache

from trialwatch.diffing.wordforms import (
    FILLER,
    acronyms,
    explained,
    initials,
    is_number,
    spelled_out,
    typo,
    variants,
)
from trialwatch.kinds import GRADES, grade_rank

EDITORIAL, MINOR, MAJOR = GRADES

# One spelling per word: abbreviations and spelled-out units.
_SAME: dict[str, str] = {
    **dict.fromkeys(("h", "hr", "hrs", "hour"), "hour"),
    **dict.fromkeys(("d", "day"), "day"),
    **dict.fromkeys(("wk", "wks", "week"), "week"),
    **dict.fromkeys(("mo", "mos", "mth", "mths", "month"), "month"),
    **dict.fromkeys(("y", "yr", "yrs", "year"), "year"),
    **dict.fromkeys(("min", "mins", "minute"), "minute"),
    **dict.fromkeys(("sec", "secs", "second"), "second"),
    # The registry's own style moved from "subjects" and "patients" to "participants".
    **dict.fromkeys(("pt", "pts", "patient", "subject", "participant"), "participant"),
    **dict.fromkeys(("mg", "milligram"), "mg"),
    **dict.fromkeys(("g", "gram"), "g"),
    **dict.fromkeys(("kg", "kilogram"), "kg"),
    **dict.fromkeys(("mcg", "µg", "μg", "ug", "microgram"), "mcg"),
    **dict.fromkeys(("ml", "milliliter", "millilitre"), "ml"),
    **dict.fromkeys(("l", "liter", "litre"), "l"),
    **dict.fromkeys(("dl", "deciliter", "decilitre"), "dl"),
    **dict.fromkeys(("mm", "millimeter", "millimetre"), "mm"),
    **dict.fromkeys(("cm", "centimeter", "centimetre"), "cm"),
    **dict.fromkeys(("percent", "%", "pct"), "%"),
    **dict.fromkeys(("approx", "approximately", "about", "circa", "ca"), "approximately"),
    **dict.fromkeys(("vs", "versus", "v"), "versus"),
    **dict.fromkeys(("&", "and"), "and"),
    **dict.fromkeys(("≥", "=>"), ">="),
    **dict.fromkeys(("≤", "=<"), "<="),
    **dict.fromkeys(("dose", "dosage"), "dose"),
    **dict.fromkeys(("eg", "ie", "etc"), ""),
}
_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
UNITS = frozenset(
    "hour day week month year minute second mg g kg mcg ml l dl mm cm % mmol µmol umol "
    "mol iu u ng pg nmol pmol mmhg bpm uln lln meq cell kg/m2 m2 gy mbq".split()
)
THRESHOLDS = frozenset(
    "< > <= >= = ± less more greater fewer least most under over above below exceed exceeding "
    "exceeds maximum minimum max up within before after prior".split()
)
NEGATIONS = frozenset("no not without non never neither nor none absence absent".split())
# A name with a number in it ("COVID-19", "IL-6", "CoV-2") is one word, not a number.
_TOKEN = re.compile(
    r"[^\W\d_]+-\d+[^\W\d_]*|\d+(?:[.,]\d+)*(?:\^\d+)?|[<>]=?|=>|=<|[≥≤±=%&]|[^\W\d_]+",
    re.UNICODE,
)
_BRITISH = (
    (re.compile(r"our\b"), "or"),  # tumour, colour, behaviour
    (re.compile(r"is(e|ed|es|ing|ation)\b"), r"iz\1"),  # randomised
    (re.compile(r"^(h?)ae"), r"\1e"),  # haematology, aetiology
    (re.compile(r"^oe"), "e"),  # oedema, oesophageal
    (re.compile(r"(\w)ae(\w)"), r"\1e\2"),  # anaemia, paediatric
    (re.compile(r"tre\b"), "ter"),  # centre, litre
)


def max_grade(*grades: str) -> str:
    """The highest of ``grades`` (editorial when none)."""
    return max(grades, key=grade_rank, default=EDITORIAL)


def _number(token: str) -> str:
    """ "1,000" -> "1000", "1.50" -> "1.5", "10^9" stays; a spelled number as digits."""
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    if "^" in token:
        return token
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):
        token = token.replace(",", "")
    token = token.replace(",", ".")
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token.lstrip("0") or "0"


def _word(token: str) -> str:
    word = token.lower()
    if word in _SAME:
        return _SAME[word]
    if word in _NUMBER_WORDS or word[:1].isdigit():
        return _number(word)
    for pattern, repl in _BRITISH:
        word = pattern.sub(repl, word)
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]  # plural
    return _SAME.get(word, word)


def tokens(text: str | None) -> list[str]:
    """Folded tokens of ``text``: the words and numbers a reader compares."""
    return list(_tokens(text or ""))


@lru_cache(maxsize=16384)  # the same texts are folded again for every pair they are tried in
def _tokens(text: str) -> tuple[str, ...]:
    found = (_word(t) for t in _TOKEN.findall(text))
    return tuple(t for t in found if t)


def counts(values: list[str], keep: frozenset[str] | None = None) -> Counter[str]:
    if keep is None:
        return Counter(v for v in values if is_number(v))
    return Counter(v for v in values if v in keep)


def listed(values: Counter[str] | list[str]) -> str:
    items = sorted(values.elements()) if isinstance(values, Counter) else values
    return ", ".join(items) or "(none)"


def _short(words: list[str]) -> str:
    text = " ".join(words)
    return text if len(text) <= 60 else text[:57] + "..."


def grade_text(before: str | None, after: str | None, what: str = "text") -> tuple[str, str]:
    """(grade, one-line reason) for ``before`` reworded as ``after``."""
    if not before and not after:
        return EDITORIAL, f"{what} unchanged"
    if not before:
        return MINOR, f"{what} added"
    if not after:
        return MAJOR, f"{what} removed"
    old, new = tokens(before), tokens(after)
    if old == new:
        if before.casefold() == after.casefold():
            return EDITORIAL, f"{what}: case only"
        return EDITORIAL, f"{what}: spelling, punctuation or abbreviation only"
    numbers_old, numbers_new = counts(old), counts(new)
    if numbers_old != numbers_new:
        removed, added = numbers_old - numbers_new, numbers_new - numbers_old
        return MAJOR, f"{what}: number changed ({listed(removed)} \u2192 {listed(added)})"
    exact_old, exact_new = _exact(old), _exact(new)
    for words, label in ((UNITS, "unit"), (THRESHOLDS, "threshold"), (NEGATIONS, "negation")):
        removed = counts(exact_old, words) - counts(exact_new, words)
        added = counts(exact_new, words) - counts(exact_old, words)
        # A unit word inside an abbreviation spelled out ("white blood cell count [WBC]") is
        # a word of the long form, not a unit.
        if (removed or added) and not (
            explained(list(added.elements()), new, old)
            and explained(list(removed.elements()), old, new)
        ):
            return MAJOR, f"{what}: {label} changed ({listed(removed)} \u2192 {listed(added)})"
    if Counter(old) == Counter(new):
        return EDITORIAL, f"{what}: the same words in another order"
    if "".join(old) == "".join(new):
        return EDITORIAL, f"{what}: spacing only"
    return word_edits(old, new, what)


TIME_UNITS = frozenset("hour day week month year minute second".split())


def _exact(words: list[str]) -> list[str]:
    """The words as exact terms are counted: a time unit only next to a number ("6 months",
    "week 12"), so "second" in "second-line therapy" is a word."""
    return [
        w
        for i, w in enumerate(words)
        if w not in TIME_UNITS
        or any(is_number(x) for x in words[max(0, i - 2) : i] + words[i + 1 : i + 2])
    ]


def _minus(words: list[str], taken: Counter[str]) -> list[str]:
    """``words`` in their order, without (as many of) the words counted in ``taken``."""
    left = Counter(taken)
    kept = []
    for w in words:
        if left[w] > 0:
            left[w] -= 1
        else:
            kept.append(w)
    return kept


LONG = 250_000  # words before x words after: beyond it, texts are compared as bags of words


def word_edits(old: list[str], new: list[str], what: str) -> tuple[str, str]:
    removed: list[str] = []
    inserted: list[str] = []
    typos: list[str] = []
    if len(old) * len(new) > LONG:
        # Aligning two long texts word by word takes time that grows with their product; as
        # bags of words they are compared in one pass (a replaced word is still lost).
        common = Counter(old) & Counter(new)
        old, new = _minus(old, common), _minus(new, common)
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        gone, came = old[i1:i2], new[j1:j2]
        if op == "replace" and len(gone) == len(came) and all(map(typo, gone, came)):
            typos += [f"{a} \u2192 {b}" for a, b in zip(gone, came, strict=True)]
            continue
        removed += gone
        inserted += came
    # A word moved elsewhere in the text is neither removed nor added.
    moved = Counter(removed) & Counter(inserted)
    removed, inserted = _minus(removed, moved), _minus(inserted, moved)
    lost = [w for w in removed if w not in FILLER]
    gained = [w for w in inserted if w not in FILLER]
    typos += variants(lost, gained)
    if (
        (lost and spelled_out(lost, gained))
        or (not lost and acronyms(gained, new))
        or (not gained and len(lost) > 1 and initials(lost) in new)
        or ((lost or gained) and explained(gained, new, old) and explained(lost, old, new))
    ):
        return EDITORIAL, f"{what}: abbreviation spelled out or added"
    if lost:
        if inserted:
            return MAJOR, f"{what}: wording replaced ({_short(lost)} \u2192 {_short(inserted)})"
        return MAJOR, f"{what}: wording removed ({_short(lost)})"
    if gained:
        return MINOR, f"{what}: detail added ({_short(gained)})"
    if typos:
        return EDITORIAL, f"{what}: spelling corrected ({_short(typos)})"
    return EDITORIAL, f"{what}: small words only"


# Endings that make another form of one word ("randomized" / "randomization").
def same_meaning(before: str | None, after: str | None) -> bool:
    """True when two texts differ only editorially (the folded tokens are equal)."""
    return tokens(before) == tokens(after)
