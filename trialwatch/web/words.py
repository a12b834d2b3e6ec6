"""Registry words as the page shows them: statuses and phases in plain words, and the
registry's status vocabulary read from what people type."""

from __future__ import annotations

import re

from trialwatch.display import STATUS_WORDS
from trialwatch.display import status_words as said

# The registry's overall statuses, in the order a trial goes through them.
STATUSES: tuple[str, ...] = tuple(STATUS_WORDS)
PHASE_WORDS: dict[str, str] = {
    "EARLY_PHASE1": "Early phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "NA": "Not applicable",
}


def status_words(value: str | None) -> str:
    """A status in words ("ACTIVE_NOT_RECRUITING" → "Active, not recruiting"); a site's own
    wording as it is; nothing for none."""
    return "" if value is None else said(value)


def phase_words(value: str) -> str:
    return PHASE_WORDS.get(value, value)


def status_word(value: str) -> str | None:
    """The registry's status word for ``value`` as people write it ("recruiting",
    "Active, not recruiting", "ACTIVE_NOT_RECRUITING"); None when it is not one."""
    key = re.sub(r"[^A-Z]+", "_", value.strip().upper()).strip("_")
    if key == "UNKNOWN_STATUS":
        key = "UNKNOWN"
    return key if key in STATUS_WORDS else None
