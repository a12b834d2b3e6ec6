"""The shapes the web page and its JSON API share (pydantic, so /openapi.json documents them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from trialwatch.web.marks import Marks

PAGE_SIZE = 50


class TrialSummary(BaseModel):
    nct_id: str
    title: str | None
    overall_status: str | None
    lead_sponsor: str | None
    phases: list[str]
    conditions: list[str]
    last_changed: str | None = Field(
        default=None,
        description="When its newest change was observed; never changed: when its record "
        "was last updated (search results only)",
    )


class SearchPage(BaseModel):
    q: str
    status: str = Field(default="", description="The overall status searched for, if any")
    phase: str = Field(default="", description="The phase searched for, if any")
    sort: str = "nct"
    page: int
    page_size: int = PAGE_SIZE
    total: int
    trials: list[TrialSummary]


class VersionRow(BaseModel):
    """One stored version with both clocks: the registry's (valid from its registry date until
    the next version's) and trialwatch's (first and last seen)."""

    version_id: int
    label: str = Field(
        description="The registry's version number (v0, v1, ...), else the version's place "
        "among its origin's versions (#1, #2, ...)"
    )
    origin: str
    format: str
    registry_version: str | None
    valid_from: str | None = Field(description="The version's registry date")
    valid_until: str | None = Field(description="The next version's registry date; None: latest")
    first_seen_at: str
    last_seen_at: str
    overall_status: str | None
    primary_completion_date: str | None
    changes: list[str]
    grades: list[str]
    modules: list[str] = Field(description="The registry's record modules the changes touched")
    previous_id: int | None = Field(description="The version before, of the same origin")


class StatusPeriod(BaseModel):
    """A run of consecutive versions with one status, on the registry clock."""

    status: str | None
    valid_from: str
    valid_until: str | None = Field(description="None: still in force")
    version_ids: list[int]


class PcdPoint(BaseModel):
    version_id: int
    valid_from: str
    date: str
    type: str | None


class Slip(BaseModel):
    """The primary completion date moving between two consecutive versions that state it."""

    from_version_id: int
    to_version_id: int
    before: str
    after: str
    delta_days: int


class Timeline(BaseModel):
    nct_id: str
    origin: str | None = Field(description="The origin whose clock the timeline follows")
    status_periods: list[StatusPeriod]
    primary_completion: list[PcdPoint]
    slips: list[Slip]


class FindingVersion(BaseModel):
    """A version a finding names, and where the page shows it."""

    version_id: int
    label: str = Field(description="As in the versions list (v3, #2); the id if not held")
    registry_date: str
    url: str | None = Field(
        description="Its whole record beside the version before it (itself if first); "
        "None: not one of the trial's versions"
    )


class FindingView(BaseModel):
    """An integrity finding that holds today (see `trialwatch audit`)."""

    kind: str
    title: str = Field(description="The kind in words")
    grade: str
    since: str = Field(description="The registry date from which it holds")
    text: str
    versions: list[FindingVersion] = Field(description="The versions that show it")
    diff_url: str | None = Field(
        description="The changes between its two versions, when it names two"
    )
    detail: dict[str, Any]


class TrialView(BaseModel):
    nct_id: str
    title: str | None
    summary: TrialSummary
    record: dict[str, Any] = Field(description="The merged record (see `trialwatch show`)")
    findings: list[FindingView] = Field(
        default_factory=list, description="The integrity findings that hold today"
    )


class DiffItem(BaseModel):
    """One item of a list (a criterion, outcome, site or name), or one value for other kinds,
    before and after; a changed text with the words each side has that the other lacks."""

    op: str
    where: str
    before: str
    after: str
    grade: str
    reason: str
    marks: Marks | None = None


class FieldDiff(BaseModel):
    kind: str
    grade: str
    reason: str
    summary: str
    items: list[DiffItem]


class DiffView(BaseModel):
    nct_id: str
    a: VersionRow
    b: VersionRow
    previous: VersionRow | None = Field(description="The version before a, of a's origin")
    following: VersionRow | None = Field(description="The version after b, of b's origin")
    changes: list[FieldDiff]


class ChangeRow(BaseModel):
    id: int
    nct_id: str
    title: str | None = Field(default=None, description="The trial's brief title")
    kind: str
    grade: str
    source: str
    from_version_id: int
    to_version_id: int
    registry_date: str | None
    observed_at: str
    summary: str
    reason: str = Field(default="", description="Why it has its grade, in one line")
    details: list[str]


class FeedPage(BaseModel):
    filters: dict[str, str]
    clock: str = Field(
        default="observed",
        description="observed: newest first by when trialwatch saw it; registry: by the "
        "registry date of the version that brought it",
    )
    watch: str | None = Field(default=None, description="The watch filtered by, described")
    page: int
    page_size: int = PAGE_SIZE
    total: int | None = Field(description="Matching changes in all pages, where counted")
    has_next: bool
    changes: list[ChangeRow]


class Problem(BaseModel):
    detail: str
