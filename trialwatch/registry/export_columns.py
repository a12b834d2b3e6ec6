"""The columns of each analyst export, in the views' order, each with the kind that says how
a file format types it: ``text``, ``int``, ``day`` (an ISO date), ``partial_day`` (a record's
date at its own precision: "2024", "2024-03" or "2024-03-04") and ``time`` (a UTC timestamp).
The column names are the views' own (docs/exports.md)."""

from __future__ import annotations

from typing import Literal, NamedTuple

ColumnKind = Literal["text", "int", "day", "partial_day", "time"]


class Column(NamedTuple):
    name: str
    kind: ColumnKind


def _text(names: str) -> tuple[Column, ...]:
    return tuple(Column(name, "text") for name in names.split())


def _dated(name: str) -> tuple[Column, ...]:
    return (Column(name, "partial_day"), *_text(f"{name}_precision {name}_type"))


# The record's columns, in the views' order (trial_latest and trial_versions alike).
RECORD_COLUMNS: tuple[Column, ...] = (
    *_text("brief_title official_title acronym overall_status why_stopped phases study_type"),
    *_text("lead_sponsor collaborators conditions"),
    Column("enrollment", "int"),
    Column("enrollment_type", "text"),
    *_dated("start_date"),
    *_dated("primary_completion_date"),
    *_dated("completion_date"),
    Column("last_update_posted", "day"),
)
TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("nct_id", "text"),
    *RECORD_COLUMNS,
    Column("record_source", "text"),
    Column("first_seen_at", "time"),
    Column("updated_at", "time"),
)
VERSION_COLUMNS: tuple[Column, ...] = (
    Column("version_id", "int"),
    *_text("nct_id origin format registry_version"),
    Column("registry_date", "day"),
    Column("valid_from", "day"),
    Column("valid_until", "day"),
    Column("known_from", "time"),
    Column("known_until", "time"),
    Column("first_seen_at", "time"),
    Column("last_seen_at", "time"),
    *_text("record_hash snapshot parser_version"),
    *RECORD_COLUMNS,
)
CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("change_id", "int"),
    *_text("nct_id origin kind grade reason"),
    Column("registry_date", "day"),
    Column("observed_at", "time"),
    Column("delta_days", "int"),
    *_text("before_value after_value"),
    Column("from_version_id", "int"),
    Column("to_version_id", "int"),
    *_text("brief_title lead_sponsor phases overall_status detail"),
    Column("outcomes_promoted", "int"),
    Column("outcomes_demoted", "int"),
)
# The findings that hold today (resolved ones, and those whose day lies ahead, are not in the
# view); version_ids and registry_dates are lists, "; "-joined like the record's lists.
FINDING_COLUMNS: tuple[Column, ...] = (
    Column("finding_id", "int"),
    *_text("nct_id brief_title kind phase grade"),
    Column("since", "day"),
    Column("since_year", "int"),
    *_text("text version_ids registry_dates"),
    Column("first_seen_at", "time"),
)
# `export trials --as-of D`: the version of each trial in force on D, and the day asked.
AS_OF_COLUMNS: tuple[Column, ...] = (Column("as_of", "day"), *VERSION_COLUMNS)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "trials": TRIAL_COLUMNS,
    "versions": VERSION_COLUMNS,
    "changes": CHANGE_COLUMNS,
    "findings": FINDING_COLUMNS,
}
