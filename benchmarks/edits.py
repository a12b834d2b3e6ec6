"""The registry edits injected on later days. Each edit is named by the one change kind
trialwatch must report for it (trialwatch/kinds.py), and touches only its own field plus the
registry's last-update dates, which trialwatch's canonical form leaves out."""

from __future__ import annotations

import re
from datetime import date
from random import Random
from typing import Any

from benchmarks.templates import NEXT_STATUS, Pools, shift_date

# Edit name == the change kind it must produce.
EDITS: tuple[str, ...] = ("status", "completion_date", "eligibility_criteria", "locations")
DESCRIPTIONS = {
    "status": "overall status moves on",
    "completion_date": "completion date slips",
    "eligibility_criteria": "an eligibility criterion is reworded",
    "locations": "a site is added",
}
_ITEM_RE = re.compile(r"^(\s*)([*\-•]|\d{1,3}[.)])\s+(\S.*?)\s*$")
_CLAUSES = (
    " as judged by the investigator",
    " at the time of screening",
    " according to local guidelines",
    " within the 12 months before enrolment",
    " confirmed by the central laboratory",
    " documented in the medical record",
)


def _status(study: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = study["protocolSection"]["statusModule"]
    return status


def applicable(study: dict[str, Any]) -> list[str]:
    """The edits that make sense for this study as it stands."""
    ps = study["protocolSection"]
    status = _status(study)
    found = []
    if status.get("overallStatus") in NEXT_STATUS:
        found.append("status")
    completion = status.get("completionDateStruct")
    if isinstance(completion, dict) and isinstance(completion.get("date"), str):
        found.append("completion_date")
    criteria = (ps.get("eligibilityModule") or {}).get("eligibilityCriteria")
    if isinstance(criteria, str) and criteria.strip():
        found.append("eligibility_criteria")
    found.append("locations")
    return found


def _reword(text: str, clause: str) -> tuple[str, str, str]:
    """Add a qualifying clause to the last list item (or the last line of plain text);
    returns the new text and the line before and after."""
    lines = text.split("\n")
    items = [n for n, line in enumerate(lines) if _ITEM_RE.match(line)]
    plain = [n for n, line in enumerate(lines) if line.strip() and not line.rstrip().endswith(":")]
    pick = items[-1] if items else (plain[-1] if plain else len(lines) - 1)
    before = lines[pick]
    body = before.rstrip()
    end = body[-1] if body and body[-1] in ".;," else ""
    after = (body[: len(body) - len(end)] if end else body) + clause + end
    lines[pick] = after
    return "\n".join(lines), before.strip(), after.strip()


def apply_edit(study: dict[str, Any], kind: str, rng: Random, pools: Pools) -> dict[str, Any]:
    """Make edit `kind` on the study in place; returns what moved (before, after)."""
    ps = study["protocolSection"]
    status = _status(study)
    if kind == "status":
        before = status["overallStatus"]
        status["overallStatus"] = NEXT_STATUS[before]
        return {"before": before, "after": status["overallStatus"]}
    if kind == "completion_date":
        struct = status["completionDateStruct"]
        before = struct["date"]
        if len(before) == 10:  # YYYY-MM-DD
            struct["date"] = shift_date(before, days=rng.randint(14, 365))
        elif len(before) == 7:  # YYYY-MM
            struct["date"] = shift_date(before, months=rng.randint(1, 12))
        else:  # YYYY: a slip of whole years, or it would not show
            struct["date"] = shift_date(before, months=12 * rng.randint(1, 2))
        return {"before": before, "after": struct["date"]}
    if kind == "eligibility_criteria":
        module = ps["eligibilityModule"]
        text, before, after = _reword(module["eligibilityCriteria"], rng.choice(_CLAUSES))
        module["eligibilityCriteria"] = text
        return {"before": before, "after": after}
    if kind == "locations":
        module = ps.setdefault("contactsLocationsModule", {})
        sites = module.setdefault("locations", [])
        held = {(s.get("facility"), s.get("city"), s.get("country")) for s in sites}
        fresh = [s for s in pools.locations if (s["facility"], s["city"], s["country"]) not in held]
        site = (
            dict(rng.choice(fresh))
            if fresh
            else {
                "facility": f"Study Site {len(sites) + 1}",
                "city": "Bethesda",
                "country": "United States",
            }
        )
        site["status"] = rng.choice(("RECRUITING", "NOT_YET_RECRUITING"))
        sites.append(site)
        return {"before": None, "after": f"{site['facility']}, {site['city']}, {site['country']}"}
    raise ValueError(f"unknown edit {kind!r} (known: {', '.join(EDITS)})")


def mark_updated(study: dict[str, Any], day: date) -> None:
    """The registry's last-update dates move to the day of an edit."""
    status = _status(study)
    status["lastUpdateSubmitDate"] = day.isoformat()
    status["lastUpdatePostDateStruct"] = {"date": day.isoformat(), "type": "ACTUAL"}
