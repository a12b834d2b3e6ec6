"""The canonical trial record: the one shape every parser returns (see DESIGN.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

# ASCII only: "NCT" and 8 ASCII digits ("\d" would also take Arabic-Indic and other digits).
NCT_RE = re.compile(r"^NCT[0-9]{8}$", re.ASCII)

STATUSES = frozenset(
    {
        "NOT_YET_RECRUITING",
        "RECRUITING",
        "ENROLLING_BY_INVITATION",
        "ACTIVE_NOT_RECRUITING",
        "SUSPENDED",
        "TERMINATED",
        "COMPLETED",
        "WITHDRAWN",
        "UNKNOWN",
        "AVAILABLE",
        "NO_LONGER_AVAILABLE",
        "TEMPORARILY_NOT_AVAILABLE",
        "APPROVED_FOR_MARKETING",
        "WITHHELD",
    }
)

DateType = Literal["ACTUAL", "ESTIMATED"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrialDate(_Part):
    """A registry date: ISO text at its own precision ("2018-06" is a month)."""

    date: str
    precision: Literal["day", "month", "year"]
    type: DateType | None = None


class Enrollment(_Part):
    count: int
    type: DateType | None = None


class Intervention(_Part):
    type: str | None = None
    name: str


class Criterion(_Part):
    """One criterion and where it sits: its section, then the path of qualified group
    headings ("Cohort A", "At least one of the following") and parent items, outermost
    first. An empty path is an item directly under its section's heading."""

    section: Literal["inclusion", "exclusion"]
    path: list[str] = []
    text: str


class Eligibility(_Part):
    """Raw criteria text plus the items parsed from it: ``criteria`` is the tree (items with
    their paths, in source order); ``inclusion``/``exclusion`` are its item texts per section."""

    text: str | None = None
    inclusion: list[str] | None = None
    exclusion: list[str] | None = None
    criteria: list[Criterion] | None = None


class Outcome(_Part):
    measure: str
    time_frame: str | None = None
    description: str | None = None


class Location(_Part):
    facility: str | None = None
    city: str | None = None
    country: str | None = None
    status: str | None = None


class TrialRecord(BaseModel):
    """One source's view of one trial. Absent values are None, never "" or []."""

    model_config = ConfigDict(extra="forbid")

    nct_id: str | None  # None only for a site page that shows no NCT id; ingest resolves it
    secondary_ids: list[str] | None = None
    source: str
    source_url: str | None = None
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    overall_status: str | None = None
    status_raw: str | None = None
    why_stopped: str | None = None
    phases: list[str] | None = None
    study_type: str | None = None
    conditions: list[str] | None = None
    interventions: list[Intervention] | None = None
    lead_sponsor: str | None = None
    collaborators: list[str] | None = None
    enrollment: Enrollment | None = None
    start_date: TrialDate | None = None
    primary_completion_date: TrialDate | None = None
    completion_date: TrialDate | None = None
    sex: str | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    healthy_volunteers: bool | None = None
    eligibility: Eligibility | None = None
    primary_outcomes: list[Outcome] | None = None
    secondary_outcomes: list[Outcome] | None = None
    locations: list[Location] | None = None
    last_update_posted: str | None = None
    registry_version: str | None = None


FIELDS: tuple[str, ...] = tuple(TrialRecord.model_fields)
