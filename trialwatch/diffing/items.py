"""Item-level matching of two lists: what was added, removed, or reworded.

Used for criteria (strings) and outcomes (dicts keyed by measure). Matching runs in three
passes so that a reworded item shows as one ``changed`` pair rather than a removal plus an
addition:

1. identical items pair up (as a multiset, so order never matters);
2. items with the same key (e.g. the same outcome measure) pair up as changed;
3. the rest pair up by text similarity (difflib ratio at or above ``threshold``), best first.

Whatever is left is added or removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Below this ratio two items are different items, not one item reworded. 0.6 is difflib's own
# "close match" default; rewordings of one criterion score well above it.
DEFAULT_THRESHOLD = 0.6


@dataclass
class ItemDiff(Generic[T]):
    added: list[T] = field(default_factory=list)
    removed: list[T] = field(default_factory=list)
    changed: list[tuple[T, T]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_detail(self) -> dict[str, list[Any]]:
        """JSON-able form: {"added": [...], "removed": [...], "changed": [[old, new], ...]}."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [[old, new] for old, new in self.changed],
        }


def _identity(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


# Characters before x characters after: beyond it, the ratio's time (which grows with their
# product) is not spent; its upper bound from the letters alone stands in.
LONG = 4_000_000


def similarity(a: str, b: str, floor: float = 0.0) -> float:
    """difflib ratio of two texts (0..1); autojunk off so long criteria compare fairly. Below
    ``floor`` an upper bound of it may be given instead: it is cheap, and just as far off."""
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if floor and (matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor):
        return matcher.quick_ratio()
    return matcher.quick_ratio() if len(a) * len(b) > LONG else matcher.ratio()


def match_items(
    old: Sequence[T],
    new: Sequence[T],
    *,
    key: Callable[[T], Any] | None = None,
    text: Callable[[T], str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    fuzzy: bool = True,
) -> ItemDiff[T]:
    """Pair the items of ``old`` with those of ``new``; see the module docstring.

    ``key`` names an item's identity (pass 2; skipped when None); ``text`` gives the string
    compared for similarity (pass 3; defaults to ``str(item)``; skipped when ``fuzzy`` is
    False, for items whose key is their whole identity).
    """
    text_of = text or str
    old_left = list(range(len(old)))
    new_left = list(range(len(new)))
    pairs: list[tuple[int, int]] = []

    # Pass 1: identical items.
    unmatched_new: dict[str, list[int]] = {}
    for j in new_left:
        unmatched_new.setdefault(_identity(new[j]), []).append(j)
    still_old = []
    for i in old_left:
        slots = unmatched_new.get(_identity(old[i]))
        if slots:
            slots.pop(0)
        else:
            still_old.append(i)
    old_left = still_old
    new_left = sorted(j for slots in unmatched_new.values() for j in slots)

    # Pass 2: same key, different content.
    if key is not None:
        still_old = []
        for i in old_left:
            hit = next((j for j in new_left if key(new[j]) == key(old[i])), None)
            if hit is None:
                still_old.append(i)
            else:
                pairs.append((i, hit))
                new_left.remove(hit)
        old_left = still_old

    # Pass 3: most similar first, each item used once.
    scored: list[tuple[float, int, int]] = []
    for i in old_left if fuzzy else []:
        a = text_of(old[i])
        for j in new_left:
            b = text_of(new[j])
            matcher = SequenceMatcher(None, a, b, autojunk=False)
            # Cheap upper bounds first: most pairs are far apart.
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            ratio = matcher.quick_ratio() if len(a) * len(b) > LONG else matcher.ratio()
            if ratio >= threshold:
                scored.append((-ratio, i, j))
    used_old: set[int] = set()
    used_new: set[int] = set()
    for _, i, j in sorted(scored):
        if i not in used_old and j not in used_new:
            pairs.append((i, j))
            used_old.add(i)
            used_new.add(j)

    return ItemDiff(
        added=[new[j] for j in new_left if j not in used_new],
        removed=[old[i] for i in old_left if i not in used_old],
        changed=[(old[i], new[j]) for i, j in sorted(pairs)],
    )
