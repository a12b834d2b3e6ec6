"""Grades in linear time: a scraped text is untrusted, and one long, repetitive criterion or
outcome must not stall an import. Each shape is graded at 2,500 and 10,000 words; the bigger
may take at most GROWTH times the smaller (linear is 4, quadratic 16)."""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable

import pytest

from trialwatch.diffing.criteria import compare_criteria
from trialwatch.diffing.grading import grade_text
from trialwatch.diffing.outcomes import grade_outcome

SMALL, BIG = 2_500, 10_000
GROWTH = 9.0
CAP = 3.0  # seconds for any one BIG pair
QUICK = 0.05  # seconds: faster than this is too quick to time its growth


def _letters(n: int, first: str) -> str:
    pick = random.Random(n).choice
    return " ".join(first + "".join(pick("abcdefghij") for _ in range(7)) for _ in range(n))


SHAPES: dict[str, Callable[[int], tuple[str, str]]] = {
    "one word again": lambda n: ("pain " * n, "pain " * n + "and fatigue"),
    "short forms": lambda n: (" ".join(("ab", "alpha beta", "xy")[i % 3] for i in range(n)),) * 2,
    "numbers": lambda n: (
        " ".join(str(i % 97) for i in range(n)),
        " ".join(str(i % 89) for i in range(n)),
    ),
    "day of surgery": lambda n: ("day of surgery " * (n // 3), "operation day " * (n // 2)),
    "a run of numbers": lambda n: (
        "3 and 6 and " * (n // 4) + "months",
        "3, 6 " * (n // 2) + "weeks",
    ),
    "all words replaced": lambda n: (_letters(n, "q"), _letters(n, "z")),
}
GRADERS: dict[str, Callable[[str, str], object]] = {
    "text": grade_text,
    "outcome": lambda a, b: grade_outcome(
        {"measure": a, "time_frame": a, "description": a}, {"measure": b, "time_frame": b}
    ),
    "criterion": lambda a, b: compare_criteria([("inclusion", (), a)], [("inclusion", (), b)]),
}


def _seconds(grade: Callable[[str, str], object], shape: str, n: int) -> float:
    a, b = SHAPES[shape](n)
    gc.collect()
    gc.disable()  # a worker's large heap is the process's cost, not the grader's
    start = time.process_time()
    try:
        grade(a, b + " ")  # never equal: the whole comparison runs
    finally:
        took = time.process_time() - start
        gc.enable()
    return took


@pytest.mark.parametrize("grader", GRADERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_grades_take_linear_time(shape: str, grader: str) -> None:
    grade = GRADERS[grader]
    big = min(_seconds(grade, shape, BIG) for _ in range(2))
    assert big <= CAP, f"{grader}, {shape!r}: {BIG:,} words took {big:.2f} s"
    if big > QUICK:
        small = min(_seconds(grade, shape, SMALL) for _ in range(2))
        assert big <= GROWTH * small, f"{grader}, {shape!r}: {small:.3f} s -> {big:.3f} s"
