"""The canonical trial record: the one shape every parser returns (see DESIGN.md).

Its rules hold for every parser, the site parsers included: text is text (never a number
or an object turned into a string) and holds nothing a database cannot store (a NUL
character, a lone surrogate); a count is a whole number in a plausible range; a date is a
real date at its stated precision; an NCT id is "NCT" and 8 ASCII digits. A record that
breaks one raises pydantic's ValidationError naming the field.

Stored content is read back with ``TrialRecord.model_validate``, which keeps the types but
not the range and text rules: a version stored before a rule existed still loads (``reparse``
re-reads it from its raw payload).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

# ASCII only: "NCT" and 8 ASCII digits ("\d" would also take Arabic-Indic and other digits);
# \Z, not $, which would also let a trailing newline through.
NCT_RE = re.compile(r"^NCT[0-9]{8}\Z", re.ASCII)

# The largest count read as an enrollment. Population-wide registry studies list tens of
# millions of people (national insurance cohorts); more than a billion is not a count.
MAX_ENROLLMENT = 1_000_000_000

_STORED = "stored"  # validation context: content read back from the database
_SURROGATE = re.compile("[\ud800-\udfff]")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)
_AT_PRECISION = {
    "year": re.compile(r"[0-9]{4}\Z", re.ASCII),
    "month": re.compile(r"[0-9]{4}-[0-9]{2}\Z", re.ASCII),
    "day": _DAY,
}


def _checking(info: ValidationInfo) -> bool:
    """False for stored content being read back (see the module's note)."""
    return not (isinstance(info.context, dict) and info.context.get(_STORED))


def _storable(value: str, info: ValidationInfo) -> str:
    if _checking(info):
        if "\x00" in value:
            raise ValueError("holds a NUL character (\\u0000), which text cannot hold")
        if found := _SURROGATE.search(value):
            raise ValueError(f"holds a lone surrogate (\\u{ord(found.group()):04x})")
    return value


def _real_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# Text as every record field holds it: a string (no coercion), storable in any database.
Text = Annotated[StrictStr, AfterValidator(_storable)]

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

    date: StrictStr
    precision: Literal["day", "month", "year"]
    type: DateType | None = None

    @model_validator(mode="after")
    def _a_real_date(self, info: ValidationInfo) -> Self:
        if _checking(info):
            full = {"year": "-01-01", "month": "-01", "day": ""}[self.precision]
            shape = _AT_PRECISION[self.precision]
            if not shape.match(self.date) or not _real_day(self.date + full):
                raise ValueError(f"{self.date!r} is not a date at {self.precision} precision")
        return self


class Enrollment(_Part):
    count: StrictInt
    type: DateType | None = None

    @field_validator("count")
    @classmethod
    def _a_plausible_count(cls, count: int, info: ValidationInfo) -> int:
        if _checking(info) and not 0 <= count <= MAX_ENROLLMENT:
            raise ValueError(f"{count} is not a count from 0 to {MAX_ENROLLMENT:,}")
        return count


class Intervention(_Part):
    type: Text | None = None
    name: Text


class Criterion(_Part):
    """One criterion and where it sits: its section, then the path of qualified group
    headings ("Cohort A", "At least one of the following") and parent items, outermost
    first. An empty path is an item directly under its section's heading."""

    section: Literal["inclusion", "exclusion"]
    path: list[Text] = []
    text: Text


class Eligibility(_Part):
    """Raw criteria text plus the items parsed from it: ``criteria`` is the tree (items with
    their paths, in source order); ``inclusion``/``exclusion`` are its item texts per section."""

    text: Text | None = None
    inclusion: list[Text] | None = None
    exclusion: list[Text] | None = None
    criteria: list[Criterion] | None = None


class Outcome(_Part):
    measure: Text
    time_frame: Text | None = None
    description: Text | None = None


class Location(_Part):
    facility: Text | None = None
    city: Text | None = None
    country: Text | None = None
    status: Text | None = None


class TrialRecord(BaseModel):
    """One source's view of one trial. Absent values are None, never "" or []."""

    model_config = ConfigDict(extra="forbid")

    nct_id: Text | None  # None only for a site page that shows no NCT id; ingest resolves it
    secondary_ids: list[Text] | None = None
    source: Text
    source_url: Text | None = None
    brief_title: Text | None = None
    official_title: Text | None = None
    acronym: Text | None = None
    overall_status: Text | None = None
    status_raw: Text | None = None
    why_stopped: Text | None = None
    phases: list[Text] | None = None
    study_type: Text | None = None
    conditions: list[Text] | None = None
    interventions: list[Intervention] | None = None
    lead_sponsor: Text | None = None
    collaborators: list[Text] | None = None
    enrollment: Enrollment | None = None
    start_date: TrialDate | None = None
    primary_completion_date: TrialDate | None = None
    completion_date: TrialDate | None = None
    sex: Text | None = None
    minimum_age: Text | None = None
    maximum_age: Text | None = None
    healthy_volunteers: StrictBool | None = None
    eligibility: Eligibility | None = None
    primary_outcomes: list[Outcome] | None = None
    secondary_outcomes: list[Outcome] | None = None
    locations: list[Location] | None = None
    first_submitted: Text | None = None  # registration: the day the registry first got it
    results_first_posted: Text | None = None
    last_update_posted: Text | None = None
    registry_version: Text | None = None

    @field_validator("nct_id")
    @classmethod
    def _an_nct_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and _checking(info) and not NCT_RE.match(value):
            raise ValueError(f"{value!r} is not of the form NCT + 8 digits")
        return value

    @field_validator("first_submitted", "results_first_posted", "last_update_posted")
    @classmethod
    def _a_day(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and _checking(info):
            if not _DAY.match(value) or not _real_day(value):
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")
        return value

    @field_validator("registry_version")
    @classmethod
    def _a_version_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and _checking(info) and not (value.isascii() and value.isdigit()):
            raise ValueError(f"{value!r} is not a version number")
        return value

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Read stored content back: its types are checked, the range and text rules are
        not (see the module's note); pass ``context`` to choose otherwise."""
        kwargs.setdefault("context", {_STORED: True})
        return super().model_validate(obj, **kwargs)


FIELDS: tuple[str, ...] = tuple(TrialRecord.model_fields)
