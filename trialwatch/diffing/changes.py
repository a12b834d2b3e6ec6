"""Compare two records of one trial from one source and return typed changes.

Every comparison runs on normalised values (see ``canonical``), so nothing that
``canonical()`` treats as formatting can show up as a change. Values in ``before``/``after``
and ``detail`` are JSON-able (dicts, lists, strings, numbers, booleans, None).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from trialwatch.diffing.canonical import (
    criteria_items,
    norm_date,
    norm_intervention,
    norm_list,
    norm_location,
    norm_outcome,
    norm_phases,
    norm_text,
    status_text,
)
from trialwatch.diffing.items import match_items
from trialwatch.record import TrialRecord

DATE_KINDS: tuple[str, ...] = ("primary_completion_date", "completion_date", "start_date")
ELIGIBILITY_FIELDS: tuple[str, ...] = ("sex", "minimum_age", "maximum_age", "healthy_volunteers")
TITLE_FIELDS: tuple[str, ...] = ("brief_title", "official_title", "acronym")


@dataclass(frozen=True)
class Change:
    """One typed difference between two consecutive versions."""

    kind: str
    before: Any
    after: Any
    detail: dict[str, Any] = field(default_factory=dict)
    # editorial | minor | major (kinds.GRADES); the reason is detail["reason"]. A change read
    # back from before grades were stored has none and counts as major: never hidden.
    grade: str = "major"


def compare(old: TrialRecord, new: TrialRecord) -> list[Change]:
    """Typed changes from ``old`` to ``new`` (two versions of one trial), in KINDS order.

    An empty list means "same content" for every field a kind covers. A few canonical fields
    have no kind in DESIGN.md (secondary_ids, study_type, why_stopped without a status
    change): they change ``record_hash`` but yield no Change.
    """
    if (old.nct_id or "").strip().upper() != (new.nct_id or "").strip().upper():
        raise ValueError(f"compare: records of different trials ({old.nct_id} vs {new.nct_id})")
    changes: list[Change] = []
    changes += _status(old, new)
    for kind in DATE_KINDS:
        changes += _date(kind, getattr(old, kind), getattr(new, kind))
    changes += _enrollment(old, new)
    changes += _criteria(old, new)
    changes += _fields("eligibility", ELIGIBILITY_FIELDS, old, new)
    changes += _outcomes("primary_outcome", old.primary_outcomes, new.primary_outcomes)
    changes += _outcomes("secondary_outcome", old.secondary_outcomes, new.secondary_outcomes)
    changes += _locations(old, new)
    changes += _sponsor(old, new)
    changes += _phase(old, new)
    changes += _fields("title", TITLE_FIELDS, old, new)
    changes += _conditions(old, new)
    changes += _interventions(old, new)
    return changes


def _status(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before, after = status_text(old), status_text(new)
    if before == after:
        return []
    detail: dict[str, Any] = {}
    why = norm_text(new.why_stopped)
    if why is not None:
        detail["why_stopped"] = why
    return [Change("status", before, after, detail)]


def period_start(value: dict[str, Any]) -> date:
    """First day of the period a registry date names ("2018-06" -> 2018-06-01)."""
    parts = [int(p) for p in value["date"].split("-")[:3]]
    while len(parts) < 3:
        parts.append(1)
    return date(parts[0], parts[1], parts[2])


def _within(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    """True when ``inner`` names a day or month inside the coarser period ``outer`` names."""
    return inner["date"].startswith(outer["date"]) and len(inner["date"]) > len(outer["date"])


def _date(kind: str, old_value: Any, new_value: Any) -> list[Change]:
    before, after = norm_date(old_value), norm_date(new_value)
    if before == after:
        return []
    delta = None
    slip = False
    if before is not None and after is not None:
        delta = (period_start(after) - period_start(before)).days
        # Moving later is a slip; stating "2018" more precisely as "2018-06" is not.
        slip = delta > 0 and not _within(after, before)
    detail = {
        "delta_days": delta,
        "type_before": before["type"] if before else None,
        "type_after": after["type"] if after else None,
        "slip": slip,
    }
    return [Change(kind, before, after, detail)]


def _enrollment(old: TrialRecord, new: TrialRecord) -> list[Change]:
    def form(record: TrialRecord) -> dict[str, Any] | None:
        e = record.enrollment
        return None if e is None else {"count": e.count, "type": e.type}

    before, after = form(old), form(new)
    if before == after:
        return []
    delta = after["count"] - before["count"] if before and after else None
    return [Change("enrollment", before, after, {"delta": delta})]


def _criteria(old: TrialRecord, new: TrialRecord) -> list[Change]:
    old_inc, old_exc = criteria_items(old.eligibility)
    new_inc, new_exc = criteria_items(new.eligibility)
    inclusion = match_items(old_inc, new_inc)
    exclusion = match_items(old_exc, new_exc)
    if not inclusion and not exclusion:
        return []
    return [
        Change(
            "eligibility_criteria",
            {"inclusion": old_inc, "exclusion": old_exc},
            {"inclusion": new_inc, "exclusion": new_exc},
            {"inclusion": inclusion.as_detail(), "exclusion": exclusion.as_detail()},
        )
    ]


def _scalar(record: TrialRecord, name: str) -> Any:
    value = getattr(record, name)
    return norm_text(value) if isinstance(value, str) else value


def _fields(kind: str, names: tuple[str, ...], old: TrialRecord, new: TrialRecord) -> list[Change]:
    """One change per field that differs, detail {"field": name}."""
    out = []
    for name in names:
        before, after = _scalar(old, name), _scalar(new, name)
        if before != after:
            out.append(Change(kind, before, after, {"field": name}))
    return out


def _outcomes(kind: str, old: list[Any] | None, new: list[Any] | None) -> list[Change]:
    before = [norm_outcome(o) for o in old or []]
    after = [norm_outcome(o) for o in new or []]
    # Same measure: changed. Otherwise paired by similarity of the whole outcome, so a
    # reworded measure with the same time frame pairs up, two unrelated measures do not.
    diff = match_items(before, after, key=lambda o: o["measure"], text=_outcome_text)
    if not diff:
        return []
    return [Change(kind, before or None, after or None, diff.as_detail())]


def _outcome_text(outcome: dict[str, Any]) -> str:
    return " | ".join(outcome[k] or "" for k in ("measure", "time_frame", "description"))


def _site_key(location: dict[str, Any]) -> tuple[Any, ...]:
    return (location["facility"], location["city"], location["country"])


def _locations(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before = [norm_location(x) for x in old.locations or []]
    after = [norm_location(x) for x in new.locations or []]
    # Sites are identified by facility, city and country; the status is what may change.
    waiting: dict[tuple[Any, ...], list[int]] = {}
    for j, site in enumerate(after):
        waiting.setdefault(_site_key(site), []).append(j)
    removed, status_changed = [], []
    for site in before:
        same = waiting.get(_site_key(site))
        if not same:
            removed.append(site)
            continue
        # Prefer a twin with the same status, so duplicate sites do not swap statuses.
        j = next((j for j in same if after[j]["status"] == site["status"]), same[0])
        same.remove(j)
        if after[j]["status"] != site["status"]:
            where = {k: site[k] for k in ("facility", "city", "country")}
            status_changed.append(
                {"site": where, "before": site["status"], "after": after[j]["status"]}
            )
    added = [after[j] for j in sorted(j for left in waiting.values() for j in left)]
    if not (added or removed or status_changed):
        return []
    detail = {"added": added, "removed": removed, "status_changed": status_changed}
    return [Change("locations", before or None, after or None, detail)]


def _added_removed(before: list[str], after: list[str]) -> dict[str, list[str]]:
    gained = Counter(after) - Counter(before)
    lost = Counter(before) - Counter(after)
    return {"added": sorted(gained.elements()), "removed": sorted(lost.elements())}


def _sponsor(old: TrialRecord, new: TrialRecord) -> list[Change]:
    out = []
    lead_before, lead_after = norm_text(old.lead_sponsor), norm_text(new.lead_sponsor)
    if lead_before != lead_after:
        out.append(Change("sponsor", lead_before, lead_after, {"field": "lead_sponsor"}))
    collab_before = norm_list(old.collaborators)
    collab_after = norm_list(new.collaborators)
    if collab_before != collab_after:
        detail = {
            "field": "collaborators",
            **_added_removed(collab_before or [], collab_after or []),
        }
        out.append(Change("sponsor", collab_before, collab_after, detail))
    return out


def _phase(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before, after = norm_phases(old.phases), norm_phases(new.phases)
    if before == after:
        return []
    return [Change("phase", before, after, {})]


def _conditions(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before, after = norm_list(old.conditions), norm_list(new.conditions)
    if before == after:
        return []
    return [Change("conditions", before, after, _added_removed(before or [], after or []))]


def _interventions(old: TrialRecord, new: TrialRecord) -> list[Change]:
    def form(record: TrialRecord) -> list[dict[str, Any]]:
        items = [norm_intervention(x) for x in record.interventions or []]
        return sorted(items, key=lambda x: (x["name"] or "", x["type"] or ""))

    before, after = form(old), form(new)
    # Identified by name; the same name with another type is a changed intervention.
    # Names are identities: "Carboplatin" and "Cisplatin" are two drugs, not one reworded.
    diff = match_items(before, after, key=lambda x: x["name"], fuzzy=False)
    if not diff:
        return []
    return [Change("interventions", before or None, after or None, diff.as_detail())]
