"""One trial, many sources: which source is trusted for what, and the merged view.

Each source keeps its own versions; the merged view takes each field from the most trusted
source whose latest version has it (the registry first). The order is configurable with
TRIALWATCH_SOURCE_PRIORITY ("ctgov,veeva,...") or `priority = [...]` under `[merge]` in the
config file; sources not named come after the named ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from trialwatch.config import load_config
from trialwatch.record import FIELDS

from .models import TrialVersion

REGISTRY_SOURCES: tuple[str, ...] = ("ctgov", "ctgov_history", "ctgov_classic")
DEFAULT_PRIORITY: tuple[str, ...] = (
    *REGISTRY_SOURCES,
    "veeva",
    "clinicaltrialexchange",
    "centerwatch",
    "trialpage",
)
# Per-version facts, not trial facts: they come with the chosen source, never mixed.
_OWN_FIELDS = ("source", "source_url", "registry_version")


def source_priority() -> tuple[str, ...]:
    """The configured trust order (environment, then config file, then the default)."""
    named = os.environ.get("TRIALWATCH_SOURCE_PRIORITY")
    if named:
        order = [s.strip() for s in named.split(",") if s.strip()]
    else:
        merge = load_config().get("merge")
        order = list(merge.get("priority") or []) if isinstance(merge, dict) else []
    if not order:
        return DEFAULT_PRIORITY
    return tuple(dict.fromkeys([*order, *DEFAULT_PRIORITY]))


def ranked(versions: Sequence[TrialVersion], priority: Sequence[str]) -> list[TrialVersion]:
    """Most trusted first; unknown sources after known ones; newest first within a rank."""
    rank = {name: i for i, name in enumerate(priority)}
    return sorted(
        versions,
        key=lambda v: (rank.get(v.source, len(rank)), v.source, -v.first_seen_at.timestamp()),
    )


def merged_view(
    versions: Sequence[TrialVersion], priority: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(merged record, {field: source it came from}) over each source's latest version."""
    order = ranked(versions, priority)
    if not order:
        return None
    top = order[0]
    merged: dict[str, Any] = {name: top.record.get(name) for name in _OWN_FIELDS}
    origin: dict[str, str] = {}
    for name in FIELDS:
        if name in _OWN_FIELDS:
            continue
        merged[name] = None
        for version in order:
            value = version.record.get(name)
            if value is not None:
                merged[name], origin[name] = value, version.source
                break
    return merged, origin


def registry_version(versions: Sequence[TrialVersion]) -> TrialVersion | None:
    """The registry's own latest version, if any source of it is held."""
    for name in REGISTRY_SOURCES:
        for version in versions:
            if version.source == name:
                return version
    return None
