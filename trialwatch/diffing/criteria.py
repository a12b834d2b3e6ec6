"""Compare two criteria trees item by item, within their groups, and grade each edit.

An item is (section, path, text). Matching, in order:

1. groups: a group (section + path) present on both sides is the same group; a group that
   vanished pairs with a new group of the same section and depth whose heading reads the
   same or nearly so (a renamed cohort), and the rename is an edit of its own;
2. identical items in the same group: no change;
3. the same text in another group or section: moved (major);
4. within a group, the most similar items pair up: reworded (graded by ``grade_text``);
5. across groups, near-identical items: moved and reworded (major);
6. what is left was added or removed (major).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from trialwatch.diffing.canonical import Item
from trialwatch.diffing.grading import (
    EDITORIAL,
    MAJOR,
    grade_text,
    max_grade,
    tokens,
)
from trialwatch.diffing.items import DEFAULT_THRESHOLD, match_items, similarity
from trialwatch.diffing.wordforms import abbreviated

Group = tuple[str, tuple[str, ...]]
# Near-identical: a moved item may also have been touched up on the way.
MOVE_THRESHOLD = 0.85


def _where(group: Group) -> dict[str, Any]:
    return {"section": group[0], "path": list(group[1])}


def _place(group: Group) -> str:
    return " / ".join([group[0], *group[1]])


def _group_map(old: list[Item], new: list[Item]) -> dict[Group, Group]:
    """Old group -> new group: kept groups map to themselves, renamed ones to their heir."""
    old_groups = {(s, p) for s, p, _ in old}
    new_groups = {(s, p) for s, p, _ in new}
    mapping = {g: g for g in old_groups & new_groups}
    gone = sorted(old_groups - new_groups)
    came = sorted(new_groups - old_groups)
    texts_old: dict[Group, Counter[str]] = {}
    texts_new: dict[Group, Counter[str]] = {}
    for items, texts in ((old, texts_old), (new, texts_new)):
        for s, p, t in items:
            texts.setdefault((s, p), Counter())[t] += 1
    scored = []
    for g in gone:
        for h in came:
            if g[0] != h[0] or len(g[1]) != len(h[1]) or not g[1]:
                continue
            score = max(_label_score(g, h), _overlap(texts_old[g], texts_new[h]))
            if score >= DEFAULT_THRESHOLD:
                scored.append((-score, g, h))
    used: set[Group] = set()
    for _, g, h in sorted(scored):
        if g not in mapping and h not in used:
            mapping[g] = h
            used.add(h)
    return mapping


def _label_score(g: Group, h: Group) -> float:
    """How alike two group headings read: 1 when one's words contain the other's."""
    a, b = tokens(" ".join(g[1])), tokens(" ".join(h[1]))
    if not (Counter(a) - Counter(b)) or not (Counter(b) - Counter(a)):
        return 1.0
    return similarity(" ".join(a), " ".join(b))


def _overlap(a: Counter[str], b: Counter[str]) -> float:
    """The share of items two groups hold in common: a renamed group keeps its items."""
    return sum((a & b).values()) / max(sum(a.values()), sum(b.values()), 1)


def compare_criteria(old: list[Item], new: list[Item]) -> list[dict[str, Any]]:
    """Item-level edits, each a dict with "op" (added, removed, changed, moved, renamed),
    where it sits, the texts, "grade" and "reason"."""
    mapping = _group_map(old, new)
    edits: list[dict[str, Any]] = []
    for g, h in sorted(mapping.items()):
        if g != h:
            grade, reason = grade_text(" / ".join(g[1]), " / ".join(h[1]), "group heading")
            edits.append(
                {
                    "op": "renamed",
                    "from": _where(g),
                    "to": _where(h),
                    "grade": grade,
                    "reason": reason,
                }
            )
    # Old items seen through the group map; items of a group that vanished keep their place.
    left_old = Counter((mapping.get((s, p), (s, p)), t) for s, p, t in old)
    left_new = Counter(((s, p), t) for s, p, t in new)
    same = left_old & left_new
    left_old -= same
    left_new -= same
    # 3. The same text elsewhere: moved.
    by_text: dict[str, list[Group]] = {}
    for (group, text), n in sorted(left_new.items()):
        by_text.setdefault(text, []).extend([group] * n)
    for (group, text), n in sorted(left_old.items()):
        for _ in range(n):
            targets = by_text.get(text)
            if not targets:
                break
            target = targets.pop(0)
            left_old[(group, text)] -= 1
            left_new[(target, text)] -= 1
            edits.append(_moved(group, target, text, text))
    left_old, left_new = +left_old, +left_new
    # 4. Reworded within a group.
    removed: list[tuple[Group, str]] = []
    added: list[tuple[Group, str]] = []
    for group in sorted({g for g, _ in left_old} | {g for g, _ in left_new}):
        olds = sorted(t for (g, t), n in left_old.items() if g == group for _ in range(n))
        news = sorted(t for (g, t), n in left_new.items() if g == group for _ in range(n))
        diff = match_items(olds, news, text=folded)
        diff.changed += _contained(diff.removed, diff.added)
        for before, after in diff.changed:
            grade, reason = grade_text(before, after, f"{group[0]} item")
            edits.append(
                {
                    "op": "changed",
                    **_where(group),
                    "before": before,
                    "after": after,
                    "grade": grade,
                    "reason": reason,
                }
            )
        removed += [(group, t) for t in diff.removed]
        added += [(group, t) for t in diff.added]
    # 5. Near-identical across groups: moved and reworded.
    pairs = sorted(
        (-similarity(folded(a), folded(b)), i, j)
        for i, (g, a) in enumerate(removed)
        for j, (h, b) in enumerate(added)
        if g != h and similarity(folded(a), folded(b)) >= MOVE_THRESHOLD
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    for _, i, j in pairs:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            edits.append(_moved(removed[i][0], added[j][0], removed[i][1], added[j][1]))
    # 6. Added and removed.
    for j, (group, text) in enumerate(added):
        if j not in used_new:
            edits.append(_edit("added", group, text, f"{group[0]} item added"))
    for i, (group, text) in enumerate(removed):
        if i not in used_old:
            edits.append(_edit("removed", group, text, f"{group[0]} item removed"))
    return _restructured(old, new, edits)


def _flat(items: list[Item], section: str) -> list[str]:
    """A section read top to bottom as printed: each group heading where its group starts
    (unless it is the item just read: "At least one of the following:"), then each item."""
    seq: list[str] = []
    path: tuple[str, ...] = ()
    last = ""
    for s, p, t in items:
        if s != section:
            continue
        shared = next(
            (i for i, (a, b) in enumerate(zip(path, p, strict=False)) if a != b),
            min(len(path), len(p)),
        )
        for label in p[shared:]:
            if folded(label) != last:
                seq.append(folded(label))
        last = folded(t)
        seq.append(last)
        path = p
    return seq


def _restructured(
    old: list[Item], new: list[Item], edits: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Edits of a section that reads the same words in the same order, top to bottom, are
    structure only (nested, split, joined, renumbered): editorial, whatever moved."""
    flat = {s: (_flat(old, s), _flat(new, s)) for s in ("inclusion", "exclusion")}
    same = {s for s, (a, b) in flat.items() if " ".join(a).split() == " ".join(b).split()}
    for e in edits:
        sections = {e[k]["section"] for k in ("from", "to")} if "from" in e else {e["section"]}
        if e["grade"] == EDITORIAL:
            continue
        if sections <= same:
            e["grade"] = EDITORIAL
            e["reason"] = f"structure only, the same words in the same order ({e['reason']})"
        elif e["op"] == "moved" and _nested_in_place(e, *flat[e["from"]["section"]]):
            e["grade"] = EDITORIAL
            e["reason"] = f"nesting only, in the same place ({e['reason']})"
    return edits


def _nested_in_place(e: dict[str, Any], old: list[str], new: list[str]) -> bool:
    """An item moved into or out of a sub-list (one place's path holds the other's) that
    still follows what it followed: its nesting changed, not its place, whatever else the
    section's other edits did."""
    source, target = e["from"], e["to"]
    if source["section"] != target["section"] or folded(e["before"]) != folded(e["after"]):
        return False
    a, b = source["path"], target["path"]
    if a[: len(b)] != b and b[: len(a)] != a:
        return False
    text = folded(e["before"])
    if text not in old or text not in new:
        return False
    i, j = old.index(text), new.index(text)
    return i > 0 and j > 0 and old[i - 1] == new[j - 1]


def _contained(removed: list[str], added: list[str]) -> list[tuple[str, str]]:
    """Pairs of a removed and an added item where one holds every word of the other (two
    words at least), its abbreviations spelled out counting as held: "LVEF < 30%" and "Left
    ventricular ejection fraction < 30%", "AST and ALT ≥ 2.5 x ULN" and "Aspartate
    aminotransferase (AST) and ...", are one item reworded however far apart the two texts
    read. Taken out of both lists."""
    pairs = []
    for a in list(removed):
        for b in added:
            small, big = sorted((tokens(a), tokens(b)), key=len)
            left = Counter(small) - Counter(big)
            if len(small) >= 2 and all(abbreviated(w, big) for w in left):
                pairs.append((a, b))
                removed.remove(a)
                added.remove(b)
                break
    return pairs


def folded(text: str) -> str:
    """The text as compared for similarity: folded tokens, so case and spelling count less."""
    return " ".join(tokens(text))


def _edit(op: str, group: Group, text: str, reason: str) -> dict[str, Any]:
    return {"op": op, **_where(group), "text": text, "grade": MAJOR, "reason": reason}


def _moved(source: Group, target: Group, before: str, after: str) -> dict[str, Any]:
    if source[0] != target[0]:
        reason = f"moved from {source[0]} to {target[0]}"
    else:
        reason = f"moved from '{_place(source)}' to '{_place(target)}'"
    if before != after:
        reason += ", reworded"
    return {
        "op": "moved",
        "from": _where(source),
        "to": _where(target),
        "before": before,
        "after": after,
        "grade": MAJOR,
        "reason": reason,
    }


def highest(edits: list[dict[str, Any]]) -> tuple[str, str]:
    """The change's grade and reason: its highest-graded edit's, with a count of the rest."""
    if not edits:
        return EDITORIAL, "no item changed"
    grade = max_grade(*(e["grade"] for e in edits))
    first = next(e for e in edits if e["grade"] == grade)
    more = len(edits) - 1
    reason = first["reason"] + (f" (and {more} more edit{'s' if more > 1 else ''})" if more else "")
    return grade, reason
