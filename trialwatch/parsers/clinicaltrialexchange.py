"""ClinicalTrialExchange (clinicaltrialexchange.com) trial pages.

Label map (value on the next line(s); a value the layout repeats is read once):

| label                          | field                                         |
|--------------------------------|-----------------------------------------------|
| Overview (first line after it) | brief_title                                   |
| Status:                        | overall_status, status_raw                    |
| Trial end date:                | completion_date (see below)                   |
| Target enrollment:             | enrollment (a "0" is read as not given)       |
| Participant gender:            | sex                                           |
| Phase:                         | phases                                        |
| Accepts Healthy Volunteers?    | healthy_volunteers                            |
| Lead Sponsor:                  | lead_sponsor                                  |
| Criteria (Inclusion/Exclusion) | eligibility                                   |
| (address) .../NCTxxxxxxxx      | nct_id, as the page itself shows none         |

"Trial end date" is read as the study completion date, the registry's "end" of a study
(the primary completion date is the end of data collection for the primary outcome, which
the site does not name). Its type is not given, so it is left None.

"Target enrollment: 0" is shown for trials the registry lists with a real target (the
page for NCT05828225 says 0 where the registry's anticipated enrollment is 9), so 0 is
read as "not given": enrollment None.
"""

from __future__ import annotations

from trialwatch.parsers.clean import parse_date, phases, sex_word, status_word
from trialwatch.parsers.site_words import count_in, healthy_volunteers_word, sponsor_name
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
from trialwatch.record import Eligibility, Enrollment, TrialDate, TrialRecord

SOURCE = "clinicaltrialexchange"
# What every page of the site shows: a page read without one of them is reported.
SHOWS = ("status", "phase", "eligibility")

LABELS = [
    Label("Overview"),
    Label("Status:"),
    Label("Trial end date:"),
    Label("Target enrollment:"),
    Label("Participant gender:"),
    Label("Summary"),
    # The layout runs these into the text before them ("...patients.Phase:", "NoDetails").
    Label("Phase:", inline=True),
    Label("Accepts Healthy Volunteers?", inline=True),
    Label("Details", inline=True),
    Label("Lead Sponsor:", inline=True),
    Label("Criteria"),
]
ANCHORS = [
    "Status:",
    "Trial end date:",
    "Target enrollment:",
    "Participant gender:",
    "Lead Sponsor:",
]


def parse(body: bytes, url: str | None = None, warnings: list[str] | None = None) -> TrialRecord:
    """A ClinicalTrialExchange trial page (HTML or its visible text) -> TrialRecord."""
    s = Sections(read_page(body), LABELS)
    require_labels(s, ANCHORS)
    status = _parse_status_raw(s)
    record = TrialRecord(
        nct_id=_parse_nct_id(s),
        source=SOURCE,
        source_url=url,
        brief_title=_parse_brief_title(s),
        overall_status=status_word(status),
        status_raw=status,
        phases=_parse_phases(s),
        lead_sponsor=_parse_lead_sponsor(s),
        enrollment=_parse_enrollment(s),
        completion_date=_parse_completion_date(s),
        sex=_parse_sex(s),
        healthy_volunteers=_parse_healthy_volunteers(s),
        eligibility=_parse_eligibility(s),
    )
    note_missing(warnings, "ClinicalTrialExchange", record, SHOWS)
    return finish(record, url)


def _parse_nct_id(s: Sections) -> str | None:
    for value in json_list(s.page, "identifier"):
        if nct := nct_in(value):
            return nct
    return None


def _parse_brief_title(s: Sections) -> str | None:
    return json_text(s.page, "name") or s.first("Overview")


def _parse_status_raw(s: Sections) -> str | None:
    return json_text(s.page, "status") or s.first("Status:")


def _parse_phases(s: Sections) -> list[str] | None:
    return phases(json_text(s.page, "phase") or s.first("Phase:"))


def _parse_lead_sponsor(s: Sections) -> str | None:
    return sponsor_name(json_text(s.page, "sponsor") or s.first("Lead Sponsor:"))


def _parse_enrollment(s: Sections) -> Enrollment | None:
    count = count_in(s.first("Target enrollment:"))
    return Enrollment(count=count) if count else None  # 0 means "not given" (module doc)


def _parse_completion_date(s: Sections) -> TrialDate | None:
    return parse_date(s.first("Trial end date:"))


def _parse_sex(s: Sections) -> str | None:
    return sex_word(s.first("Participant gender:"))


def _parse_healthy_volunteers(s: Sections) -> bool | None:
    return healthy_volunteers_word(s.first("Accepts Healthy Volunteers?"))


def _parse_eligibility(s: Sections) -> Eligibility | None:
    return eligibility_from_lines(criteria_lines(s, stop_at=["Overview", "Status:"]))
