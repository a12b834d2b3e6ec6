"""The whole record of two versions side by side, section by section: every field and every
item of every list, aligned, changed texts with word-level marks; sections and long runs
that did not change are folded."""

from __future__ import annotations

from collections.abc import Callable
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import Any

from pydantic import BaseModel

from trialwatch.display import status_words
from trialwatch.web.marks import Marks, word_marks
from trialwatch.web.models import VersionRow
from trialwatch.web.record_view import (
    date_words,
    enrollment_words,
    intervention_text,
    outcome_text,
    phase_words,
    site_text,
)

BOOKKEEPING = ("Last update posted",)
RUN = 6  # a run of more unchanged rows than this is folded inside a changed section


class Row(BaseModel):
    label: str
    before: str
    after: str
    same: bool
    marks: Marks | None = None


class Block(BaseModel):
    """Consecutive rows; a long run of unchanged ones is ``folded``."""

    folded: bool
    rows: list[Row]


class Section(BaseModel):
    name: str
    changed: int  # rows that differ
    blocks: list[Block]


class CompareView(BaseModel):
    nct_id: str
    a: VersionRow
    b: VersionRow
    sections: list[Section]


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return " ".join(str(value).split())


def _criteria(record: dict[str, Any]) -> list[tuple[str, str]]:
    eligibility = record.get("eligibility")
    items = eligibility.get("criteria") if isinstance(eligibility, dict) else None
    return [
        (
            " / ".join([str(c.get("section", "")).capitalize(), *map(str, c.get("path") or [])]),
            _text(c.get("text")),
        )
        for c in items or []
        if isinstance(c, dict)
    ]


def _listed(
    record: dict[str, Any], field: str, label: str, show: Callable[[Any], str]
) -> list[tuple[str, str]]:
    values = record.get(field)
    return [(label, show(v)) for v in values] if isinstance(values, list) else []


def _value(field: str, label: str, show: Callable[[Any], str] = _text) -> Any:
    def read(record: dict[str, Any]) -> list[tuple[str, str]]:
        return [(label, show(record.get(field)) if record.get(field) not in (None, "") else "")]

    return read


def _dated(value: Any) -> str:
    return date_words(value) if value else ""


def _items(field: str, label: str, show: Callable[[Any], str] = _text) -> Any:
    return lambda record: _listed(record, field, label, show)


# Each section: its name and what it reads, as (label, text) pairs, fields then list items.
SECTIONS: list[tuple[str, list[Any]]] = [
    ("Identification", [
        _value("brief_title", "Brief title"),
        _value("official_title", "Official title"),
        _value("acronym", "Acronym"),
        _items("secondary_ids", "Secondary id"),
    ]),
    ("Status", [
        _value("overall_status", "Overall status", status_words),
        _value("why_stopped", "Why stopped"),
        _value("start_date", "Start", _dated),
        _value("primary_completion_date", "Primary completion", _dated),
        _value("completion_date", "Study completion", _dated),
        _value("last_update_posted", "Last update posted"),
    ]),
    ("Sponsor and collaborators", [
        _value("lead_sponsor", "Lead sponsor"),
        _items("collaborators", "Collaborator"),
    ]),
    ("Conditions", [_items("conditions", "Condition")]),
    ("Design", [
        _value("study_type", "Study type", lambda v: _text(v).replace("_", " ").capitalize()),
        _value("phases", "Phase", phase_words),
        _value("enrollment", "Enrollment", enrollment_words),
    ]),
    ("Interventions", [_items("interventions", "Intervention", intervention_text)]),
    ("Eligibility", [
        _value("sex", "Sex"),
        _value("minimum_age", "Minimum age"),
        _value("maximum_age", "Maximum age"),
        _value("healthy_volunteers", "Healthy volunteers"),
        _criteria,
    ]),
    ("Outcome measures", [
        _items("primary_outcomes", "Primary", outcome_text),
        _items("secondary_outcomes", "Secondary", outcome_text),
    ]),
    ("Locations", [_items("locations", "Site", site_text)]),
]  # fmt: skip


def _aligned(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[Row]:
    """The two lists of (label, text) aligned: equal pairs side by side, replaced runs
    paired in order (with marks), the rest on one side only."""
    rows: list[Row] = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [Row(label=n, before=t, after=t, same=True) for n, t in old[i1:i2]]
            continue
        for left, right in zip_longest(old[i1:i2], new[j1:j2]):
            label = (right or left)[0]
            before, after = left[1] if left else "", right[1] if right else ""
            rows.append(
                Row(
                    label=label,
                    before=before,
                    after=after,
                    same=before == after,
                    marks=word_marks(before, after),
                )
            )
    return rows


def _blocks(rows: list[Row]) -> list[Block]:
    blocks: list[Block] = []
    for row in rows:
        if blocks and blocks[-1].rows[0].same == row.same:
            blocks[-1].rows.append(row)
        else:
            blocks.append(Block(folded=False, rows=[row]))
    for block in blocks:
        block.folded = block.rows[0].same and len(block.rows) > RUN
    return blocks


def compare_records(
    nct_id: str, a: VersionRow, b: VersionRow, old: dict[str, Any], new: dict[str, Any]
) -> CompareView:
    sections = []
    for name, readers in SECTIONS:
        rows: list[Row] = []
        for read in readers:
            rows += _aligned(read(old), read(new))
        rows = [r for r in rows if r.before or r.after]
        # The registry moves its last update date with every version: not a reason to open.
        changed = sum(1 for r in rows if not r.same and r.label not in BOOKKEEPING)
        sections.append(Section(name=name, changed=changed, blocks=_blocks(rows)))
    return CompareView(nct_id=nct_id, a=a, b=b, sections=sections)
