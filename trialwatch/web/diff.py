"""Two versions of one trial side by side: the typed changes ``compare`` finds between them,
every list (criteria, outcomes, sites, names) item by item, each changed item with its
word-level marks, grade and reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from trialwatch.diffing.changes import DATE_KINDS, Change, compare
from trialwatch.diffing.render import NONE, date_text, item_text, place_text, summary, value_text
from trialwatch.display import status_words
from trialwatch.registry.models import TrialVersion
from trialwatch.registry.queries import find_trial
from trialwatch.registry.timeline import record_of
from trialwatch.web.data import versions
from trialwatch.web.marks import word_marks
from trialwatch.web.models import DiffItem, DiffView, FieldDiff
from trialwatch.web.record_view import intervention_text, outcome_text, site_line, site_text

ITEM_KINDS = ("eligibility_criteria", "primary_outcome", "secondary_outcome")
# What one item of each list is called, singular and plural.
NOUNS = {
    "eligibility_criteria": ("criterion", "criteria"),
    "primary_outcome": ("outcome", "outcomes"),
    "secondary_outcome": ("outcome", "outcomes"),
    "locations": ("site", "sites"),
    "sponsor": ("collaborator", "collaborators"),
    "conditions": ("condition", "conditions"),
    "interventions": ("intervention", "interventions"),
}
FOLD = 10  # a group of more items than this is folded behind its count
OP_WORDS = {
    "added": "added",
    "removed": "removed",
    "changed": "changed",
    "status": "changed status",
    "moved": "moved",
    "renamed": "renamed",
    "promoted": "promoted",
    "demoted": "demoted",
    "split": "split",
    "merged": "merged",
}


class ItemGroup(BaseModel):
    """The items of one change with one op, folded when there are many."""

    op: str
    label: str
    items: list[DiffItem]
    folded: bool


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
    following = [r for r in rows if r.previous_id == b]
    return DiffView(
        nct_id=trial.nct_id,
        a=by_id[a],
        b=by_id[b],
        previous=by_id.get(by_id[a].previous_id or -1),
        following=following[0] if following else None,
        changes=[field_diff(c) for c in found],
    )


def field_diff(change: Change) -> FieldDiff:
    reason = str(change.detail.get("reason") or "")
    d = change.detail
    if change.kind in ITEM_KINDS and d.get("items") is not None:
        items = [_item_row(change.kind, e) for e in d["items"]]
    elif change.kind == "locations":
        items = _site_rows(d, change.grade)
    elif change.kind in NOUNS and ("added" in d or "removed" in d):
        items = _name_rows(change.kind, d, change.grade)
    else:
        items = [
            _marked(
                DiffItem(
                    op="changed",
                    where=str(d.get("field") or change.kind),
                    before=_shown(change.kind, change.before),
                    after=_shown(change.kind, change.after),
                    grade=change.grade,
                    reason=reason,
                )
            )
        ]
    return FieldDiff(
        kind=change.kind, grade=change.grade, reason=reason, summary=summary(change), items=items
    )


def item_groups(field: FieldDiff) -> list[ItemGroup]:
    """The change's items grouped by op (in the order first met), long groups folded."""
    noun, nouns = NOUNS.get(field.kind, ("item", "items"))
    by_op: dict[str, list[DiffItem]] = {}
    for item in field.items:
        by_op.setdefault(item.op, []).append(item)
    return [
        ItemGroup(
            op=op,
            label=f"{len(items):,} {noun if len(items) == 1 else nouns} {OP_WORDS.get(op, op)}",
            items=items,
            folded=len(items) > FOLD,
        )
        for op, items in by_op.items()
    ]


def _marked(item: DiffItem) -> DiffItem:
    item.marks = word_marks(item.before, item.after)
    return item


def _shown(kind: str, value: Any) -> str:
    """A whole value as text, the way `trialwatch changes` writes it."""
    if kind in DATE_KINDS:
        return date_text(value)
    if kind == "status":
        return status_words(value)
    if kind == "enrollment" and isinstance(value, dict):
        return f"{value.get('count')} ({value['type']})" if value.get("type") else str(value)
    if kind == "interventions" and isinstance(value, list):
        return "; ".join(intervention_text(v) for v in value) or NONE
    return value_text(value)


def _one_sided(d: dict[str, Any], grade: str, show: Callable[[Any], str]) -> list[DiffItem]:
    """A row for each item added (only after) and each removed (only before)."""
    rows = [
        DiffItem(op="added", where="", before="", after=show(v), grade=grade, reason="")
        for v in d.get("added") or []
    ]
    rows += [
        DiffItem(op="removed", where="", before=show(v), after="", grade=grade, reason="")
        for v in d.get("removed") or []
    ]
    return rows


def _site_rows(d: dict[str, Any], grade: str) -> list[DiffItem]:
    rows = _one_sided(d, grade, site_text)
    rows += [
        DiffItem(
            op="status",
            where=site_line(e.get("site")),
            before=status_words(e.get("before")),
            after=status_words(e.get("after")),
            grade=grade,
            reason="site status changed",
        )
        for e in d.get("status_changed") or []
    ]
    return rows


def _name_rows(kind: str, d: dict[str, Any], grade: str) -> list[DiffItem]:
    show = intervention_text if kind == "interventions" else item_text
    rows = _one_sided(d, grade, show)
    rows += [
        _marked(
            DiffItem(
                op="changed", where="", before=show(old), after=show(new), grade=grade, reason=""
            )
        )
        for old, new in d.get("changed") or []
    ]
    return rows


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
        show = item_text
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
        show = outcome_text
    return _marked(
        DiffItem(
            op=op,
            where=where,
            before=show(before) if before is not None else "",
            after=show(after) if after is not None else "",
            grade=str(e.get("grade") or "major"),
            reason=str(e.get("reason") or ""),
        )
    )
