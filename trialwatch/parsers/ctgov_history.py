"""ClinicalTrials.gov record history: one version of a record.

The history endpoint (`/api/int/studies/<NCT>/history/<n>`) answers
`{"studyVersion": n, "study": {...}}`, where `study` has the API v2 shape; only the
source slug and the registry's version number differ from a current record.
"""

from __future__ import annotations

from typing import Any

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import check_nct_id, load_json
from trialwatch.parsers.ctgov import record_from_study
from trialwatch.record import TrialRecord

SOURCE = "ctgov_history"
VERSION_URL = "https://clinicaltrials.gov/api/int/studies/{nct_id}/history/{version}"


def parse(body: bytes, url: str | None = None) -> TrialRecord:
    """A record-history version response -> TrialRecord (registry_version = studyVersion)."""
    return record_from_version(load_json(body), url)


def record_from_version(data: Any, url: str | None = None) -> TrialRecord:
    if not isinstance(data, dict) or "studyVersion" not in data:
        raise ParseError("JSON is not a record-history version (no studyVersion)")
    version = data["studyVersion"]
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise ParseError(f"studyVersion {version!r} is not a version number")
    version_text = str(version).strip()
    if not version_text.isdigit():
        raise ParseError(f"studyVersion {version!r} is not a version number")
    study = data.get("study")
    if not isinstance(study, dict) or "protocolSection" not in study:
        raise ParseError("record-history version has no study (no protocolSection)")
    if url is None:
        ident = study["protocolSection"].get("identificationModule") or {}
        nct_id = check_nct_id(ident.get("nctId") if isinstance(ident, dict) else None)
        url = VERSION_URL.format(nct_id=nct_id, version=int(version_text))
    return record_from_study(study, url, source=SOURCE, registry_version=str(int(version_text)))
