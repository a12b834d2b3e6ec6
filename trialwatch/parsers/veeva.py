"""ClinicalTrials.Veeva (ctv.veeva.com) trial pages.

Label map (each label on its own line, its value on the lines after it):

| label                                   | field                                      |
|-----------------------------------------|--------------------------------------------|
| (first line of 3+ words before labels)  | brief_title                                |
| (line under the title; not a 1-letter avatar) | lead_sponsor                         |
| Status and phase                        | overall_status + status_raw, phases        |
| Conditions                              | conditions (one per line)                  |
| Treatments                              | interventions ("Biological: Name")         |
| Study type                              | study_type                                 |
| Identifiers                             | nct_id (NCT line), secondary_ids (others)  |
| Enrollment                              | enrollment ("15 patients"; type not shown) |
| Sex                                     | sex                                        |
| Ages                                    | minimum_age, maximum_age ("18 to 80 years old") |
| Volunteers                              | healthy_volunteers ("No Healthy Volunteers") |
| Inclusion criteria / Exclusion criteria | eligibility                                |

"Funder types", "About", "Full description", "Trial design" and the arms have no record
field; "Trial contacts and locations" shows only a count until its list loads, so
locations stay None.
"""

from __future__ import annotations

import re

from trialwatch.parsers.clean import clean_list, phases, sex_word, status_word, study_type_word
from trialwatch.parsers.site_words import (
    age_range,
    count_in,
    healthy_volunteers_word,
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
from trialwatch.record import Eligibility, Enrollment, Intervention, TrialRecord

SOURCE = "veeva"
# What every page of the site shows: a page read without one of them is reported.
SHOWS = ("status", "phase", "eligibility")

LABELS = [
    Label(text)
    for text in (
        "Status and phase",
        "Conditions",
        "Treatments",
        "Study type",
        "Funder types",
        "Identifiers",
        "Details and patient eligibility",
        "About",
        "Full description",
        "Enrollment",
        "Sex",
        "Ages",
        "Volunteers",
        "Inclusion criteria",
        "Exclusion criteria",
        "Trial design",
        "Primary purpose",
        "Allocation",
        "Interventional model",
        "Masking",
        "Trial contacts and locations",
        "Data sourced from clinicaltrials.gov",
    )
]
ANCHORS = ["Status and phase", "Identifiers", "Conditions", "Study type", "Enrollment"]
_PHASE_WORD = re.compile(r"\b(?:phase|n/a)\b", re.IGNORECASE)


def parse(body: bytes, url: str | None = None, warnings: list[str] | None = None) -> TrialRecord:
    """A ClinicalTrials.Veeva trial page (HTML or its visible text) -> TrialRecord."""
    s = Sections(read_page(body), LABELS)
    require_labels(s, ANCHORS)
    status = _parse_status_raw(s)
    minimum_age, maximum_age = age_range(s.first("Ages"))
    record = TrialRecord(
        nct_id=_parse_nct_id(s),
        secondary_ids=_parse_secondary_ids(s),
        source=SOURCE,
        source_url=url,
        brief_title=_parse_brief_title(s),
        overall_status=status_word(status),
        status_raw=status,
        phases=_parse_phases(s),
        study_type=study_type_word(s.first("Study type")),
        conditions=_parse_conditions(s),
        interventions=_parse_interventions(s),
        lead_sponsor=_parse_lead_sponsor(s),
        enrollment=_parse_enrollment(s),
        sex=sex_word(s.first("Sex")),
        minimum_age=minimum_age,
        maximum_age=maximum_age,
        healthy_volunteers=healthy_volunteers_word(s.first("Volunteers")),
        eligibility=_parse_eligibility(s),
    )
    note_missing(warnings, "ClinicalTrials.Veeva", record, SHOWS)
    return finish(record, url)


def _identifiers(s: Sections) -> list[str]:
    return json_list(s.page, "identifier") or s.values("Identifiers")


def _parse_nct_id(s: Sections) -> str | None:
    return next((nct for value in _identifiers(s) if (nct := nct_in(value))), None)


def _parse_secondary_ids(s: Sections) -> list[str] | None:
    return clean_list(value for value in _identifiers(s) if nct_in(value) is None)


def _title_index(preamble: list[str]) -> int | None:
    # The site name ("ClinicalTrials.Veeva") and menu words come first: a title has words.
    return next((i for i, line in enumerate(preamble) if len(line.split()) >= 3), None)


def _parse_brief_title(s: Sections) -> str | None:
    preamble = s.preamble()
    index = _title_index(preamble)
    return json_text(s.page, "name") or (preamble[index] if index is not None else None)


def _parse_lead_sponsor(s: Sections) -> str | None:
    """The line under the title; a one-letter line before it is the sponsor's avatar."""
    if sponsor := json_text(s.page, "sponsor"):
        return sponsor_name(sponsor)
    preamble = s.preamble()
    index = _title_index(preamble)
    after = preamble[index + 1 :] if index is not None else []
    return sponsor_name(next((line for line in after if len(line) > 1), None))


def _status_and_phase(s: Sections) -> tuple[list[str], list[str]]:
    values = s.values("Status and phase")
    phase_lines = [v for v in values if _PHASE_WORD.search(v)]
    return [v for v in values if not _PHASE_WORD.search(v)], phase_lines


def _parse_status_raw(s: Sections) -> str | None:
    statuses, _ = _status_and_phase(s)
    return json_text(s.page, "status") or (statuses[0] if statuses else None)


def _parse_phases(s: Sections) -> list[str] | None:
    _, phase_lines = _status_and_phase(s)
    return phases(json_list(s.page, "phase") or phase_lines)


def _parse_conditions(s: Sections) -> list[str] | None:
    return clean_list(json_list(s.page, "healthCondition") or s.values("Conditions"))


def _parse_interventions(s: Sections) -> list[Intervention] | None:
    out: list[Intervention] = []
    for value in s.values("Treatments"):
        typed = typed_intervention(value)
        item = Intervention(type=typed[0], name=typed[1]) if typed else Intervention(name=value)
        out.append(item)
    return list(dict.fromkeys(out)) or None  # repeats dropped, first kept


def _parse_enrollment(s: Sections) -> Enrollment | None:
    count = count_in(s.first("Enrollment"))
    return Enrollment(count=count) if count is not None else None


def _parse_eligibility(s: Sections) -> Eligibility | None:
    return eligibility_from_lines(criteria_lines(s))
