"""One neutral line of plain text per change, for a terminal or a log.

No colour, no HTML: richer renderings (email, web) are built from the same ``Change``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trialwatch.diffing.changes import DATE_KINDS, Change

NONE = "(none)"
MINUS = "\u2212"  # a real minus sign lines up with "+" in counts


def _signed(number: int) -> str:
    return f"+{number}" if number >= 0 else f"{MINUS}{-number}"


def value_text(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) if value else NONE
    return str(value)


def date_text(value: dict[str, Any] | None) -> str:
    if value is None:
        return NONE
    return f"{value['date']} ({value['type']})" if value.get("type") else value["date"]


def _counts(detail: dict[str, Any]) -> str:
    """ "+added −removed ~changed" for an item-level detail."""
    added, removed = len(detail.get("added", [])), len(detail.get("removed", []))
    return f"+{added} {MINUS}{removed} ~{len(detail.get('changed', []))}"


def _status(change: Change) -> str:
    line = f"status: {value_text(change.before)} \u2192 {value_text(change.after)}"
    why = change.detail.get("why_stopped")
    return f"{line} (why stopped: {why})" if why else line


def _dates(change: Change) -> str:
    line = f"{change.kind}: {date_text(change.before)} \u2192 {date_text(change.after)}"
    delta = change.detail.get("delta_days")
    if delta is None:
        return line
    if delta == 0:
        return f"{line}, same date"
    return f"{line}, {_signed(delta)} days"


def _enrollment(change: Change) -> str:
    def form(value: dict[str, Any] | None) -> str:
        if value is None:
            return NONE
        return f"{value['count']} ({value['type']})" if value.get("type") else str(value["count"])

    return f"enrollment: {form(change.before)} \u2192 {form(change.after)}"


def _criteria(change: Change) -> str:
    parts = [f"{side} {_counts(change.detail[side])}" for side in ("inclusion", "exclusion")]
    items = change.detail.get("items") or []
    moved = sum(1 for e in items if e.get("op") == "moved")
    if moved:
        parts.append(f"{moved} moved")
    return "eligibility_criteria: " + "; ".join(parts)


def _field(change: Change) -> str:
    name = change.detail.get("field", "")
    return f"{change.kind}: {name} {value_text(change.before)} \u2192 {value_text(change.after)}"


def _outcome(change: Change) -> str:
    line = f"{change.kind}: {_counts(change.detail)}"
    moved = [f"{len(change.detail.get(k) or [])} {k}" for k in ("promoted", "demoted")]
    items = change.detail.get("items") or []
    moved += [f"{sum(e.get('op') == k for e in items)} {k}" for k in ("split", "merged")]
    moved = [m for m in moved if not m.startswith("0 ")]
    return f"{line}, {', '.join(moved)}" if moved else line


def _locations(change: Change) -> str:
    d = change.detail
    line = f"locations: +{len(d['added'])} {MINUS}{len(d['removed'])}"
    moved = len(d["status_changed"])
    if moved:
        line += f", {moved} site status change" + ("" if moved == 1 else "s")
    return line


def _names(values: list[Any]) -> str:
    return "; ".join(v["name"] if isinstance(v, dict) else str(v) for v in values)


def _added_removed(change: Change) -> str:
    d = change.detail
    line = f"{change.kind}: +{len(d['added'])} {MINUS}{len(d['removed'])}"
    if d.get("changed"):
        line += f" ~{len(d['changed'])}"
    shown = [f"added: {_names(d['added'])}"] if d["added"] else []
    shown += [f"removed: {_names(d['removed'])}"] if d["removed"] else []
    shown += [f"changed: {_names([new for _, new in d['changed']])}"] if d.get("changed") else []
    return f"{line} ({'; '.join(shown)})" if shown else line


def _sponsor(change: Change) -> str:
    if change.detail.get("field") == "collaborators":
        d = change.detail
        line = f"sponsor: collaborators +{len(d['added'])} {MINUS}{len(d['removed'])}"
        shown = [f"added: {'; '.join(d['added'])}"] if d["added"] else []
        shown += [f"removed: {'; '.join(d['removed'])}"] if d["removed"] else []
        return f"{line} ({'; '.join(shown)})"
    return _field(change)


def _plain(change: Change) -> str:
    return f"{change.kind}: {value_text(change.before)} \u2192 {value_text(change.after)}"


_RENDERERS: dict[str, Callable[[Change], str]] = {
    "status": _status,
    **{kind: _dates for kind in DATE_KINDS},
    "enrollment": _enrollment,
    "eligibility_criteria": _criteria,
    "eligibility": _field,
    "primary_outcome": _outcome,
    "secondary_outcome": _outcome,
    "locations": _locations,
    "sponsor": _sponsor,
    "phase": _plain,
    "title": _field,
    "conditions": _added_removed,
    "interventions": _added_removed,
}


def summary(change: Change) -> str:
    """One line such as "status: RECRUITING → COMPLETED"."""
    line = _RENDERERS.get(change.kind, _plain)(change)
    # Values from elsewhere (a stored change) may hold line breaks; a summary is one line.
    return " ".join(line.split())


def item_text(value: Any) -> str:
    if isinstance(value, list):  # the parts of a split or merged outcome
        return "; ".join(item_text(v) for v in value)
    text = value.get("measure", "") if isinstance(value, dict) else str(value)
    return " ".join(str(text).split())


def place_text(where: dict[str, Any]) -> str:
    """ "inclusion" or "inclusion / Cohort A" for an item's section and path."""
    return " / ".join([where.get("section", ""), *where.get("path", [])])


def _criteria_line(e: dict[str, Any]) -> str:
    grade = f" [{e.get('grade', 'major')}]"
    op = e.get("op")
    if op == "added":
        return f"+ {place_text(e)}: {item_text(e['text'])}{grade}"
    if op == "removed":
        return f"{MINUS} {place_text(e)}: {item_text(e['text'])}{grade}"
    if op == "changed":
        return f"~ {place_text(e)}: {item_text(e['before'])} \u2192 {item_text(e['after'])}{grade}"
    if op == "moved":
        where = f"{place_text(e['from'])} \u2192 {place_text(e['to'])}"
        text = item_text(e["after"])
        if e["before"] != e["after"]:
            text = f"{item_text(e['before'])} \u2192 {text}"
        return f"> moved {where}: {text}{grade}"
    # A renamed group heading.
    return f"~ group: {place_text(e['from'])} \u2192 {place_text(e['to'])}{grade}"


_OUTCOME_MARKS = {"added": "+", "removed": MINUS, "changed": "~"}


def _outcome_line(e: dict[str, Any]) -> str:
    grade = f" [{e.get('grade', 'major')}]"
    op = e.get("op", "")
    before, after = e.get("before"), e.get("after")
    if op in ("promoted", "demoted"):
        to = "primary" if op == "promoted" else "secondary"
        text = item_text(after)
        if before is not None and item_text(before) != text:
            text = f"{item_text(before)} \u2192 {text}"
        return f"{'^' if op == 'promoted' else 'v'} {op} to {to}: {text}{grade}"
    if op in ("split", "merged"):
        return f"~ {op}: {item_text(before)} \u2192 {item_text(after)}{grade}"
    if op == "changed":
        old, new = item_text(before), item_text(after)
        if old == new:  # the measure is the same: say which other field changed
            return f"~ {new} ({e.get('reason', 'reworded')}){grade}"
        return f"~ {old} \u2192 {new}{grade}"
    return f"{_OUTCOME_MARKS.get(op, '~')} {item_text(after if op == 'added' else before)}{grade}"


def details(change: Change) -> list[str]:
    """Item-level lines to show under a summary: criteria and outcomes added (+), removed
    (−), reworded (~ old → new), moved between groups or sections (>), promoted (^) or
    demoted (v), each with its grade. Other kinds say all in their summary."""
    items = change.detail.get("items")
    if change.kind == "eligibility_criteria" and items is not None:
        return [_criteria_line(e) for e in items]
    if change.kind in ("primary_outcome", "secondary_outcome") and items is not None:
        return [_outcome_line(e) for e in items]
    # Changes stored before items carried grades.
    if change.kind == "eligibility_criteria":
        sides = [
            (f"{side}: ", change.detail.get(side) or {}) for side in ("inclusion", "exclusion")
        ]
    elif change.kind in ("primary_outcome", "secondary_outcome"):
        sides = [("", change.detail)]
    else:
        return []
    lines: list[str] = []
    for label, d in sides:
        lines += [f"+ {label}{item_text(item)}" for item in d.get("added", [])]
        lines += [f"{MINUS} {label}{item_text(item)}" for item in d.get("removed", [])]
        lines += [
            f"~ {label}{item_text(old)} \u2192 {item_text(new)}"
            for old, new in d.get("changed", [])
        ]
    return lines
