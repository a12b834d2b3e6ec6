"""Eligibility from criteria text: the criteria tree (criteria.py) and its items per section.

The same criteria reach us as markdown (API v2), as HTML (record history) and as the
classic XML textblock; layout is formatting, not content, so every rendering of one text
gives the same items.
"""

from __future__ import annotations

from trialwatch.parsers.clean import storable, unchecked
from trialwatch.parsers.criteria import parse_criteria
from trialwatch.parsers.criteria_read import Rendering
from trialwatch.record import Criterion, Eligibility


def _sections(criteria: list[Criterion]) -> tuple[list[str] | None, list[str] | None]:
    inclusion = [c.text for c in criteria if c.section == "inclusion"]
    exclusion = [c.text for c in criteria if c.section == "exclusion"]
    return inclusion or None, exclusion or None


def split_criteria(text: str | None) -> tuple[list[str] | None, list[str] | None]:
    """(inclusion items, exclusion items), sub-items included, in source order; each None
    when there are no such items."""
    return _sections(parse_criteria(text))


def eligibility_from_text(
    text: str | None, rendering: Rendering = "auto", *, shown: str | None = None
) -> Eligibility | None:
    """Eligibility with the raw text, the items per section and the tree; None for no text.

    `shown` is the text to keep when `text` is a re-marked form of it (site pages).
    """
    if text is None or not text.strip():
        return None
    criteria = parse_criteria(text, rendering)
    inclusion, exclusion = _sections(criteria)
    kept = shown if shown is not None else text
    # The items and tree are texts parse_criteria checked: with a storable text, validation
    # would find nothing, and the model is built unchecked.
    values = {
        "text": kept,
        "inclusion": inclusion,
        "exclusion": exclusion,
        "criteria": criteria or None,
    }
    if storable(kept):
        return unchecked(Eligibility, values)
    return Eligibility(
        text=kept, inclusion=inclusion, exclusion=exclusion, criteria=criteria or None
    )
