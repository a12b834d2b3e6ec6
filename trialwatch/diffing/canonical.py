"""The canonical form of a trial record: what "same content" means.

``canonical(record)`` returns a JSON-able dict; ``record_hash(record)`` is the sha256 of it.
Two records that differ only in formatting (see DESIGN.md, "Formatting is never a change")
have the same canonical form, so a re-fetch that only reformats writes no new version.

Text values (every string, including list items and nested fields):
    HTML entities unescaped (repeatedly, for double-escaped "&amp;gt;"), NFKC-normalised
    (full-width digits, non-breaking spaces, ligatures), Markdown backslash escapes removed
    (API v2 writes "\\>= 18" for ">= 18"), zero-width characters and soft hyphens removed,
    runs of whitespace (including CR/LF) collapsed to one space, trimmed.
    Case and punctuation are kept: they are wording.
Eligibility criteria:
    Only the parsed items count, each with its section and path (qualified group headings
    and parent items), normalised as text with any leading bullet or numbering marker ("*",
    "-", "•", "1.", "2)", "(a)") removed; the raw ``eligibility.text`` is dropped because its
    wrapping and bullet style are formatting. Items directly under a section are listed per
    section; items inside a group are listed under "grouped" with their section and path.
    When a parser found no items at all, the text itself counts (as one inclusion item, the
    registry's convention for unlabelled criteria) so that a reworded text is still seen.
    Item order within a group is not kept: each criterion is an independent condition.
Outcomes:
    measure, time frame and description as text, list markers and numbering removed.
Sorted (order carries no meaning): secondary_ids, phases, conditions, collaborators,
    interventions, locations, primary_outcomes, secondary_outcomes, criteria items.
Dropped (they describe the fetch, not the trial):
    source, source_url (one history is per source; the same content from another URL is
    the same content), last_update_posted and registry_version (the registry's bookkeeping:
    they move on every registry edit, including edits to parts the record does not hold).
    first_submitted and results_first_posted are kept: a registration date and the day
    results went up are facts about the trial, and neither moves with an edit.
    status_raw is dropped when overall_status is set (it is then only the source's wording of
    that status) and kept when overall_status is None (then it is the only status there is).
Equivalences:
    phases ["NA"] (ClinicalTrials.gov's "not applicable") and no phases both mean "no phase";
    empty strings and empty lists are the same as absent. Absent values are left out of the
    dict entirely, so adding an optional field to TrialRecord does not change existing hashes.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from trialwatch.record import Eligibility, Intervention, Location, Outcome, TrialDate, TrialRecord
from trialwatch.text import norm_text

# A leading list marker: a bullet symbol, "1." / "1)" / "(1)", "a)" / "(a)", roman "iv)".
# ">" and "+" are not markers: "> 18 years" is wording.
_MARKER_RE = re.compile(
    r"^(?:[-*•·‣◦▪▫●○■□–—]+|\(?\d{1,3}[.)]|\(?[A-Za-z][)]|\([A-Za-z]\)|\(?[ivxIVX]{1,5}[)])\s+"
)
# Phase values that mean "no phase" (API v2 "NA", classic XML "N/A").
_NO_PHASE = frozenset({"NA", "N/A", "NOT APPLICABLE"})

# Fields that describe the fetch rather than the trial.
FETCH_FIELDS: tuple[str, ...] = ("source", "source_url", "last_update_posted", "registry_version")


def norm_item(value: str | None) -> str | None:
    """Normalise one criterion: text normalisation plus its bullet or number removed."""
    text = norm_text(value)
    if text is None:
        return None
    previous = None
    while previous != text:  # "1. - item" carries two markers
        previous = text
        text = _MARKER_RE.sub("", text, count=1)
    return text or None


def _sort_key(value: Any) -> bytes:
    # Orders as json.dumps(sort_keys=True, ensure_ascii=False) did: the two writers differ
    # only by a space after each separator, in the same places up to the first difference
    # (tests/diffing/test_canonical_bytes.py).
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def norm_list(values: list[str] | None) -> list[str] | None:
    """Normalise and sort a list of strings; empty becomes None."""
    items = [t for t in (norm_text(v) for v in values or []) if t is not None]
    return sorted(items) or None


def norm_phases(phases: list[str] | None) -> list[str] | None:
    """Phases, sorted, with "no phase" spellings dropped: ["NA"] and None are the same."""
    items = norm_list(phases) or []
    kept = [p for p in items if p.upper() not in _NO_PHASE]
    return kept or None


def norm_date(value: TrialDate | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"date": value.date.strip(), "precision": value.precision, "type": value.type}


def norm_intervention(value: Intervention) -> dict[str, Any]:
    return {"type": norm_text(value.type), "name": norm_text(value.name)}


def norm_outcome(value: Outcome) -> dict[str, Any]:
    """An outcome's fields as text; a leading "-" or "1." is formatting, not wording."""
    return {
        "measure": norm_item(value.measure),
        "time_frame": norm_item(value.time_frame),
        "description": norm_item(value.description),
    }


def norm_location(value: Location) -> dict[str, Any]:
    return {
        "facility": norm_text(value.facility),
        "city": norm_text(value.city),
        "country": norm_text(value.country),
        "status": norm_text(value.status),
    }


def _norm_objects(values: list[Any] | None, norm: Any) -> list[dict[str, Any]] | None:
    items = [norm(v) for v in values or []]
    return sorted(items, key=_sort_key) or None


def criteria_items(eligibility: Eligibility | None) -> tuple[list[str], list[str]]:
    """(inclusion, exclusion) normalised items in source order.

    Falls back to the whole text as one inclusion item when no items were parsed, so that
    a record whose criteria could not be split still registers a reworded text.
    """
    if eligibility is None:
        return [], []
    if eligibility.inclusion is None and eligibility.exclusion is None:
        text = norm_text(eligibility.text)
        return ([text] if text else []), []
    inclusion = [t for t in (norm_item(v) for v in eligibility.inclusion or []) if t]
    exclusion = [t for t in (norm_item(v) for v in eligibility.exclusion or []) if t]
    return inclusion, exclusion


# One criterion as compared: (section, path, text).
Item = tuple[str, tuple[str, ...], str]


def norm_label(value: str) -> str | None:
    """A group heading or parent item as a path step: its text without a trailing colon."""
    text = norm_item(value)
    return text.rstrip(" :") or None if text else None


def criteria_tree(eligibility: Eligibility | None) -> list[Item]:
    """Every criterion as (section, path, text), normalised, in source order.

    Records parsed before criteria had paths (and site pages) give their flat lists with
    empty paths; a text with no items at all counts as one inclusion item.
    """
    if eligibility is None:
        return []
    items: list[Item] = []
    if eligibility.criteria:
        for c in eligibility.criteria:
            text = norm_item(c.text)
            path = tuple(p for p in (norm_label(step) for step in c.path) if p)
            if text:
                items.append((c.section, path, text))
        return items
    inclusion, exclusion = criteria_items(eligibility)
    items += [("inclusion", (), t) for t in inclusion]
    items += [("exclusion", (), t) for t in exclusion]
    return items


def _criteria_form(eligibility: Eligibility | None) -> dict[str, Any] | None:
    items = criteria_tree(eligibility)
    if not items:
        return None
    form: dict[str, Any] = {
        section: sorted(t for s, p, t in items if s == section and not p)
        for section in ("inclusion", "exclusion")
    }
    grouped = sorted([s, list(p), t] for s, p, t in items if p)
    if grouped:
        form["grouped"] = grouped
    return form


def status_text(record: TrialRecord) -> str | None:
    """The status that counts: overall_status, or the source's own words when it has none."""
    return norm_text(record.overall_status) or norm_text(record.status_raw)


def canonical(record: TrialRecord) -> dict[str, Any]:
    """The normalised, JSON-able form of ``record`` that defines "same content"."""
    criteria = _criteria_form(record.eligibility)
    enrollment = None
    if record.enrollment is not None:
        enrollment = {"count": record.enrollment.count, "type": record.enrollment.type}
    status_raw = None if norm_text(record.overall_status) else norm_text(record.status_raw)
    form: dict[str, Any] = {
        "nct_id": (record.nct_id or "").strip().upper() or None,
        "secondary_ids": norm_list(record.secondary_ids),
        "brief_title": norm_text(record.brief_title),
        "official_title": norm_text(record.official_title),
        "acronym": norm_text(record.acronym),
        "overall_status": norm_text(record.overall_status),
        "status_raw": status_raw,
        "why_stopped": norm_text(record.why_stopped),
        "phases": norm_phases(record.phases),
        "study_type": norm_text(record.study_type),
        "conditions": norm_list(record.conditions),
        "interventions": _norm_objects(record.interventions, norm_intervention),
        "lead_sponsor": norm_text(record.lead_sponsor),
        "collaborators": norm_list(record.collaborators),
        "enrollment": enrollment,
        "start_date": norm_date(record.start_date),
        "primary_completion_date": norm_date(record.primary_completion_date),
        "completion_date": norm_date(record.completion_date),
        "sex": norm_text(record.sex),
        "minimum_age": norm_text(record.minimum_age),
        "maximum_age": norm_text(record.maximum_age),
        "healthy_volunteers": record.healthy_volunteers,
        "eligibility_criteria": criteria,
        "primary_outcomes": _norm_objects(record.primary_outcomes, norm_outcome),
        "secondary_outcomes": _norm_objects(record.secondary_outcomes, norm_outcome),
        "locations": _norm_objects(record.locations, norm_location),
        "first_submitted": norm_text(record.first_submitted),
        "results_first_posted": norm_text(record.results_first_posted),
    }
    return {key: value for key, value in form.items() if value is not None}


def canonical_bytes(record: TrialRecord) -> bytes:
    """Canonical form as compact UTF-8 JSON with sorted keys (the bytes that are hashed):
    orjson writes the bytes of ``json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`` for these forms (text, bounded ints, lists, dicts with text
    keys; tests/diffing/test_canonical_bytes.py) at a tenth of its cost."""
    return orjson.dumps(canonical(record), option=orjson.OPT_SORT_KEYS)


def canonical_json(record: TrialRecord) -> str:
    return canonical_bytes(record).decode("utf-8")


def record_hash(record: TrialRecord) -> str:
    """sha256 hex digest of the canonical JSON: equal for records with the same content."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
