"""One trial, many origins: the merged view.

Each origin keeps its own timeline. Where the registry holds the trial, its latest version
decides every field: a field it cleared is empty, and a site that disagrees is a discrepancy,
not a value. A site fills fields only for a trial the registry does not hold, each field from
the most trusted site whose latest version has it. The sites' order is configurable with
TRIALWATCH_SOURCE_PRIORITY ("veeva,centerwatch,...") or `priority = [...]` under `[merge]` in
the config file; sites not named come after the named ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from trialwatch.config import load_config
from trialwatch.record import FIELDS

from .models import Trial, TrialVersion
from .timeline import REGISTRY_ORIGIN

DEFAULT_PRIORITY: tuple[str, ...] = (
    REGISTRY_ORIGIN,
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
    """The registry first, then by priority; unknown origins after known ones."""
    rank = {name: i for i, name in enumerate(priority)}
    return sorted(
        versions,
        key=lambda v: (
            v.source != REGISTRY_ORIGIN,
            rank.get(v.source, len(rank)),
            v.source,
            -v.first_seen_at.timestamp(),
        ),
    )


def merged_view(
    versions: Sequence[TrialVersion], priority: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(merged record, {field: origin it came from}) over each origin's latest version."""
    order = ranked(versions, priority)
    if not order:
        return None
    top = order[0]
    # The registry, when it holds the trial, is the only source of the view.
    if top.source == REGISTRY_ORIGIN or len(order) == 1:
        return single_view(top.record, top.source)
    merged: dict[str, Any] = {name: top.record.get(name) for name in _OWN_FIELDS}
    origin: dict[str, str] = {}
    fillers = order
    for name in FIELDS:
        if name in _OWN_FIELDS:
            continue
        merged[name] = None
        for version in fillers:
            value = version.record.get(name)
            if value is not None:
                merged[name], origin[name] = value, version.source
                break
    return merged, origin


def single_view(record: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The merged view of a trial that one version (of origin ``source``) decides."""
    merged: dict[str, Any] = {name: record.get(name) for name in _OWN_FIELDS}
    origin: dict[str, str] = {}
    for name in FIELDS:
        if name in _OWN_FIELDS:
            continue
        value = merged[name] = record.get(name)
        if value is not None:
            origin[name] = source
    return merged, origin


def registry_version(versions: Sequence[TrialVersion]) -> TrialVersion | None:
    """The registry's latest version among each origin's latest, if the registry holds it."""
    for version in versions:
        if version.source == REGISTRY_ORIGIN:
            return version
    return None


def refresh_trial(
    session: Session, trial: Trial, versions: Sequence[TrialVersion], *, priority: Sequence[str]
) -> None:
    """Recompute the trial's merged current view from each origin's latest version."""
    view = merged_view(versions, priority)
    if view is None:
        return
    merged, origin = view
    trial.record = merged
    trial.record_source = versions_origin(merged, origin)
    trial.field_sources = origin
    trial.brief_title = merged.get("brief_title")
    trial.overall_status = merged.get("overall_status")
    trial.updated_at = max(trial.updated_at, max(v.last_seen_at for v in versions))
    session.add(trial)


def versions_origin(merged: dict[str, Any], origin: dict[str, str]) -> str:
    """The origin the view mostly came from: the registry when it holds the trial."""
    counts: dict[str, int] = {}
    for name in origin.values():
        counts[name] = counts.get(name, 0) + 1
    if not counts:
        return str(merged.get("source") or "")
    return REGISTRY_ORIGIN if REGISTRY_ORIGIN in counts else max(counts, key=lambda k: counts[k])
