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
    criteria_tree,
    norm_date,
    norm_intervention,
    norm_list,
    norm_location,
    norm_outcome,
    norm_phases,
    norm_text,
    status_text,
)
from trialwatch.diffing.criteria import compare_criteria, folded, highest
from trialwatch.diffing.grading import EDITORIAL, MAJOR, MINOR, grade_text, same_meaning
from trialwatch.diffing.items import match_items
from trialwatch.diffing.outcomes import compare_outcomes
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


def graded(
    kind: str, before: Any, after: Any, detail: dict[str, Any], grade: str, reason: str
) -> Change:
    """A change with its grade, the reason also kept in ``detail`` (stored and shown)."""
    return Change(kind, before, after, {**detail, "grade": grade, "reason": reason}, grade)


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
    changes += _outcomes(old, new)
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
    reason = f"status changed: {before} \u2192 {after}"
    return [graded("status", before, after, detail, MAJOR, reason)]


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
    return [graded(kind, before, after, detail, *_date_grade(before, after, delta, slip))]


def _date_grade(
    before: dict[str, Any] | None, after: dict[str, Any] | None, delta: int | None, slip: bool
) -> tuple[str, str]:
    if before is None:
        return MINOR, "date stated"
    if after is None:
        return MAJOR, "date removed"
    assert delta is not None
    if before["date"] == after["date"]:
        if after["type"] == "ACTUAL" or before["type"] is None:
            return EDITORIAL, f"same date, now {after['type'] or 'untyped'}"
        return MINOR, f"same date, now {after['type'] or 'untyped'}"
    if _within(after, before):
        return MINOR, f"stated more precisely: {before['date']} \u2192 {after['date']}"
    if _within(before, after):
        return MAJOR, f"stated less precisely: {before['date']} \u2192 {after['date']}"
    if slip:
        return MAJOR, f"slipped {delta} days"
    if delta == 0:  # "2018-06" -> "2018-06-01": same first day, another precision
        return MINOR, f"stated at another precision: {before['date']} \u2192 {after['date']}"
    return MAJOR, f"moved {abs(delta)} days earlier" if delta < 0 else f"moved {delta} days later"


def _enrollment(old: TrialRecord, new: TrialRecord) -> list[Change]:
    def form(record: TrialRecord) -> dict[str, Any] | None:
        e = record.enrollment
        return None if e is None else {"count": e.count, "type": e.type}

    before, after = form(old), form(new)
    if before == after:
        return []
    delta = after["count"] - before["count"] if before and after else None
    if before is None:
        grade, reason = MINOR, "enrollment stated"
    elif after is None:
        grade, reason = MAJOR, "enrollment removed"
    elif delta:
        grade, reason = MAJOR, f"enrollment {before['count']} \u2192 {after['count']}"
    elif after["type"] == "ACTUAL":
        grade, reason = EDITORIAL, "same count, confirmed as actual"
    else:
        grade, reason = MINOR, f"same count, now {after['type'] or 'untyped'}"
    return [graded("enrollment", before, after, {"delta": delta}, grade, reason)]


def _criteria(old: TrialRecord, new: TrialRecord) -> list[Change]:
    old_tree, new_tree = criteria_tree(old.eligibility), criteria_tree(new.eligibility)
    edits = [] if old_tree == new_tree else compare_criteria(old_tree, new_tree)
    if not edits:
        return []

    def form(tree: list[Any]) -> dict[str, list[str]]:
        return {side: [t for s, _, t in tree if s == side] for side in ("inclusion", "exclusion")}

    detail: dict[str, Any] = {"items": edits, **_criteria_sides(edits)}
    return [graded("eligibility_criteria", form(old_tree), form(new_tree), detail, *highest(edits))]


def _criteria_sides(edits: list[dict[str, Any]]) -> dict[str, Any]:
    """Per section: texts added, removed, and [old, new] reworded (a move between sections
    is a removal from one and an addition to the other)."""
    sides: dict[str, Any] = {
        side: {"added": [], "removed": [], "changed": []} for side in ("inclusion", "exclusion")
    }
    for e in edits:
        if e["op"] in ("added", "removed"):
            sides[e["section"]][e["op"]].append(e["text"])
        elif e["op"] == "changed":
            sides[e["section"]]["changed"].append([e["before"], e["after"]])
        elif e["op"] == "moved" and e["from"]["section"] != e["to"]["section"]:
            sides[e["from"]["section"]]["removed"].append(e["before"])
            sides[e["to"]["section"]]["added"].append(e["after"])
    return sides


def _scalar(record: TrialRecord, name: str) -> Any:
    value = getattr(record, name)
    return norm_text(value) if isinstance(value, str) else value


def _fields(kind: str, names: tuple[str, ...], old: TrialRecord, new: TrialRecord) -> list[Change]:
    """One change per field that differs, detail {"field": name}."""
    out = []
    for name in names:
        before, after = _scalar(old, name), _scalar(new, name)
        if before != after:
            grade, reason = _field_grade(kind, name, before, after)
            out.append(graded(kind, before, after, {"field": name}, grade, reason))
    return out


def _field_grade(kind: str, name: str, before: Any, after: Any) -> tuple[str, str]:
    label = name.replace("_", " ")
    if kind == "title":
        return grade_text(before, after, label)
    if isinstance(before, str) and isinstance(after, str) and same_meaning(before, after):
        return EDITORIAL, f"{label}: the same value spelled another way"
    if before is None and name == "sex":
        return MINOR, f"{label} stated"
    return MAJOR, f"{label} changed: {before} \u2192 {after}"


def _outcomes(old: TrialRecord, new: TrialRecord) -> list[Change]:
    def form(outcomes: list[Any] | None) -> list[dict[str, Any]]:
        return [norm_outcome(o) for o in outcomes or []]

    old_p, old_s = form(old.primary_outcomes), form(old.secondary_outcomes)
    new_p, new_s = form(new.primary_outcomes), form(new.secondary_outcomes)
    if old_p == new_p and old_s == new_s:  # most edits of a record leave its outcomes be
        return []
    primary, secondary = compare_outcomes(list(old_p), list(old_s), list(new_p), list(new_s))
    out = []
    for kind, edits, before, after in (
        ("primary_outcome", primary, old_p, new_p),
        ("secondary_outcome", secondary, old_s, new_s),
    ):
        if not edits:
            continue
        detail: dict[str, Any] = {
            "added": [e["after"] for e in edits if e["op"] == "added"],
            "removed": [e["before"] for e in edits if e["op"] == "removed"],
            "changed": [[e["before"], e["after"]] for e in edits if e["op"] == "changed"],
            "items": edits,
        }
        if kind == "primary_outcome":
            detail["promoted"] = [e["after"] for e in edits if e["op"] == "promoted"]
            detail["demoted"] = [e["after"] for e in edits if e["op"] == "demoted"]
        out.append(graded(kind, before or None, after or None, detail, *highest(edits)))
    return out


def compare_primary_outcomes(old: TrialRecord, new: TrialRecord) -> Change | None:
    """The primary-outcome change between two records, if any (as ``compare`` finds it)."""
    return next((c for c in _outcomes(old, new) if c.kind == "primary_outcome"), None)


def _site_key(location: dict[str, Any]) -> tuple[Any, ...]:
    return (location["facility"], location["city"], location["country"])


def _folded_site(location: dict[str, Any]) -> tuple[str, ...]:
    return tuple(folded(location[k] or "") for k in ("facility", "city", "country"))


def _locations(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before = [norm_location(x) for x in old.locations or []]
    after = [norm_location(x) for x in new.locations or []]
    if before == after:  # most edits of a record leave its sites be
        return []
    # Sites are identified by facility, city and country (a respelling is the same site);
    # the status is what may change.
    waiting: dict[tuple[Any, ...], list[int]] = {}
    for j, site in enumerate(after):
        waiting.setdefault(_folded_site(site), []).append(j)
    removed, status_changed, respelled = [], [], 0
    for site in before:
        same = waiting.get(_folded_site(site))
        if not same:
            removed.append(site)
            continue
        # Prefer a twin with the same status, so duplicate sites do not swap statuses.
        j = next((j for j in same if after[j]["status"] == site["status"]), same[0])
        same.remove(j)
        respelled += _site_key(after[j]) != _site_key(site)
        if after[j]["status"] != site["status"]:
            where = {k: site[k] for k in ("facility", "city", "country")}
            status_changed.append(
                {"site": where, "before": site["status"], "after": after[j]["status"]}
            )
    added = [after[j] for j in sorted(j for left in waiting.values() for j in left)]
    if not (added or removed or status_changed or respelled):
        return []
    detail = {"added": added, "removed": removed, "status_changed": status_changed}
    if removed:
        grade, reason = MAJOR, f"{_count(len(removed), 'site')} removed"
    elif status_changed:
        grade, reason = MAJOR, f"{_count(len(status_changed), 'site status', 'es')} changed"
    elif added:
        grade, reason = MINOR, f"{_count(len(added), 'site')} added"
    else:
        grade, reason = EDITORIAL, f"{_count(respelled, 'site name')} respelled"
    return [graded("locations", before or None, after or None, detail, grade, reason)]


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}" + ("" if n == 1 else plural)


def _added_removed(before: list[str], after: list[str]) -> dict[str, Any]:
    """Added and removed names; a name respelled (case, punctuation) is neither."""
    gained = Counter(after) - Counter(before)
    lost = Counter(before) - Counter(after)
    respelled = Counter(map(folded, lost.elements())) & Counter(map(folded, gained.elements()))
    return {"added": _without(gained, respelled), "removed": _without(lost, respelled)}


def _without(names: Counter[str], respelled: Counter[str]) -> list[str]:
    left = Counter(respelled)
    kept = []
    for name in sorted(names.elements()):
        if left[folded(name)] > 0:
            left[folded(name)] -= 1
        else:
            kept.append(name)
    return kept


def _names_grade(detail: dict[str, Any], noun: str, added_grade: str) -> tuple[str, str]:
    if detail["removed"]:
        return MAJOR, f"{_count(len(detail['removed']), noun)} removed"
    if detail["added"]:
        return added_grade, f"{_count(len(detail['added']), noun)} added"
    return EDITORIAL, f"{noun} respelled"


def _sponsor(old: TrialRecord, new: TrialRecord) -> list[Change]:
    out = []
    lead_before, lead_after = norm_text(old.lead_sponsor), norm_text(new.lead_sponsor)
    if lead_before != lead_after:
        if same_meaning(lead_before, lead_after):
            grade, reason = EDITORIAL, "lead sponsor respelled"
        else:
            grade, reason = MAJOR, "lead sponsor changed"
        detail = {"field": "lead_sponsor"}
        out.append(graded("sponsor", lead_before, lead_after, detail, grade, reason))
    collab_before = norm_list(old.collaborators)
    collab_after = norm_list(new.collaborators)
    if collab_before != collab_after:
        names = _added_removed(collab_before or [], collab_after or [])
        detail = {"field": "collaborators", **names}
        grade, reason = _names_grade(names, "collaborator", MINOR)
        out.append(graded("sponsor", collab_before, collab_after, detail, grade, reason))
    return out


def _phase(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before, after = norm_phases(old.phases), norm_phases(new.phases)
    if before == after:
        return []
    reason = f"phase changed: {before or 'none'} \u2192 {after or 'none'}"
    return [graded("phase", before, after, {}, MAJOR, reason)]


def _conditions(old: TrialRecord, new: TrialRecord) -> list[Change]:
    before, after = norm_list(old.conditions), norm_list(new.conditions)
    if before == after:
        return []
    names = _added_removed(before or [], after or [])
    grade, reason = _names_grade(names, "condition", MINOR)
    return [graded("conditions", before, after, names, grade, reason)]


def _interventions(old: TrialRecord, new: TrialRecord) -> list[Change]:
    def form(record: TrialRecord) -> list[dict[str, Any]]:
        items = [norm_intervention(x) for x in record.interventions or []]
        return sorted(items, key=lambda x: (x["name"] or "", x["type"] or ""))

    before, after = form(old), form(new)
    # Identified by name (a respelling is the same name); the same name with another type is
    # a changed intervention. Names are identities: "Carboplatin" and "Cisplatin" are two
    # drugs, not one reworded.
    diff = match_items(before, after, key=lambda x: folded(x["name"] or ""), fuzzy=False)
    if not diff:
        return []
    if diff.added or diff.removed:
        n = len(diff.added) + len(diff.removed)
        grade, reason = MAJOR, f"{_count(n, 'intervention')} added or removed"
    elif any(a["type"] != b["type"] for a, b in diff.changed):
        grade, reason = MINOR, "intervention type changed"
    else:
        grade, reason = EDITORIAL, "intervention name respelled"
    return [graded("interventions", before or None, after or None, diff.as_detail(), grade, reason)]
