"""Generic trial-finder pages: a record shown as labelled sections and value "chips".

For sites without a parser of their own (trials.co, clincosm, trialx, the trial-finder page
of seeds 000/001, ...), chosen with `--source trialpage`. What it reads:

- brief_title: the first line of three or more words before any label;
- chips before the first label: a status word ("Non Recruiting") -> status, an age range
  ("18-60 years") -> minimum_age/maximum_age, All/Female/Male -> sex;
- Overall Status / Recruitment Status / Status -> overall_status, status_raw;
- nct_id: CT.gov ID / NCT ID / NCT Number, else a line that is only an NCT id, else the
  page's address;
- Study details (conditions, NCT id, sponsor, date, in that order) -> conditions,
  lead_sponsor;
- Sponsor / Lead Sponsor ("Zhejiang University (Other)") -> lead_sponsor, class dropped;
- Collaborator -> collaborators ("(none)" -> None);
- Official Title: -> official_title; Study Type: -> study_type;
- Anticipated / Estimated / Actual Enrollment : -> enrollment, with its type;
- Anticipated / Actual Study Start, Primary Completion, Study Completion Date : -> the
  three dates, with their type;
- a line "Drug: Name", "Biological: Name", ... -> interventions;
- a line that is only "Phase 1", "Phase 2/Phase 3", ... -> phases;
- Conditions / Condition -> conditions; Sex / Gender -> sex; Ages / Age -> ages;
- Inclusion Criteria: ... Exclusion Criteria: ... -> eligibility.

The unlabelled date in "Study details" is not read: the page does not say which date it is,
and a guess would report false slips.
"""

from __future__ import annotations

import re

from trialwatch.parsers.clean import (
    clean_list,
    parse_date,
    phases,
    sex_word,
    status_word,
    study_type_word,
)
from trialwatch.parsers.site_words import (
    age_range,
    count_in,
    date_type_in,
    is_status_phrase,
    sponsor_name,
    typed_intervention,
)
from trialwatch.parsers.sitecriteria import criteria_lines, eligibility_from_lines
from trialwatch.parsers.sitelabels import (
    Label,
    Sections,
    finish,
    nct_in,
    note_missing,
    require_labels,
)
from trialwatch.parsers.sitepage import json_list, json_text, read_page
from trialwatch.record import Eligibility, Enrollment, Intervention, TrialDate, TrialRecord

SOURCE = "trialpage"

_ENROLLMENT = re.compile(r"(?:anticipated|estimated|actual)?\s*enrollment\s*:?", re.IGNORECASE)
_DATES = {
    "start_date": "study start",
    "primary_completion_date": "primary completion",
    "completion_date": "study completion",
}
_DATE_LABEL = re.compile(
    r"(?:anticipated|estimated|expected|actual)?\s*"
    r"(study start|primary completion|study completion)\s+date\s*:?",
    re.IGNORECASE,
)
_PHASE_LINE = re.compile(
    r"(?:early\s+)?phase\s*(?:[1-4]|i{1,3}|iv)(?:\s*/\s*(?:phase\s*)?(?:[1-4]|i{1,3}|iv))*|n/a",
    re.IGNORECASE,
)
_SEX_CHIP = re.compile(r"all|both|female|male", re.IGNORECASE)

_HEADINGS = (
    "Overview",
    "Description",
    "Powered by AI",
    "Eligibility",
    "Eligibility Criteria",
    "Study details",
    "FAQs",
    "About this trial",
    "Study Description",
    "Brief Summary",
    "Study Design",
    "Allocation:",
    "Intervention Model:",
    "Masking:",
    "Primary Purpose:",
    "Arms and Interventions",
    "Outcome Measures",
    "Primary Outcome Measures",
    "Secondary Outcome Measures",
    "Condition or Disease Intervention/Treatment Phase",
    "Locations",
    "Contacts and Locations",
)
_FIELDS = (
    "Overall Status",
    "Status",
    "Recruitment Status",
    "CT.gov ID",
    "NCT ID",
    "NCT Number",
    "Sponsor",
    "Lead Sponsor",
    "Collaborator",
    "Collaborators",
    "Official Title:",
    "Study Type:",
    "Conditions",
    "Condition",
    "Sex",
    "Gender",
    "Ages",
    "Age",
)
LABELS = (
    [Label(text) for text in _HEADINGS + _FIELDS]
    + [Label("enrollment", pattern=_ENROLLMENT)]
    + [Label(key, pattern=_DATE_LABEL) for key in ("trial date",)]
)
ANCHORS = [
    "Overall Status",
    "Status",
    "CT.gov ID",
    "NCT ID",
    "Eligibility",
    "Eligibility Criteria",
    "Study details",
    "Study Type:",
]
_CRITERIA_STOPS = [h for h in _HEADINGS if h not in ("Eligibility", "Eligibility Criteria")]


def parse(body: bytes, url: str | None = None, warnings: list[str] | None = None) -> TrialRecord:
    """A trial-finder page (HTML or its visible text) -> TrialRecord."""
    s = Sections(read_page(body), LABELS)
    require_labels(s, ANCHORS)
    status = _parse_status_raw(s)
    minimum_age, maximum_age = _parse_ages(s)
    record = TrialRecord(
        nct_id=_parse_nct_id(s),
        source=SOURCE,
        source_url=url,
        brief_title=_parse_brief_title(s),
        official_title=s.first("Official Title:"),
        overall_status=status_word(status),
        status_raw=status,
        phases=_parse_phases(s),
        study_type=study_type_word(s.first("Study Type:")),
        conditions=_parse_conditions(s),
        interventions=_parse_interventions(s),
        lead_sponsor=_parse_lead_sponsor(s),
        collaborators=_parse_collaborators(s),
        enrollment=_parse_enrollment(s),
        start_date=_parse_date(s, "start_date"),
        primary_completion_date=_parse_date(s, "primary_completion_date"),
        completion_date=_parse_date(s, "completion_date"),
        sex=_parse_sex(s),
        minimum_age=minimum_age,
        maximum_age=maximum_age,
        eligibility=_parse_eligibility(s),
    )
    note_missing(warnings, "Trial-finder", record, _shows(s))
    return finish(record, url)


def _shows(s: Sections) -> tuple[str, ...]:
    """A trial-finder page that shows its NCT id is a record page: it shows the status and
    phase (chips or labels); eligibility where it shows a criteria heading."""
    shows = ("status", "phase") if _parse_nct_id(s) else ()
    return shows + (("eligibility",) if criteria_lines(s, _CRITERIA_STOPS) else ())


def _chips(s: Sections) -> list[str]:
    """The lines before the first label, after the title: status, ages, sex, phase chips."""
    preamble = s.preamble()
    title = _parse_brief_title(s)
    return [line for line in preamble if line != title]


def _outside_criteria(s: Sections) -> list[str]:
    criteria = {line.text for line in criteria_lines(s, _CRITERIA_STOPS)}
    return [line.text for section in s.items for line in section.lines if line.text not in criteria]


def _parse_brief_title(s: Sections) -> str | None:
    title = next((line for line in s.preamble() if len(line.split()) >= 3), None)
    return json_text(s.page, "name") or title


def _parse_nct_id(s: Sections) -> str | None:
    labelled = json_list(s.page, "identifier") + [
        value for text in ("CT.gov ID", "NCT ID", "NCT Number") for value in s.values(text)
    ]
    for value in labelled + _outside_criteria(s):
        if nct := nct_in(value):
            return nct
    return None


def _parse_status_raw(s: Sections) -> str | None:
    chips = [line for line in _chips(s) if is_status_phrase(line)]
    labelled = s.first("Overall Status", "Recruitment Status", "Status")
    return json_text(s.page, "status") or labelled or (chips[0] if chips else None)


def _parse_phases(s: Sections) -> list[str] | None:
    found = json_list(s.page, "phase") or [
        line for line in _outside_criteria(s) if _PHASE_LINE.fullmatch(line)
    ]
    return phases(found[:1])


def _parse_conditions(s: Sections) -> list[str] | None:
    labelled = json_list(s.page, "healthCondition") or s.values("Conditions")
    if not labelled and s.values("Condition"):
        labelled = s.values("Condition")
    if not labelled:
        details = s.values("Study details")
        ids = [i for i, line in enumerate(details) if nct_in(line)]
        labelled = details[: ids[0]] if ids else []
    return clean_list(labelled)


def _parse_lead_sponsor(s: Sections) -> str | None:
    labelled = json_text(s.page, "sponsor") or s.first("Lead Sponsor", "Sponsor")
    if labelled is None:
        details = s.values("Study details")
        ids = [i for i, line in enumerate(details) if nct_in(line)]
        after = details[ids[0] + 1 :] if ids else []
        labelled = after[0] if after and not _is_date(after[0]) else None
    return sponsor_name(labelled)


def _is_date(text: str) -> bool:
    try:
        return parse_date(text) is not None
    except ValueError:
        return False


def _parse_interventions(s: Sections) -> list[Intervention] | None:
    out: list[Intervention] = []
    for line in _outside_criteria(s):
        if (typed := typed_intervention(line)) is not None:
            out.append(Intervention(type=typed[0], name=typed[1]))
    return list(dict.fromkeys(out)) or None  # repeats dropped, first kept


def _parse_collaborators(s: Sections) -> list[str] | None:
    # One line: the unlabelled figures some layouts print after it are not collaborators.
    return clean_list([sponsor_name(s.first("Collaborator", "Collaborators"))])


def _parse_enrollment(s: Sections) -> Enrollment | None:
    section = s.get("enrollment")
    count = count_in(section.first()) if section is not None else None
    if section is None or count is None:
        return None
    return Enrollment(count=count, type=date_type_in(section.heading))


def _parse_date(s: Sections, field: str) -> TrialDate | None:
    for section in s.items:
        if section.label is None or section.label.pattern is not _DATE_LABEL:
            continue
        m = _DATE_LABEL.fullmatch(section.heading)
        if m and m[1].lower() == _DATES[field]:
            return parse_date(section.first(), date_type_in(section.heading))
    return None


def _parse_sex(s: Sections) -> str | None:
    chips = [line for line in _chips(s) if _SEX_CHIP.fullmatch(line)]
    return sex_word(s.first("Sex", "Gender") or (chips[0] if chips else None))


def _parse_ages(s: Sections) -> tuple[str | None, str | None]:
    labelled = s.first("Ages", "Age")
    if labelled is not None:
        return age_range(labelled)
    for chip in _chips(s):
        ages = age_range(chip)
        if ages != (None, None):
            return ages
    return None, None


def _parse_eligibility(s: Sections) -> Eligibility | None:
    return eligibility_from_lines(criteria_lines(s, _CRITERIA_STOPS))
