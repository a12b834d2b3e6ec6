"""ClinicalTrials.gov API v2: single-study responses and /api/v2/studies pages.

One small `_parse_<field>` helper per TrialRecord field, each taking the study's
`protocolSection`, so a field's rules can be read (and fixed) on their own. A value of the
wrong JSON type (a title that is an object, a count that is 1.5) is never coerced: it raises
ParseError naming the field by its path ("designModule.enrollmentInfo.count").
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from trialwatch.parsers import ParseError, invalid, json_kind
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
    storable,
    study_type_word,
    unchecked,
    whole_count,
)
from trialwatch.parsers.eligibility import eligibility_from_text
from trialwatch.parsers.json_members import Section
from trialwatch.parsers.json_members import member as _obj
from trialwatch.parsers.json_members import module as _module
from trialwatch.parsers.json_members import objects as _objects
from trialwatch.parsers.json_members import text as _text
from trialwatch.parsers.json_members import texts as _texts
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


ID, STATUS, DESIGN = "identificationModule", "statusModule", "designModule"
# What every registry record carries, whatever its status: the fixtures' records all do,
# including a WITHHELD one that shows nothing else. A response without one of these lost its
# content (a field filter, a cut or changed answer) and would read as a trial whose fields
# were all cleared, so it is set aside rather than stored as a version.
REQUIRED = ((ID, "nctId"), (ID, "briefTitle"), (STATUS, "overallStatus"))


def parse(body: bytes, url: str | None = None, *, complete: bool = False) -> TrialRecord:
    """A single-study response (`/api/v2/studies/NCT...`) -> TrialRecord."""
    data = load_json(body)
    if not isinstance(data, dict) or "protocolSection" not in data:
        raise ParseError("JSON is not a ClinicalTrials.gov study (no protocolSection)")
    return record_from_study(data, url, complete=complete)


def parse_page(body: bytes, url: str | None = None) -> list[TrialRecord]:
    """A `/api/v2/studies` page (`{"studies": [...], "nextPageToken": ...}`) -> records.

    `url` is the page's address, not a study's: each record's source_url is its own
    study page.
    """
    del url  # accepted for the common parse(body, url) shape
    return records_from_page(load_json(body))


def records_from_page(
    data: Any, problems: list[str] | None = None, *, complete: bool = False
) -> list[TrialRecord]:
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
            records.append(record_from_study(study, None, complete=complete))
        except ParseError as exc:
            if problems is None:
                raise ParseError(f"studies[{index}]: {exc}") from None
            problems.append(f"studies[{index}]: {exc}")
    return records


def check_complete(ps: Section) -> None:
    """Raise ParseError unless the protocol section holds what every registry record has."""
    missing = [
        f"{name}.{key}"
        for name, key in REQUIRED
        if clean_text(_text(_module(ps, name), key, name)) is None
    ]
    if missing:
        raise ParseError(
            f"not a whole registry record: {', '.join(missing)} missing "
            f"(it holds only {', '.join(sorted(map(str, ps))) or 'nothing'})"
        )


def record_from_study(
    study: dict[str, Any],
    url: str | None = None,
    source: str = SOURCE,
    registry_version: str | None = None,
    *,
    complete: bool = False,
) -> TrialRecord:
    """The TrialRecord for one API v2 study object (`{"protocolSection": {...}, ...}`)."""
    ps = study.get("protocolSection") if isinstance(study, dict) else None
    if not isinstance(ps, dict):
        raise ParseError("JSON is not a ClinicalTrials.gov study (no protocolSection)")
    try:
        nct_id = check_nct_id(_text(_module(ps, ID), "nctId", ID))
        if complete:
            check_complete(ps)
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
            first_submitted=_parse_first_submitted(ps),
            results_first_posted=_parse_results_first_posted(ps),
            last_update_posted=_parse_last_update_posted(ps),
            registry_version=registry_version,
        )
    except ParseError:
        raise
    except ValidationError as exc:
        raise invalid(exc) from None
    except (AttributeError, TypeError, ValueError) as exc:
        # A study object of the wrong shape: name the problem, not a traceback.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParseError(f"study has an unexpected structure: {first}") from None


# --- identification ----------------------------------------------------------


def _parse_secondary_ids(ps: Section) -> list[str] | None:
    """The sponsor's own study id first, then the registry's secondary ids."""
    ident = _module(ps, ID)
    org = _text(
        _obj(ident.get("orgStudyIdInfo"), f"{ID}.orgStudyIdInfo"), "id", f"{ID}.orgStudyIdInfo"
    )
    infos = _objects(ident.get("secondaryIdInfos"), f"{ID}.secondaryIdInfos")
    return clean_list([org] + [_text(info, "id", where) for where, info in infos])


def _parse_brief_title(ps: Section) -> str | None:
    return clean_text(_text(_module(ps, ID), "briefTitle", ID))


def _parse_official_title(ps: Section) -> str | None:
    return clean_text(_text(_module(ps, ID), "officialTitle", ID))


def _parse_acronym(ps: Section) -> str | None:
    return clean_text(_text(_module(ps, ID), "acronym", ID))


# --- status ------------------------------------------------------------------


def _parse_overall_status(ps: Section) -> str | None:
    return status_word(_text(_module(ps, STATUS), "overallStatus", STATUS))


def _parse_status_raw(ps: Section) -> str | None:
    return clean_text(_text(_module(ps, STATUS), "overallStatus", STATUS))


def _parse_why_stopped(ps: Section) -> str | None:
    return clean_text(_text(_module(ps, STATUS), "whyStopped", STATUS))


def _parse_date_struct(ps: Section, key: str) -> TrialDate | None:
    where = f"{STATUS}.{key}"
    struct = _obj(_module(ps, STATUS).get(key), where)
    value, kind = _text(struct, "date", where), _text(struct, "type", where)
    try:
        return parse_date(value, kind)
    except ParseError as exc:
        raise ParseError(f"{where}.date: {exc}") from None


def _parse_first_submitted(ps: Section) -> str | None:
    """The registration date: the day the registry first received the record."""
    return _day(_module(ps, STATUS), "studyFirstSubmitDate", STATUS)


def _parse_results_first_posted(ps: Section) -> str | None:
    return _posted(ps, "resultsFirstPostDateStruct")


def _parse_last_update_posted(ps: Section) -> str | None:
    return _posted(ps, "lastUpdatePostDateStruct")


def _posted(ps: Section, key: str) -> str | None:
    where = f"{STATUS}.{key}"
    return _day(_obj(_module(ps, STATUS).get(key), where), "date", where)


def _day(obj: Section, key: str, where: str) -> str | None:
    value = _text(obj, key, where)
    try:
        return iso_day(value)
    except ParseError as exc:
        raise ParseError(f"{where}.{key}: {exc}") from None


# --- design ------------------------------------------------------------------


def _parse_phases(ps: Section) -> list[str] | None:
    return phases(_texts(_module(ps, DESIGN).get("phases"), f"{DESIGN}.phases"))


def _parse_study_type(ps: Section) -> str | None:
    return study_type_word(_text(_module(ps, DESIGN), "studyType", DESIGN))


def _parse_enrollment(ps: Section) -> Enrollment | None:
    where = f"{DESIGN}.enrollmentInfo"
    info = _obj(_module(ps, DESIGN).get("enrollmentInfo"), where)
    if info.get("count") is None:
        return None
    count = whole_count(info["count"], f"{where}.count")
    return Enrollment(count=count, type=date_type(_text(info, "type", where)))


def _parse_conditions(ps: Section) -> list[str] | None:
    where = "conditionsModule"
    return clean_list(_texts(_module(ps, where).get("conditions"), f"{where}.conditions"))


def _parse_interventions(ps: Section) -> list[Intervention] | None:
    module = "armsInterventionsModule"
    out = []
    for where, item in _objects(
        _module(ps, module).get("interventions"), f"{module}.interventions"
    ):
        name = clean_text(_text(item, "name", where))
        if name is not None:
            kind = intervention_type_word(_text(item, "type", where))
            out.append(Intervention(type=kind, name=name))
    return out or None


# --- sponsors ----------------------------------------------------------------


def _parse_lead_sponsor(ps: Section) -> str | None:
    where = "sponsorCollaboratorsModule.leadSponsor"
    lead = _obj(_module(ps, "sponsorCollaboratorsModule").get("leadSponsor"), where)
    return clean_text(_text(lead, "name", where))


def _parse_collaborators(ps: Section) -> list[str] | None:
    module = "sponsorCollaboratorsModule"
    found = _objects(_module(ps, module).get("collaborators"), f"{module}.collaborators")
    return clean_list(_text(item, "name", where) for where, item in found)


# --- eligibility -------------------------------------------------------------

ELIGIBILITY = "eligibilityModule"


def _parse_sex(ps: Section) -> str | None:
    return sex_word(_text(_module(ps, ELIGIBILITY), "sex", ELIGIBILITY))


def _parse_minimum_age(ps: Section) -> str | None:
    return age_text(_text(_module(ps, ELIGIBILITY), "minimumAge", ELIGIBILITY))


def _parse_maximum_age(ps: Section) -> str | None:
    return age_text(_text(_module(ps, ELIGIBILITY), "maximumAge", ELIGIBILITY))


def _parse_healthy_volunteers(ps: Section) -> bool | None:
    value = _module(ps, ELIGIBILITY).get("healthyVolunteers")
    if value is None or isinstance(value, bool):
        return value
    raise ParseError(f"{ELIGIBILITY}.healthyVolunteers is {json_kind(value)}, not true or false")


def _parse_eligibility(ps: Section) -> Eligibility | None:
    raw = _text(_module(ps, ELIGIBILITY), "eligibilityCriteria", ELIGIBILITY)
    return eligibility_from_text(raw.strip() if raw is not None else None)


# --- outcomes and locations --------------------------------------------------


def _parse_outcomes(ps: Section, key: str) -> list[Outcome] | None:
    out = []
    for where, item in _objects(_module(ps, "outcomesModule").get(key), f"outcomesModule.{key}"):
        measure = clean_markdown(_text(item, "measure", where))
        if measure is not None:
            time_frame = clean_markdown(_text(item, "timeFrame", where))
            description = clean_markdown(_text(item, "description", where))
            values = {"measure": measure, "time_frame": time_frame, "description": description}
            if storable(measure, time_frame, description):  # as for sites
                out.append(unchecked(Outcome, values))
            else:
                out.append(Outcome(measure=measure, time_frame=time_frame, description=description))
    return out or None


def _parse_locations(ps: Section) -> list[Location] | None:
    module = "contactsLocationsModule"
    out = []
    for where, item in _objects(_module(ps, module).get("locations"), f"{module}.locations"):
        status = _text(item, "status", where)
        facility = clean_text(_text(item, "facility", where))
        city = clean_text(_text(item, "city", where))
        country = clean_text(_text(item, "country", where))
        state = status_word(status) or enum_word(status)
        if facility is None and city is None and country is None and state is None:
            continue  # nothing of a site: Location()
        # Thousands of sites a study: built unchecked when validation would find nothing.
        values = {"facility": facility, "city": city, "country": country, "status": state}
        if storable(facility, city, country, state):
            out.append(unchecked(Location, values))
        else:
            out.append(Location(facility=facility, city=city, country=country, status=state))
    return out or None
