"""A trial's integrity findings as its page shows them: those that hold today, each with the
versions that show it and links to where the page shows those versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session

from trialwatch.kinds import FINDING_TITLES
from trialwatch.registry.findings import stored_findings
from trialwatch.registry.models import Finding
from trialwatch.web.models import FindingVersion, FindingView, VersionRow


def trial_findings(
    session: Session, nct_id: str, rows: Sequence[VersionRow], on: date | None = None
) -> list[FindingView]:
    """The trial's findings that hold on ``on`` (today, UTC), by date; ``rows``: its
    versions, as the page lists them."""
    day = on or datetime.now(UTC).date()
    by_id = {row.version_id: row for row in rows}
    found = stored_findings(session, on=day, nct_ids=[nct_id])
    return [finding_view(nct_id, f, by_id) for f in found]


def link(nct_id: str, page: str, a: int, b: int) -> str:
    """The URL of the trial's diff or compare page of versions ``a`` and ``b``."""
    return f"/trials/{nct_id}/{page}?{urlencode({'a': a, 'b': b})}"


def finding_view(nct_id: str, finding: Finding, rows: dict[int, VersionRow]) -> FindingView:
    """The finding with the versions it names (each once) and their links: a version's whole
    record beside the one before it; the changes between the two versions it names."""
    versions: dict[int, FindingVersion] = {}
    for version_id, registry_date in _named(finding):
        if version_id in versions:
            continue
        row = rows.get(version_id)
        versions[version_id] = FindingVersion(
            version_id=version_id,
            label=row.label if row else f"#{version_id}",
            registry_date=registry_date or (row.valid_from or "" if row else ""),
            url=link(nct_id, "compare", row.previous_id or version_id, version_id) if row else None,
        )
    held = [v for v in versions if v in rows]
    both = len(versions) == 2 and len(held) == 2
    return FindingView(
        kind=finding.kind,
        title=FINDING_TITLES.get(finding.kind, finding.kind),
        grade=finding.grade,
        since=finding.since,
        text=finding.text,
        versions=list(versions.values()),
        diff_url=link(nct_id, "diff", held[0], held[1]) if both else None,
        detail=finding.detail if isinstance(finding.detail, dict) else {},
    )


def _named(finding: Finding) -> list[tuple[int, str]]:
    """(version id, registry date) as the finding names them; what is not an id is left out."""
    ids: Any = finding.version_ids if isinstance(finding.version_ids, list) else []
    dates: Any = finding.registry_dates if isinstance(finding.registry_dates, list) else []
    return [
        (v, str(dates[i]) if i < len(dates) and dates[i] is not None else "")
        for i, v in enumerate(ids)
        if isinstance(v, int) and not isinstance(v, bool)
    ]
