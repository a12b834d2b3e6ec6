"""ClinicalTrials.gov record history: one version of a record, and the list of versions.

The history endpoint (`/api/int/studies/<NCT>/history/<n>`) answers
`{"studyVersion": n, "study": {...}}`, where `study` has the API v2 shape; only the
source slug and the registry's version number differ from a current record.
`/api/int/studies/<NCT>/history` answers the version list:
`{"changes": [{"version": 0, "date": "2020-02-20", "status": "...", "moduleLabels": [...]}]}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from datetime import date
from typing import Any

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import check_nct_id, load_json
from trialwatch.parsers.ctgov import record_from_study
from trialwatch.record import TrialRecord

SOURCE = "ctgov_history"
VERSION_URL = "https://clinicaltrials.gov/api/int/studies/{nct_id}/history/{version}"


# A record's versions are numbered from 0, one per posted edit; no record has a million.
MAX_VERSION = 999_999
_VERSION_TEXT = re.compile(r"[0-9]{1,6}\Z", re.ASCII)


def parse(body: bytes, url: str | None = None, *, complete: bool = False) -> TrialRecord:
    """A record-history version response -> TrialRecord (registry_version = studyVersion)."""
    return record_from_version(load_json(body), url, complete=complete)


def record_from_version(
    data: Any, url: str | None = None, *, complete: bool = False
) -> TrialRecord:
    if not isinstance(data, dict) or "studyVersion" not in data:
        raise ParseError("JSON is not a record-history version (no studyVersion)")
    number = version_number(data["studyVersion"])
    study = data.get("study")
    if not isinstance(study, dict) or "protocolSection" not in study:
        raise ParseError("record-history version has no study (no protocolSection)")
    if url is None:
        ps = study["protocolSection"]
        ident = ps.get("identificationModule") if isinstance(ps, dict) else None
        nct_id = check_nct_id(ident.get("nctId") if isinstance(ident, dict) else None)
        url = VERSION_URL.format(nct_id=nct_id, version=number)
    return record_from_study(
        study, url, source=SOURCE, registry_version=str(number), complete=complete
    )


def version_number(value: Any) -> int:
    """studyVersion: a whole number from 0 to MAX_VERSION (a JSON integer or its digits)."""
    if isinstance(value, str) and _VERSION_TEXT.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
        shown = repr(value) if len(repr(value)) <= 24 else repr(value)[:20] + "..."
        raise ParseError(f"studyVersion {shown} is not a version number")
    return value


# --- the version list (`/api/int/studies/<NCT>/history`) ---------------------------------

# The list's dates are plain days; anything else means the endpoint's format moved.
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class HistoryEntry:
    """One row of a record's version list: which version, when, and what it touched."""

    version: int
    date: str | None  # YYYY-MM-DD
    status: str | None  # the overall status the version carried
    module_labels: tuple[str, ...]  # the registry's names of the modules it changed


def parse_version_list(body: bytes, nct_id: str) -> list[HistoryEntry]:
    """The version list response -> its entries, sorted by version.

    The endpoint is undocumented, so its shape is checked strictly: anything unexpected raises
    ParseError (one line naming the trial). An empty ``changes`` list is valid: no history.
    """

    def shape(detail: str) -> ParseError:
        return ParseError(
            f"{nct_id}: the registry's history list has an unexpected shape ({detail}); "
            "the endpoint may have changed"
        )

    try:
        data = load_json(body)
    except ParseError as exc:
        raise shape(str(exc)) from None
    if not isinstance(data, dict):
        raise shape(f"top level is {type(data).__name__}, not an object")
    changes = data.get("changes")
    if not isinstance(changes, list):
        raise shape('no "changes" list')
    entries: dict[int, HistoryEntry] = {}
    for index, raw in enumerate(changes):
        if not isinstance(raw, dict):
            raise shape(f"entry {index} is not an object")
        version = raw.get("version")
        # bool is an int subclass: true/false is not a version number.
        if isinstance(version, bool) or not isinstance(version, int):
            raise shape(f'entry {index} has no integer "version"')
        if not 0 <= version <= MAX_VERSION:
            raise shape(f"entry {index} has version {version}, not from 0 to {MAX_VERSION:,}")
        if version in entries:
            raise shape(f"version {version} is listed twice")
        entries[version] = HistoryEntry(
            version=version,
            date=_entry_date(raw.get("date"), index, shape),
            status=_entry_status(raw.get("status"), index, shape),
            module_labels=_entry_labels(raw.get("moduleLabels"), index, shape),
        )
    return [entries[v] for v in sorted(entries)]


def _entry_date(value: Any, index: int, shape: Callable[[str], ParseError]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and _DAY_RE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise shape(f"entry {index} has date {value!r}, not YYYY-MM-DD")


def _entry_status(value: Any, index: int, shape: Callable[[str], ParseError]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise shape(f"entry {index} has status {value!r}, not a word")
    return value.strip()


def _entry_labels(value: Any, index: int, shape: Callable[[str], ParseError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise shape(f'entry {index} has "moduleLabels" that is not a list of names')
    return tuple(v.strip() for v in value if v.strip())


def wanted_versions(
    entries: Sequence[HistoryEntry], *, have: Set[int], modules: Sequence[str] | None
) -> list[int]:
    """The versions to fetch: every listed one, or with ``modules`` the first version (the
    baseline the others change) plus those that touched one of the named modules (any case);
    either way minus those already held (``have``)."""
    ordered = sorted(entries, key=lambda e: e.version)
    if modules is None:
        chosen = [e.version for e in ordered]
    else:
        names = {m.strip().casefold() for m in modules}
        chosen = [
            e.version
            for i, e in enumerate(ordered)
            if i == 0 or any(label.casefold() in names for label in e.module_labels)
        ]
    return [v for v in chosen if v not in have]
