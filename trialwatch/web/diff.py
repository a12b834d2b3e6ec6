"""Two versions of one trial side by side: the typed changes ``compare`` finds between them,
criteria and outcomes item by item, each item with its grade and reason."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from trialwatch.diffing.changes import DATE_KINDS, Change, compare
from trialwatch.diffing.render import NONE, date_text, item_text, place_text, summary, value_text
from trialwatch.registry.models import TrialVersion
from trialwatch.registry.queries import find_trial
from trialwatch.registry.timeline import record_of
from trialwatch.web.data import versions
from trialwatch.web.models import DiffItem, DiffView, FieldDiff

ITEM_KINDS = ("eligibility_criteria", "primary_outcome", "secondary_outcome")


def version_diff(session: Session, nct_id: str, a: int, b: int) -> DiffView | None:
    """The changes from version ``a`` to version ``b`` of the trial; None when the trial is
    not held or either id is not one of its versions."""
    trial = find_trial(session, nct_id)
    rows = versions(session, nct_id)
    if trial is None or rows is None:
        return None
    by_id = {row.version_id: row for row in rows}
    old, new = session.get(TrialVersion, a), session.get(TrialVersion, b)
    if old is None or new is None or a not in by_id or b not in by_id:
        return None
    found = compare(record_of(old), record_of(new))
    return DiffView(
        nct_id=trial.nct_id, a=by_id[a], b=by_id[b], changes=[field_diff(c) for c in found]
    )


def field_diff(change: Change) -> FieldDiff:
    reason = str(change.detail.get("reason") or "")
    if change.kind in ITEM_KINDS and change.detail.get("items") is not None:
        items = [_item_row(change.kind, e) for e in change.detail["items"]]
    else:
        items = [
            DiffItem(
                op="changed",
                where=str(change.detail.get("field") or change.kind),
                before=_shown(change.kind, change.before),
                after=_shown(change.kind, change.after),
                grade=change.grade,
                reason=reason,
            )
        ]
    return FieldDiff(
        kind=change.kind, grade=change.grade, reason=reason, summary=summary(change), items=items
    )


def _shown(kind: str, value: Any) -> str:
    """A whole value as text, the way `trialwatch changes` writes it."""
    if kind in DATE_KINDS:
        return date_text(value)
    if kind == "enrollment" and isinstance(value, dict):
        return f"{value.get('count')} ({value['type']})" if value.get("type") else str(value)
    if kind == "locations" and isinstance(value, list):
        return "; ".join(_site(v) for v in value) or NONE
    if kind == "interventions" and isinstance(value, list):
        return "; ".join(
            item_text(v.get("name", "")) if isinstance(v, dict) else str(v) for v in value
        )
    return value_text(value)


def _site(location: Any) -> str:
    if not isinstance(location, dict):
        return str(location)
    place = ", ".join(str(location[k]) for k in ("facility", "city", "country") if location.get(k))
    status = location.get("status")
    return f"{place} ({status})" if status else place


def _item_row(kind: str, e: dict[str, Any]) -> DiffItem:
    """One item edit: its place, its text before and after (empty where it did not exist)."""
    op = str(e.get("op", ""))
    before: Any = e.get("before")
    after: Any = e.get("after")
    if kind == "eligibility_criteria":
        if op in ("added", "removed"):
            before, after = (None, e.get("text")) if op == "added" else (e.get("text"), None)
        if op in ("moved", "renamed"):
            where = f"{place_text(e['from'])} \u2192 {place_text(e['to'])}"
        else:
            where = place_text(e)
    else:
        where = {
            "promoted": "secondary \u2192 primary",
            "demoted": "primary \u2192 secondary",
            "split": "split",
            "merged": "merged",
        }.get(op, "")
        if op == "added":
            before = None
        if op == "removed":
            after = None
    return DiffItem(
        op=op,
        where=where,
        before=item_text(before) if before is not None else "",
        after=item_text(after) if after is not None else "",
        grade=str(e.get("grade") or "major"),
        reason=str(e.get("reason") or ""),
    )
