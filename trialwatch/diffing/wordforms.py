"""Words that differ in form but not in meaning: a misspelling fixed, one stem with another
ending, an abbreviation and its long form. Used by ``grading`` to tell an editorial rewording
from a replaced word."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

# Words whose change keeps the meaning: articles, prepositions, pronouns, forms of "be".
FILLER = frozenset(
    "a an the of to in on at by for from with as into per via be is are was were been being "
    "who whom which that this these those it its their they them he she his her has have had "
    "having do does any all each both such also".split()
)


def is_number(token: str) -> bool:
    return token[:1].isdigit()


def typo(a: str, b: str) -> bool:
    """A misspelling fixed: two words of 5 letters or more, one letter added, dropped or two
    swapped ("recieved"), or one replaced in a word of 6 or more, neither a number. Two
    letters is too many ("prednisone" and "prednisolone" are two drugs), and so is one in a
    short word ("pain", "gain")."""
    if is_number(a) or is_number(b) or min(len(a), len(b)) < 5 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = len(common_prefix(a, b))
    if len(a) == len(b):
        replaced = len(a) >= 6 and a[i + 1 :] == b[i + 1 :]
        swapped = a[i + 1 : i + 2] + a[i : i + 1] == b[i : i + 2] and a[i + 2 :] == b[i + 2 :]
        if replaced or swapped:
            return True
    elif len(b) == len(a) + 1 and a[i:] == b[i + 1 :]:
        return True
    return _corrected(a, b)


def _corrected(a: str, b: str) -> bool:
    """Two letters apart, one a word no English word list knows and the other one it knows:
    "occurance" -> "occurrence", "hypersensivity" -> "hypersensitivity". Two drug names
    ("prednisone", "prednisolone") are both unknown, so neither corrects the other."""
    if min(len(a), len(b)) < 6 or _distance(a, b) > 2:
        return False
    known = _known_words()
    return (a in known) != (b in known)


@cache
def _known_words() -> Any:
    from spellchecker import SpellChecker  # its word list loads once, on the first use

    return SpellChecker(distance=1)


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short words only: two rows of a table)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


_ENDINGS = frozenset(
    "e ed es ing ion ions ation ations al ally ic ical ity ive ment ness ly y ize ized "
    "ization x geal".split()
) | {""}


def _stem_mate(a: str, b: str) -> bool:
    """Two forms of one word: a misspelling fixed ("recieved"), or one stem of 6 letters or
    more with a known ending ("nasopharynx" / "nasopharyngeal"); "prednisone" and
    "prednisolone" are not."""
    if typo(a, b):
        return True
    stem = common_prefix(a, b)
    return len(stem) >= 6 and {a[len(stem) :], b[len(stem) :]} <= _ENDINGS


def common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


MANY = 900  # words lost x words gained: beyond it, no pairing word by word


def variants(lost: list[str], gained: list[str]) -> list[str]:
    """Pairs of another form of one word, taken out of ``lost`` and ``gained`` (in place).
    Past a few dozen words changed on each side a text was rewritten, not respelled: none."""
    found: list[str] = []
    if len(lost) * len(gained) > MANY:
        return found
    for a in list(lost):
        b = next((b for b in gained if _stem_mate(a, b)), None)
        if b is not None:
            lost.remove(a)
            gained.remove(b)
            found.append(f"{a} \u2192 {b}")
    return found


def _abbreviates(short: str, words: list[str]) -> bool:
    """ "alt" for "alanine aminotransferase", "cdai" for "crohn s disease activity index",
    "wbc" for "white blood cell count": the short form starts the first word, its letters come
    in order through the words, and every word but the last gives at least one of them."""
    if not 2 <= len(short) <= 6 or is_number(short) or not words or short[0] != words[0][0]:
        return False
    if len(words) > len(short) + 1:
        return False
    givers = [w for w in words if w not in FILLER and len(w) > 1]

    def fits(n: int, at: int) -> bool:
        if n == len(givers):
            return at == len(short)
        least = 0 if n == len(givers) - 1 else 1
        return any(
            _within(short[at : at + j], givers[n]) and fits(n + 1, at + j)
            for j in range(least, len(short) - at + 1)
        )

    return fits(0, 0)


def _within(letters: str, word: str) -> bool:
    """``letters`` appear in ``word`` in order."""
    rest = iter(word)
    return all(c in rest for c in letters)


def explained(words: list[str], text: list[str], other: list[str]) -> bool:
    """Every word of ``words`` is one half of a long form followed by its short form in
    ``text`` ("aspartate aminotransferase (AST)") whose other half ``other`` already says:
    an abbreviation spelled out, or added after its long form."""
    covered: Counter[str] = Counter()
    known = set(other)
    for i, short in enumerate(text):
        for k in range(1, len(short) + 2):
            long = text[i - k : i] if i - k >= 0 else []
            if long and _abbreviates(short, long):
                if short in known:
                    covered.update(long)
                if known.issuperset(long):
                    covered[short] += 1
                break
    return not (Counter(words) - covered)


def initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w and not is_number(w))


def _initials_all(words: list[str]) -> set[str]:
    """The initials of ``words`` with and without the small words ("NIAID": National
    Institute of Allergy and Infectious Diseases)."""
    return {initials(words), initials([w for w in words if w not in FILLER and w != "and"])}


def spelled_out(lost: list[str], gained: list[str]) -> bool:
    """ "OS" -> "overall survival", "CVA or TIA" -> "cerebrovascular accident or transient
    ischemic attack" (or back): each short form is, in order, the initials (or letters in
    order) of a run of the long forms' words, and the runs use every word."""
    shorts, longs = (lost, gained) if len(lost) <= len(gained) else (gained, lost)
    if not shorts:
        return False
    if len(shorts) == 1 and len(longs) > 1 and shorts[0] in _initials_all(longs):
        return True

    def runs(i: int, at: int) -> bool:
        if i == len(shorts):
            return at == len(longs)
        short = shorts[i]
        return any(
            _abbreviates(short, longs[at : at + k]) and runs(i + 1, at + k)
            for k in range(1, len(short) + 2)
            if at + k <= len(longs)
        )

    return len(shorts) <= 6 and runs(0, 0)


def abbreviated(short: str, words: list[str]) -> bool:
    """``short`` abbreviates a run of ``words`` ("lvef": "left ventricular ejection
    fraction")."""
    return any(
        _abbreviates(short, words[i : i + k])
        for i in range(len(words))
        for k in range(1, len(short) + 2)
        if words[i : i + 1] and words[i][0] == short[:1]
    )


def acronyms(gained: list[str], text: list[str]) -> bool:
    """Every added word is the initials of words already in ``text``: "(OS)" after
    "overall survival"."""
    if not gained:
        return False
    for short in gained:
        n = len(short)
        runs = (initials(text[i : i + n]) for i in range(len(text) - n + 1))
        if n < 2 or short not in runs:
            return False
    return True
