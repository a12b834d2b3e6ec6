"""ClinicalTrials.gov API v2: single-study responses and /api/v2/studies pages.

One small `_parse_<field>` helper per TrialRecord field, each taking the study's
`protocolSection`, so a field's rules can be read (and fixed) on their own.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import (
    age_text,
    check_nct_id,
    clean_list,
    clean_markdown,
    clean_text,
    date_type,
    enum_word,
    intervention_type_word,
    iso_day,
    load_json,
    parse_date,
    phases,
    sex_word,
    status_word,
    study_type_word,
    yes_no,
)
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.record import (
    Eligibility,
    Enrollment,
    Intervention,
    Location,
    Outcome,
    TrialDate,
    TrialRecord,
)

SOURCE = "ctgov"
STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"

Section = dict[str, Any]


def parse(body: bytes, url: str | None = None) -> TrialRecord:
    """A single-study response (`/api/v2/studies/NCT...`) -> TrialRecord."""
    data = load_json(body)
    if not isinstance(data, dict) or "protocolSection" not in data:
        raise ParseError("JSON is not a ClinicalTrials.gov study (no protocolSection)")
    return record_from_study(data, url)


def parse_page(body: bytes, url: str | None = None) -> list[TrialRecord]:
    """A `/api/v2/studies` page (`{"studies": [...], "nextPageToken": ...}`) -> records.

    `url` is the page's address, not a study's: each record's source_url is its own
    study page.
    """
    del url  # accepted for the common parse(body, url) shape
    return records_from_page(load_json(body))


def records_from_page(data: Any, problems: list[str] | None = None) -> list[TrialRecord]:
    """The records of an already decoded studies page; an empty page gives [].

    With ``problems``, a bad study is noted there (one line each) and the rest of the page
    is still read; without it, the first bad study raises ParseError.
    """
    if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
        raise ParseError("JSON is not a ClinicalTrials.gov studies page (no studies list)")
    records = []
    for index, study in enumerate(data["studies"]):
        try:
            if not isinstance(study, dict) or "protocolSection" not in study:
                raise ParseError("not a study (no protocolSection)")
            records.append(record_from_study(study, None))
        except ParseError as exc:
            if problems is None:
                raise ParseError(f"studies[{index}]: {exc}") from None
            problems.append(f"studies[{index}]: {exc}")
    return records


def record_from_study(
    study: dict[str, Any],
    url: str | None = None,
    source: str = SOURCE,
    registry_version: str | None = None,
) -> TrialRecord:
    """The TrialRecord for one API v2 study object (`{"protocolSection": {...}, ...}`)."""
    ps = study.get("protocolSection") if isinstance(study, dict) else None
    if not isinstance(ps, dict):
        raise ParseError("JSON is not a ClinicalTrials.gov study (no protocolSection)")
    try:
        nct_id = check_nct_id(_module(ps, "identificationModule").get("nctId"))
        return TrialRecord(
            nct_id=nct_id,
            secondary_ids=_parse_secondary_ids(ps),
            source=source,
            source_url=url or STUDY_URL.format(nct_id=nct_id),
            brief_title=_parse_brief_title(ps),
            official_title=_parse_official_title(ps),
            acronym=_parse_acronym(ps),
            overall_status=_parse_overall_status(ps),
            status_raw=_parse_status_raw(ps),
            why_stopped=_parse_why_stopped(ps),
            phases=_parse_phases(ps),
            study_type=_parse_study_type(ps),
            conditions=_parse_conditions(ps),
            interventions=_parse_interventions(ps),
            lead_sponsor=_parse_lead_sponsor(ps),
            collaborators=_parse_collaborators(ps),
            enrollment=_parse_enrollment(ps),
            start_date=_parse_date_struct(ps, "startDateStruct"),
            primary_completion_date=_parse_date_struct(ps, "primaryCompletionDateStruct"),
            completion_date=_parse_date_struct(ps, "completionDateStruct"),
            sex=_parse_sex(ps),
            minimum_age=_parse_minimum_age(ps),
            maximum_age=_parse_maximum_age(ps),
            healthy_volunteers=_parse_healthy_volunteers(ps),
            eligibility=_parse_eligibility(ps),
            primary_outcomes=_parse_outcomes(ps, "primaryOutcomes"),
            secondary_outcomes=_parse_outcomes(ps, "secondaryOutcomes"),
            locations=_parse_locations(ps),
            last_update_posted=_parse_last_update_posted(ps),
            registry_version=registry_version,
        )
    except ParseError:
        raise
    except (AttributeError, TypeError, ValueError, ValidationError) as exc:
        # A study object of the wrong shape: name the problem, not a traceback.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParseError(f"study has an unexpected structure: {first}") from None


def _module(ps: Section, name: str) -> Section:
    value = ps.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"{name} is a {type(value).__name__}, not an object")
    return value


def _items(value: Any, what: str) -> list[Any]:
    """A list member of the study; a value of another shape is a format change, not data."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{what} is a {type(value).__name__}, not a list")
    return value


# --- identification ----------------------------------------------------------


def _parse_secondary_ids(ps: Section) -> list[str] | None:
    """The sponsor's own study id first, then the registry's secondary ids."""
    ident = _module(ps, "identificationModule")
    org = ident.get("orgStudyIdInfo") or {}
    ids = [org.get("id")] + [
        info.get("id") for info in _items(ident.get("secondaryIdInfos"), "secondaryIdInfos")
    ]
    return clean_list(ids)


def _parse_brief_title(ps: Section) -> str | None:
    return clean_text(_module(ps, "identificationModule").get("briefTitle"))


def _parse_official_title(ps: Section) -> str | None:
    return clean_text(_module(ps, "identificationModule").get("officialTitle"))


def _parse_acronym(ps: Section) -> str | None:
    return clean_text(_module(ps, "identificationModule").get("acronym"))


# --- status ------------------------------------------------------------------


def _parse_overall_status(ps: Section) -> str | None:
    return status_word(_module(ps, "statusModule").get("overallStatus"))


def _parse_status_raw(ps: Section) -> str | None:
    return clean_text(_module(ps, "statusModule").get("overallStatus"))


def _parse_why_stopped(ps: Section) -> str | None:
    return clean_text(_module(ps, "statusModule").get("whyStopped"))


def _parse_date_struct(ps: Section, key: str) -> TrialDate | None:
    struct = _module(ps, "statusModule").get(key)
    if not isinstance(struct, dict):
        return None
    return parse_date(struct.get("date"), struct.get("type"))


def _parse_last_update_posted(ps: Section) -> str | None:
    struct = _module(ps, "statusModule").get("lastUpdatePostDateStruct")
    return iso_day(struct.get("date")) if isinstance(struct, dict) else None


# --- design ------------------------------------------------------------------


def _parse_phases(ps: Section) -> list[str] | None:
    return phases(_items(_module(ps, "designModule").get("phases"), "phases"))


def _parse_study_type(ps: Section) -> str | None:
    return study_type_word(_module(ps, "designModule").get("studyType"))


def _parse_enrollment(ps: Section) -> Enrollment | None:
    info = _module(ps, "designModule").get("enrollmentInfo")
    if not isinstance(info, dict) or info.get("count") is None:
        return None
    return Enrollment(count=int(info["count"]), type=date_type(info.get("type")))


def _parse_conditions(ps: Section) -> list[str] | None:
    return clean_list(_items(_module(ps, "conditionsModule").get("conditions"), "conditions"))


def _parse_interventions(ps: Section) -> list[Intervention] | None:
    out = []
    for item in _items(
        _module(ps, "armsInterventionsModule").get("interventions"), "interventions"
    ):
        name = clean_text(item.get("name"))
        if name is not None:
            out.append(Intervention(type=intervention_type_word(item.get("type")), name=name))
    return out or None


# --- sponsors ----------------------------------------------------------------


def _parse_lead_sponsor(ps: Section) -> str | None:
    lead = _module(ps, "sponsorCollaboratorsModule").get("leadSponsor") or {}
    return clean_text(lead.get("name"))


def _parse_collaborators(ps: Section) -> list[str] | None:
    module = _module(ps, "sponsorCollaboratorsModule")
    return clean_list(c.get("name") for c in _items(module.get("collaborators"), "collaborators"))


# --- eligibility -------------------------------------------------------------


def _parse_sex(ps: Section) -> str | None:
    return sex_word(_module(ps, "eligibilityModule").get("sex"))


def _parse_minimum_age(ps: Section) -> str | None:
    return age_text(_module(ps, "eligibilityModule").get("minimumAge"))


def _parse_maximum_age(ps: Section) -> str | None:
    return age_text(_module(ps, "eligibilityModule").get("maximumAge"))


def _parse_healthy_volunteers(ps: Section) -> bool | None:
    return yes_no(_module(ps, "eligibilityModule").get("healthyVolunteers"))


def _parse_eligibility(ps: Section) -> Eligibility | None:
    raw = _module(ps, "eligibilityModule").get("eligibilityCriteria")
    return eligibility_from_text(raw.strip() if isinstance(raw, str) else None)


# --- outcomes and locations --------------------------------------------------


def _parse_outcomes(ps: Section, key: str) -> list[Outcome] | None:
    out = []
    for item in _items(_module(ps, "outcomesModule").get(key), key):
        measure = clean_markdown(item.get("measure"))
        if measure is not None:
            out.append(
                Outcome(
                    measure=measure,
                    time_frame=clean_markdown(item.get("timeFrame")),
                    description=clean_markdown(item.get("description")),
                )
            )
    return out or None


def _parse_locations(ps: Section) -> list[Location] | None:
    out = []
    for item in _items(_module(ps, "contactsLocationsModule").get("locations"), "locations"):
        location = Location(
            facility=clean_text(item.get("facility")),
            city=clean_text(item.get("city")),
            country=clean_text(item.get("country")),
            status=status_word(item.get("status")) or enum_word(item.get("status")),
        )
        if location != Location():
            out.append(location)
    return out or None
