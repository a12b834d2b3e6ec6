"""Real API v2 studies from tests/fixtures/ctgov (origins in tests/fixtures/SOURCES.md), used as
templates for the benchmark's trials, and the day-0 variation that makes each clone its own.

Size policy: a clone keeps its template's resultsSection only with probability RESULTS_SHARE
(results make a record 2-8 times larger), and the one template with 1,148 sites (369 KB) is drawn
at a tenth of the others' weight, so the average record lands near 18 KB, in the registry's
15-25 KB range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from random import Random
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "ctgov"

RESULTS_SHARE = 0.2  # of the clones whose template has results, the share that keep them
GIANT_BYTES = 200_000  # a template larger than this (without results) ...
GIANT_WEIGHT = 0.1  # ... is drawn at this weight (the others at 1)

# Statuses a trial can still move out of, and where each moves next (change kind "status").
NEXT_STATUS = {
    "NOT_YET_RECRUITING": "RECRUITING",
    "RECRUITING": "ACTIVE_NOT_RECRUITING",
    "ENROLLING_BY_INVITATION": "ACTIVE_NOT_RECRUITING",
    "ACTIVE_NOT_RECRUITING": "COMPLETED",
    "SUSPENDED": "RECRUITING",
    "UNKNOWN": "ACTIVE_NOT_RECRUITING",
}
OPEN_STATUSES = tuple(NEXT_STATUS)

_TITLE_SUFFIXES = (
    "",
    " in Adults",
    " in Older Adults",
    " in Children and Adolescents",
    " (Extension Study)",
    " - Long-term Follow-up",
    " in Treatment-naive Patients",
    " in Previously Treated Patients",
    ": A Multicentre Study",
    ": A Pilot Study",
    " in an Outpatient Setting",
    " (Dose Expansion Cohort)",
)
# Date fields of statusModule shifted together on day 0 (structs hold {"date", "type"}).
_DATE_STRUCTS = (
    "startDateStruct",
    "primaryCompletionDateStruct",
    "completionDateStruct",
    "studyFirstPostDateStruct",
)
_DATE_FIELDS = ("studyFirstSubmitDate", "studyFirstSubmitQcDate")


@dataclass(frozen=True)
class Template:
    name: str  # the fixture file it came from
    nct_id: str
    body: bytes  # compact JSON without resultsSection
    results: bytes | None  # the resultsSection as JSON, when the template has one
    weight: float


@dataclass
class Pools:
    """Values drawn from all templates: conditions and sites (to add one as a change)."""

    conditions: list[str] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)


def _studies_in(path: Path) -> Iterator[dict[str, Any]]:
    data = orjson.loads(path.read_bytes())
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        yield from (s for s in data["studies"] if isinstance(s, dict))
    elif isinstance(data, dict):
        yield data


def _whole(study: dict[str, Any]) -> bool:
    """A whole registry record: identification with an NCT id, and an overall status."""
    ps = study.get("protocolSection") or {}
    ident = ps.get("identificationModule") or {}
    status = ps.get("statusModule") or {}
    return bool(ident.get("nctId")) and bool(status.get("overallStatus"))


def load_templates(folder: Path = FIXTURES) -> tuple[list[Template], Pools]:
    """Every whole study in the fixture folder (one per NCT id, first file in name order)."""
    templates: list[Template] = []
    pools = Pools()
    seen_ids: set[str] = set()
    seen_sites: set[tuple[str, str, str]] = set()
    for path in sorted(folder.glob("*/*.json")):
        if path.name == "expected.json":
            continue
        for study in _studies_in(path):
            if not _whole(study):
                continue
            ps = study["protocolSection"]
            nct = ps["identificationModule"]["nctId"]
            if nct in seen_ids:
                continue
            seen_ids.add(nct)
            results = study.pop("resultsSection", None)
            study["hasResults"] = False
            body = orjson.dumps(study)
            weight = GIANT_WEIGHT if len(body) > GIANT_BYTES else 1.0
            templates.append(
                Template(path.name, nct, body, orjson.dumps(results) if results else None, weight)
            )
            for cond in (ps.get("conditionsModule") or {}).get("conditions") or []:
                if isinstance(cond, str) and cond not in pools.conditions:
                    pools.conditions.append(cond)
            for site in (ps.get("contactsLocationsModule") or {}).get("locations") or []:
                key = (site.get("facility"), site.get("city"), site.get("country"))
                if all(isinstance(k, str) for k in key) and key not in seen_sites:
                    seen_sites.add(key)
                    kept = ("facility", "city", "state", "zip", "country", "geoPoint")
                    pools.locations.append({k: site[k] for k in kept if k in site})
    if not templates:
        raise ValueError(f"{folder}: no whole API v2 study found to use as a template")
    return templates, pools


def nct_of(index: int) -> str:
    """The benchmark's NCT id for trial `index`: NCT9 and seven ASCII digits."""
    if not 0 <= index < 10_000_000:
        raise ValueError(f"trial index {index} out of range (0..9,999,999)")
    return f"NCT9{index:07d}"


def trial_rng(seed: int, *parts: object) -> Random:
    """A generator of its own for each (seed, trial, purpose): the same on every run."""
    text = ":".join(str(p) for p in (seed, *parts))
    return Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def shift_date(value: str, *, months: int = 0, days: int = 0) -> str:
    """A registry date (YYYY, YYYY-MM or YYYY-MM-DD) moved, its precision kept."""
    parts = value.split("-")
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else 1
    day = int(parts[2]) if len(parts) > 2 else 1
    total = year * 12 + (month - 1) + months
    year, month = divmod(total, 12)
    moved = date(year, month + 1, min(day, 28)) + timedelta(days=days)
    if len(parts) == 1:
        return f"{moved.year:04d}"
    if len(parts) == 2:
        return f"{moved.year:04d}-{moved.month:02d}"
    return moved.isoformat()


def make_trial(
    index: int, templates: list[Template], pools: Pools, *, seed: int, day0: date
) -> dict[str, Any]:
    """Trial `index` as it stands on day 0: a template with its own NCT id and varied title,
    enrollment, dates, status and conditions."""
    rng = trial_rng(seed, index, "make")
    tpl = rng.choices(templates, weights=[t.weight for t in templates])[0]
    study: dict[str, Any] = orjson.loads(tpl.body)
    if tpl.results is not None and rng.random() < RESULTS_SHARE:
        study["resultsSection"] = orjson.loads(tpl.results)
        study["hasResults"] = True
    ps = study["protocolSection"]
    ident = ps["identificationModule"]
    ident["nctId"] = nct_of(index)
    org = ident.get("orgStudyIdInfo")
    if isinstance(org, dict) and isinstance(org.get("id"), str):
        org["id"] = f"{org['id']}-{index}"
    for info in ident.get("secondaryIdInfos") or []:
        if isinstance(info, dict) and isinstance(info.get("id"), str):
            info["id"] = f"{info['id']}-{index}"
    suffix = rng.choice(_TITLE_SUFFIXES)
    for key in ("briefTitle", "officialTitle"):
        if isinstance(ident.get(key), str):
            ident[key] = ident[key] + suffix

    status = ps["statusModule"]
    if status.get("overallStatus") in NEXT_STATUS:
        status["overallStatus"] = rng.choice(OPEN_STATUSES)
    months = rng.randint(-24, 24)
    for key in _DATE_STRUCTS:
        struct = status.get(key)
        if isinstance(struct, dict) and isinstance(struct.get("date"), str):
            struct["date"] = shift_date(struct["date"], months=months)
    for key in _DATE_FIELDS:
        if isinstance(status.get(key), str):
            status[key] = shift_date(status[key], months=months)
    updated = (day0 - timedelta(days=rng.randint(1, 720))).isoformat()
    status["lastUpdateSubmitDate"] = updated
    status["lastUpdatePostDateStruct"] = {"date": updated, "type": "ACTUAL"}

    enrollment = (ps.get("designModule") or {}).get("enrollmentInfo")
    if isinstance(enrollment, dict) and isinstance(enrollment.get("count"), int):
        enrollment["count"] = max(1, round(enrollment["count"] * rng.uniform(0.5, 2.0)))
    conditions = ps.get("conditionsModule")
    if isinstance(conditions, dict) and pools.conditions:
        conditions["conditions"] = rng.sample(
            pools.conditions, min(len(pools.conditions), rng.randint(1, 3))
        )
    set_version_holder(study, day0)
    return study


def set_version_holder(study: dict[str, Any], day: date) -> None:
    """The registry's data-version date, which moves on every record every day."""
    derived = study.setdefault("derivedSection", {})
    derived.setdefault("miscInfoModule", {})["versionHolder"] = day.isoformat()
