"""Labelled real edits (tests/fixtures/grading/edits.json) and minimal record pairs for them.

Each edit is one item-level difference seen between two real versions of one trial record.
``record_pair(edit)`` builds two small records that differ by exactly that edit, with one
unchanged neighbour item in every list the edit touches, so an edit never reads as "the
whole list appeared".

Forms of an edit's ``before`` / ``after`` (see SOURCES.md, "Labelling rules"):

* outcomes: one outcome dict, null (added / removed), or a list of outcome dicts (field
  "split" or "merge": one outcome became several, or several became one);
* criteria: one item string placed in its section (field "inclusion" / "exclusion"), or,
  with field "text", the whole criteria text of each version as the registry gave it,
  parsed by the project's own parser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trialwatch.record import (
    Eligibility,
    Enrollment,
    Intervention,
    Location,
    Outcome,
    TrialDate,
    TrialRecord,
)

GRADING = Path(__file__).resolve().parents[1] / "fixtures" / "grading"
EDITS = GRADING / "edits.json"
SOURCES = GRADING / "SOURCES.md"

# Unchanged neighbours: present in both records of every pair.
NEIGHBOUR_INCLUSION = "Able to give written informed consent"
NEIGHBOUR_EXCLUSION = "Participation in another interventional study within 30 days"
NEIGHBOUR_PRIMARY = Outcome(measure="Neighbour primary measure", time_frame="Week 12")
NEIGHBOUR_SECONDARY = Outcome(measure="Neighbour secondary measure", time_frame="Week 24")
NEIGHBOUR_SITE = Location(facility="Neighbour Site", city="Neighbourtown", country="Nowhere")
NEIGHBOUR_COLLABORATOR = "Neighbour Collaborator Foundation"
NEIGHBOUR_CONDITION = "Neighbour Condition"
NEIGHBOUR_INTERVENTION = Intervention(type="OTHER", name="Neighbour intervention")

DATE_KINDS = ("start_date", "primary_completion_date", "completion_date")


def load_edits() -> list[dict[str, Any]]:
    """All labelled edits: edits.json, then every edits_<source>.json, each in file order."""
    edits: list[dict[str, Any]] = []
    for path in [EDITS, *sorted(GRADING.glob("edits_*.json"))]:
        edits += json.loads(path.read_text(encoding="utf-8"))
    return edits


def record_pair(edit: dict[str, Any]) -> tuple[TrialRecord, TrialRecord]:
    """(old, new): two minimal ctgov records of the edit's trial, differing only by the edit."""
    kind = edit["kind"]
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    before, after = edit["before"], edit["after"]
    if kind == "status":
        old["overall_status"], new["overall_status"] = before, after
    elif kind in DATE_KINDS:
        old[kind], new[kind] = _maybe(TrialDate, before), _maybe(TrialDate, after)
    elif kind == "enrollment":
        old[kind], new[kind] = _maybe(Enrollment, before), _maybe(Enrollment, after)
    elif kind == "eligibility_criteria":
        section = edit["field"]
        if section == "text":
            old["eligibility"], new["eligibility"] = _parse_text(before), _parse_text(after)
        else:
            old["eligibility"] = _criteria(before, section)
            new["eligibility"] = _criteria(after, edit.get("to_section", section))
    elif kind == "eligibility":
        old[edit["field"]], new[edit["field"]] = before, after
    elif kind in ("primary_outcome", "secondary_outcome"):
        old.update(_outcomes(kind, edit.get("field"), before, "before"))
        new.update(_outcomes(kind, edit.get("field"), after, "after"))
    elif kind == "locations":
        old["locations"] = _listed(NEIGHBOUR_SITE, _maybe(Location, before))
        new["locations"] = _listed(NEIGHBOUR_SITE, _maybe(Location, after))
    elif kind == "sponsor":
        if edit["field"] == "lead_sponsor":
            old["lead_sponsor"], new["lead_sponsor"] = before, after
        else:
            old["collaborators"] = _listed(NEIGHBOUR_COLLABORATOR, before)
            new["collaborators"] = _listed(NEIGHBOUR_COLLABORATOR, after)
    elif kind == "phase":
        old["phases"], new["phases"] = before, after
    elif kind == "title":
        old[edit["field"]], new[edit["field"]] = before, after
    elif kind == "conditions":
        old["conditions"] = _listed(NEIGHBOUR_CONDITION, before)
        new["conditions"] = _listed(NEIGHBOUR_CONDITION, after)
    elif kind == "interventions":
        old["interventions"] = _listed(NEIGHBOUR_INTERVENTION, _maybe(Intervention, before))
        new["interventions"] = _listed(NEIGHBOUR_INTERVENTION, _maybe(Intervention, after))
    else:
        raise ValueError(f"unknown change kind {kind!r} in edit {edit['id']}")
    return _record(edit["nct_id"], old), _record(edit["nct_id"], new)


def _record(nct_id: str, fields: dict[str, Any]) -> TrialRecord:
    return TrialRecord(nct_id=nct_id, source="ctgov", **fields)


def _maybe(model: Any, value: Any) -> Any:
    return None if value is None else model(**value)


def _listed(neighbour: Any, item: Any) -> list[Any]:
    return [neighbour] if item is None else [neighbour, item]


def _criteria(item: str | None, section: str) -> Eligibility:
    """Registry-style markdown criteria with one neighbour per section, parsed for real."""
    inclusion = [NEIGHBOUR_INCLUSION]
    exclusion = [NEIGHBOUR_EXCLUSION]
    if item is not None:
        (inclusion if section == "inclusion" else exclusion).append(item)
    text = (
        "Inclusion Criteria:\n\n"
        + "".join(f"* {x}\n" for x in inclusion)
        + "\nExclusion Criteria:\n\n"
        + "".join(f"* {x}\n" for x in exclusion)
    )
    return _parse_criteria(text)


def _parse_text(text: str | None) -> Eligibility | None:
    """A whole criteria text as the registry gave it (markdown or plain), parsed for real."""
    return None if text is None else _parse_criteria(text)


def _parse_criteria(text: str) -> Eligibility:
    from trialwatch.parsers import eligibility as parser

    build = getattr(parser, "eligibility_from_text", None)
    if build is not None:
        parsed: Eligibility = build(text)
        return parsed
    inclusion, exclusion = parser.split_criteria(text)
    return Eligibility(text=text, inclusion=inclusion, exclusion=exclusion)


def _outcomes(kind: str, field: str | None, value: Any, side: str) -> dict[str, Any]:
    """Primary and secondary lists, each with its neighbour; the edited outcomes placed by kind.

    ``value`` is one outcome, None, or a list of outcomes (a split or a merge), kept in order.
    "promoted": secondary before, primary after; "demoted": the reverse.
    """
    primary = [NEIGHBOUR_PRIMARY]
    secondary = [NEIGHBOUR_SECONDARY]
    values = [] if value is None else value if isinstance(value, list) else [value]
    outcomes = [Outcome(**v) for v in values]
    if field in ("promoted", "demoted"):
        to_primary = (field == "promoted") == (side == "after")
        (primary if to_primary else secondary).extend(outcomes)
    elif kind == "primary_outcome":
        primary.extend(outcomes)
    else:
        secondary.extend(outcomes)
    return {"primary_outcomes": primary, "secondary_outcomes": secondary}
