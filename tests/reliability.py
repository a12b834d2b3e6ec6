"""Fault and attack tests say what they tried and how it went; `scripts/reliability.py`
collects what they said into docs/reliability.md.

A test takes the ``reliability`` fixture and calls ``reliability.tried(area, attack, times,
result)`` once it has checked its assertions (a failing test records nothing, and fails).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT_ENV = "TRIALWATCH_RELIABILITY_REPORT"


@dataclass
class Trial:
    area: str  # "alerts", "scheduler", "crawl", "input", "sites", "database"
    attack: str  # what was done, in a few words
    times: int  # how many times it was tried
    result: str  # what held, in a few words
    test: str = ""
    database: str = ""


@dataclass
class Recorder:
    test: str
    database: str = ""
    trials: list[Trial] = field(default_factory=list)

    def tried(self, area: str, attack: str, times: int, result: str) -> None:
        self.trials.append(Trial(area, attack, times, result, self.test, self.database))


def write(trials: list[Trial]) -> None:
    """Append to the report file named by TRIALWATCH_RELIABILITY_REPORT (if set)."""
    path = os.environ.get(REPORT_ENV)
    if not path or not trials:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        for t in trials:
            out.write(json.dumps(asdict(t), ensure_ascii=False) + "\n")
