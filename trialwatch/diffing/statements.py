"""An outcome read as one statement: its measure, time frame and description together.

Registries edit outcomes by moving text between fields ("Disease-free survival at 6 month
intervals" -> measure "Disease-free survival", time frame "6 month intervals"), restating a
time frame ("10 years" -> "up to 10 years", "Operation day" -> "Assessed on the day of surgery
(day 0)") and dropping boilerplate ("The primary endpoint of the study is ..."). Read field by
field, each looks like a changed number or replaced wording; read as one statement, none
changes what is measured or when. So a statement is compared by:

- its time points and other numbers, as a set of (number, unit) wherever they stand
  ("Week 12", "12 weeks", "at 12 wk" are one point; "day of surgery" is day 0);
- its words, as a multiset over all fields, without boilerplate and without the words that
  only frame a time ("up to", "assessed", "at", "baseline").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trialwatch.diffing.grading import (
    FILLER,
    NEGATIONS,
    THRESHOLDS,
    TIME_UNITS,
    UNITS,
    counts,
    listed,
    tokens,
)
from trialwatch.diffing.wordforms import is_number

FIELDS = ("measure", "time_frame", "description")
# Words that only frame a time point: "up to 10 years", "assessed at week 12", "baseline and
# 1 month" (a change is measured from baseline whether or not the time frame says so).
TIME_WORDS = frozenset(
    "up to at on by through until till within after over during from baseline assessed measured "
    "evaluated collected recorded approximately time frame point points period end interval "
    "visit".split()
)
# Thresholds that in an outcome frame a time ("within 28 days", "up to week 12") rather than
# a value; "less than", "at least", "<" still count.
OUTCOME_THRESHOLDS = THRESHOLDS - {"up", "within", "before", "after", "prior", "over"}
# "day of surgery", "operation day", "randomization day": day 0 of the trial's clock.
ANCHORS = frozenset(
    "surgery operation randomization enrollment enrolment admission procedure transplant "
    "transplantation dosing".split()
)
_CONNECT = frozenset(("and", "or", "to", "through", "-", "&"))
# A leading formula that frames the measure without saying what it is: "The primary outcome
# of the study is", "Primary endpoint:", "To assess the", "Descriptive analysis of".
_VERBS = (
    r"assess|evaluate|determine|measure|identify|investigate|examine|describe|estimate|"
    r"quantify|characteri[sz]e|explore|analy[sz]e|monitor|document|record"
)
_NOUNS = (
    r"analysis|assessment|evaluation|measurement|determination|estimation|monitoring|"
    r"description|documentation|quantification"
)
_BOILERPLATE = re.compile(
    r"^\s*(?:(?:the\s+)?(?:main\s+|key\s+)?(?:primary|secondary|principal)?\s*"
    r"(?:efficacy\s+|safety\s+)?(?:outcome(?:\s+measure)?|end\s*-?\s*point|objective|aim)s?"
    r"\s+(?:of|for|in)\s+(?:the|this)\s+(?:study|trial|protocol|research)\s+"
    r"(?:is|are|will\s+be)\s*:?\s*"
    r"|(?:primary|secondary)\s+(?:outcome|end\s*-?\s*point)(?:\s+measure)?\s*[:\-\u2013]\s*)?"
    rf"(?:to\s+(?:{_VERBS})\s+(?:the\s+)?|(?:descriptive\s+)?(?:{_NOUNS})\s+of\s+(?:the\s+)?"
    r"|monitoring\s+(?:the\s+)?)?",
    re.IGNORECASE,
)

Point = tuple[str, str]


def without_boilerplate(text: str | None) -> str:
    """``text`` without a leading "The primary endpoint of the study is" and the like."""
    if not text:
        return ""
    # Spacing collapsed first, so the formula's optional words never retry a run of spaces.
    return _BOILERPLATE.sub("", " ".join(text.split()), count=1)


def time_points(words: list[str]) -> tuple[set[Point], list[str]]:
    """({(number, unit)}, the words left): each number with the unit after it (over a run of
    numbers: "3, 6 and 12 months") or before it ("week 12"); "" when it has none."""
    words = _anchored(words)
    n = len(words)

    def in_run(word: str) -> bool:
        return is_number(word) or word in _CONNECT

    # run_end[i]: the first index after i that is neither a number nor a connector, found
    # right to left in one pass, so a long run of numbers is read once, not once a number.
    run_end = [n] * n
    stop = n
    for i in range(n - 1, -1, -1):
        run_end[i] = stop
        if not in_run(words[i]):
            stop = i

    def unit_at(j: int) -> str:
        return words[j] if j < n and (words[j] in TIME_UNITS or words[j] in UNITS) else ""

    points: set[Point] = set()
    for i, word in enumerate(words):
        if is_number(word):
            unit = unit_at(run_end[i])
            if not unit and i and words[i - 1] in TIME_UNITS:
                unit = words[i - 1]
            points.add((word, unit))
    # The connectors inside a run of numbers that ends in its unit ("3, 6 and 12 months").
    consumed = {
        k
        for k, w in enumerate(words)
        if w in _CONNECT and k and in_run(words[k - 1]) and unit_at(run_end[k])
    }
    stated = {unit for _, unit in points}
    rest = [
        w
        for k, w in enumerate(words)
        if k not in consumed and not is_number(w) and not (w in stated and w in TIME_UNITS)
    ]
    return points, rest


def _anchored(words: list[str]) -> list[str]:
    """ "day of surgery", "operation day", "surgery day" -> "0 day"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "day":
            j = i + 1
            while j < len(words) and words[j] in ("of", "the"):
                j += 1
            if j < len(words) and words[j] in ANCHORS:
                out += ["0", "day"]
                i = j + 1
                continue
        if w in ANCHORS and i + 1 < len(words) and words[i + 1] == "day":
            out += ["0", "day"]
            i += 2
            continue
        out.append(w)
        i += 1
    return out


@dataclass(frozen=True)
class Statement:
    """An outcome as compared: its points, and its words field by field (framing dropped)."""

    points: frozenset[Point]
    fields: tuple[tuple[str, ...], ...]  # measure, time frame, description

    @property
    def words(self) -> list[str]:
        return [w for field in self.fields for w in field]

    def content(self) -> set[str]:
        """The words that carry meaning: not filler, not "and"/"or"."""
        return {w for w in self.words if w not in FILLER and w not in ("and", "or")}


def statement(outcome: dict[str, Any]) -> Statement:
    """The outcome as compared (read once per text: outcomes are compared pair by pair)."""
    return _statement(*(outcome.get(name) or "" for name in FIELDS))


@lru_cache(maxsize=4096)
def _statement(*texts: str) -> Statement:
    points: set[Point] = set()
    fields = []
    for name, text in zip(FIELDS, texts, strict=True):
        if name == "time_frame":
            # In a time frame small words and "and" only frame points: "on the day of
            # surgery", "baseline and 1 month".
            framing = TIME_WORDS | FILLER | {"and", "or"}
            # A time frame names its anchor once or twice ("extubation until 48 h after
            # extubation"): its words count once each.
            seen: set[str] = set()
            words = []
            for w in tokens(text):
                if w in framing or (w in seen and not is_number(w) and w not in TIME_UNITS):
                    continue
                seen.add(w)
                words.append(w)
        else:
            words = _unframed(_uncited(tokens(without_boilerplate(text))))
        found, rest = time_points(words)
        points |= found
        fields.append(tuple(rest))
    return Statement(frozenset(points), tuple(fields))


def _uncited(words: list[str]) -> list[str]:
    """Without the year of a reference ("Streisand et al. 2001"): not a value of the outcome."""
    return [w for i, w in enumerate(words) if not (i and words[i - 1] == "al" and is_number(w))]


def _unframed(words: list[str]) -> list[str]:
    """A measure's words without those framing a time point next to them ("mortality up to
    day 28"); "over time and space" keeps its words."""

    def timed(word: str) -> bool:
        return is_number(word) or word in TIME_UNITS or word in ANCHORS

    return [
        w
        for i, w in enumerate(words)
        if w not in TIME_WORDS or not any(map(timed, words[max(0, i - 2) : i + 4]))
    ]


def describe(points: frozenset[Point] | set[Point]) -> str:
    """ "day 0, 12 week" for a set of points, in a stable order."""
    shown = (f"{unit} {n}" if unit in TIME_UNITS else f"{n} {unit}".strip() for n, unit in points)
    return ", ".join(sorted(shown)) or "(none)"


def exact_terms(old: list[str], new: list[str]) -> str | None:
    """ "unit changed (mg \u2192 g)" when a unit, threshold or negation word differs (time
    units are points, compared apart), else None."""
    for keep, label in (
        (UNITS - TIME_UNITS, "unit"),
        (OUTCOME_THRESHOLDS, "threshold"),
        (NEGATIONS, "negation"),
    ):
        a, b = counts(old, keep), counts(new, keep)
        if a != b:
            return f"{label} changed ({listed(a - b)} \u2192 {listed(b - a)})"
    return None
