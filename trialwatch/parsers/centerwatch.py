"""CenterWatch (centerwatch.com) trial pages.

Label map (CenterWatch runs some labels into their values: "SponsorTongji Hospital"):

| label                              | field                                         |
|------------------------------------|-----------------------------------------------|
| (first line of the page)           | brief_title                                   |
| End date                           | completion_date (see below)                   |
| N participants needed              | enrollment (count; no number shown -> None)   |
| sponsor / Sponsor                  | lead_sponsor                                  |
| Updated on / Last Modified on      | last_update_posted                            |
| Condition                          | conditions (comma-separated)                  |
| Treatment                          | interventions (comma-separated, type not shown) |
| Clinical Study Identifier          | nct_id                                        |
| Inclusion/Exclusion Criteria       | eligibility, when the page shows them         |

"End date" is read as the study completion date, as ClinicalTrialExchange's "Trial end
date" is (see clinicaltrialexchange.py); its type is not shown.

The topic tags under "Updated on" (e.g. "neutrophil count") are search keywords, not the
trial's conditions, and are not read.
"""

from __future__ import annotations

import re

from trialwatch.parsers.clean import clean_list, iso_day, parse_date, status_word
from trialwatch.parsers.site_words import count_in, is_status_phrase, sponsor_name
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

SOURCE = "centerwatch"

_NEEDED = re.compile(r"(?:\d[\d,]*\s+)?participants needed", re.IGNORECASE)
LABELS = [
    Label("End date"),
    Label("participants needed", pattern=_NEEDED),
    Label("sponsor", same_line=True),
    Label("Updated on", same_line=True),
    Label("Condition", same_line=True),
    Label("Treatment", same_line=True),
    Label("Clinical Study Identifier", same_line=True),
    Label("Last Modified on", same_line=True),
    Label("Eligibility"),
    Label("How to participate?"),
    Label("Similar trials to consider"),
]
ANCHORS = ["End date", "Clinical Study Identifier", "Updated on", "Last Modified on"]


def parse(body: bytes, url: str | None = None, warnings: list[str] | None = None) -> TrialRecord:
    """A CenterWatch trial page (HTML or its visible text) -> TrialRecord."""
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
        conditions=_parse_conditions(s),
        interventions=_parse_interventions(s),
        lead_sponsor=sponsor_name(json_text(s.page, "sponsor") or s.first("sponsor")),
        enrollment=_parse_enrollment(s),
        completion_date=_parse_completion_date(s),
        eligibility=_parse_eligibility(s),
        last_update_posted=_parse_last_update_posted(s),
    )
    shows = ("eligibility",) if criteria_lines(s) else ()  # a criteria heading shown
    note_missing(warnings, "CenterWatch", record, shows)
    return finish(record, url)


def _parse_nct_id(s: Sections) -> str | None:
    for value in json_list(s.page, "identifier") + s.values("Clinical Study Identifier"):
        if nct := nct_in(value):
            return nct
    return None


def _parse_brief_title(s: Sections) -> str | None:
    preamble = s.preamble()
    return json_text(s.page, "name") or (preamble[0] if preamble else None)


def _parse_status_raw(s: Sections) -> str | None:
    """A status chip ("Recruiting") among the lines before the first label, if shown."""
    chips = [line for line in s.preamble()[1:] if is_status_phrase(line)]
    return json_text(s.page, "status") or (chips[0] if chips else None)


def _split_commas(value: str | None) -> list[str]:
    return [part for part in (value or "").split(", ") if part.strip()]


def _parse_conditions(s: Sections) -> list[str] | None:
    return clean_list(json_list(s.page, "healthCondition") or _split_commas(s.first("Condition")))


def _parse_interventions(s: Sections) -> list[Intervention] | None:
    names = clean_list(_split_commas(s.first("Treatment")))
    return [Intervention(name=name) for name in names] if names else None


def _parse_enrollment(s: Sections) -> Enrollment | None:
    section = s.get("participants needed")
    count = count_in(section.heading) if section is not None else None
    return Enrollment(count=count) if count else None


def _parse_completion_date(s: Sections) -> TrialDate | None:
    return parse_date(s.first("End date"))


def _parse_last_update_posted(s: Sections) -> str | None:
    return iso_day(s.first("Updated on", "Last Modified on"))


def _parse_eligibility(s: Sections) -> Eligibility | None:
    return eligibility_from_lines(criteria_lines(s))
