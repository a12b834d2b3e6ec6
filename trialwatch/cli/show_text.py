"""Plain-text rendering of a stored record for `trialwatch show`."""

from __future__ import annotations

from typing import Any


def _date(value: dict[str, Any] | None) -> str | None:
    if not value:
        return None
    kind = f" ({value['type']})" if value.get("type") else ""
    return f"{value['date']}{kind}"


def _items(items: list[str] | None, indent: str = "    ") -> list[str]:
    return [f"{indent}- {item}" for item in items or []]


def render_record(record: dict[str, Any]) -> str:
    enrollment = record.get("enrollment")
    pairs: list[tuple[str, Any]] = [
        ("NCT id", record.get("nct_id")),
        ("Title", record.get("brief_title")),
        ("Official title", record.get("official_title")),
        ("Status", record.get("overall_status") or record.get("status_raw")),
        ("Why stopped", record.get("why_stopped")),
        ("Phases", ", ".join(record.get("phases") or []) or None),
        ("Study type", record.get("study_type")),
        ("Conditions", "; ".join(record.get("conditions") or []) or None),
        ("Lead sponsor", record.get("lead_sponsor")),
        ("Collaborators", "; ".join(record.get("collaborators") or []) or None),
        (
            "Enrollment",
            f"{enrollment['count']} ({enrollment.get('type') or 'type not given'})"
            if enrollment
            else None,
        ),
        ("Start", _date(record.get("start_date"))),
        ("Primary completion", _date(record.get("primary_completion_date"))),
        ("Completion", _date(record.get("completion_date"))),
        ("Sex", record.get("sex")),
        ("Ages", " to ".join(filter(None, [record.get("minimum_age"), record.get("maximum_age")]))),
        ("Locations", len(record.get("locations") or []) or None),
        ("First submitted", record.get("first_submitted")),
        ("Results first posted", record.get("results_first_posted")),
        ("Last update posted", record.get("last_update_posted")),
        ("Sources", ", ".join(record.get("sources") or {}) or None),
        ("URL", record.get("source_url")),
    ]
    width = max(len(label) for label, _ in pairs) + 1  # values in one column
    lines = [f"{label + ':':<{width}} {value}" for label, value in pairs if value not in (None, "")]
    eligibility = record.get("eligibility") or {}
    if eligibility.get("inclusion"):
        lines += ["Inclusion criteria:", *_items(eligibility["inclusion"])]
    if eligibility.get("exclusion"):
        lines += ["Exclusion criteria:", *_items(eligibility["exclusion"])]
    return "\n".join(lines)
