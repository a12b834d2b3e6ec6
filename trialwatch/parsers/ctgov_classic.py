"""The retired classic ClinicalTrials.gov XML record (`<clinical_study>`).

Words are mapped onto the API v2 vocabulary ("Active, not recruiting" ->
ACTIVE_NOT_RECRUITING, "Anticipated" -> ESTIMATED, "Phase 1/Phase 2" -> PHASE1, PHASE2)
so that a classic record and a v2 record of the same facts compare equal.
"""

from __future__ import annotations

import textwrap
from typing import TypeAlias

from lxml import etree
from pydantic import ValidationError

from trialwatch.parsers import ParseError, invalid
from trialwatch.parsers.clean import (
    age_text,
    check_nct_id,
    clean_list,
    clean_text,
    date_type,
    decode_body,
    enum_word,
    intervention_type_word,
    iso_day,
    parse_date,
    phases,
    sex_word,
    status_word,
    study_type_word,
    whole_count,
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

SOURCE = "ctgov_classic"
SHOW_URL = "https://clinicaltrials.gov/show/{nct_id}"

Element: TypeAlias = etree._Element

# What every classic record carries, a WITHHELD one included (see ctgov.REQUIRED).
REQUIRED = ("id_info/nct_id", "brief_title", "overall_status")


def parse(body: bytes, url: str | None = None, *, complete: bool = False) -> TrialRecord:
    """A classic `<clinical_study>` XML document -> TrialRecord."""
    root = parse_xml(body)
    if root.tag != "clinical_study":
        raise ParseError(f"XML root is <{_local(root.tag)}>, not <clinical_study>")
    nct_id = check_nct_id(root.findtext("id_info/nct_id"))
    if complete:
        check_complete(root)
    try:
        return TrialRecord(
            nct_id=nct_id,
            secondary_ids=_parse_secondary_ids(root),
            source=SOURCE,
            source_url=url or _parse_source_url(root, nct_id),
            brief_title=_text(root, "brief_title"),
            official_title=_text(root, "official_title"),
            acronym=_text(root, "acronym"),
            overall_status=status_word(root.findtext("overall_status")),
            status_raw=_text(root, "overall_status"),
            why_stopped=_text(root, "why_stopped"),
            phases=_parse_phases(root),
            study_type=study_type_word(root.findtext("study_type")),
            conditions=clean_list(e.text for e in root.findall("condition")),
            interventions=_parse_interventions(root),
            lead_sponsor=_text(root, "sponsors/lead_sponsor/agency"),
            collaborators=clean_list(e.text for e in root.findall("sponsors/collaborator/agency")),
            enrollment=_parse_enrollment(root),
            start_date=_parse_date(root, "start_date"),
            primary_completion_date=_parse_date(root, "primary_completion_date"),
            completion_date=_parse_date(root, "completion_date"),
            sex=sex_word(root.findtext("eligibility/gender")),
            minimum_age=age_text(root.findtext("eligibility/minimum_age")),
            maximum_age=age_text(root.findtext("eligibility/maximum_age")),
            healthy_volunteers=yes_no(root.findtext("eligibility/healthy_volunteers")),
            eligibility=_parse_eligibility(root),
            primary_outcomes=_parse_outcomes(root, "primary_outcome"),
            secondary_outcomes=_parse_outcomes(root, "secondary_outcome"),
            locations=_parse_locations(root),
            first_submitted=_parse_first_submitted(root),
            results_first_posted=_parse_results_first_posted(root),
            last_update_posted=_parse_last_update_posted(root),
            registry_version=None,
        )
    except ParseError:
        raise
    except ValidationError as exc:
        raise invalid(exc) from None
    except (AttributeError, TypeError, ValueError) as exc:
        # Elements of an unexpected shape: name the problem, not a traceback.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParseError(f"clinical_study has an unexpected structure: {first}") from None


def check_complete(root: Element) -> None:
    """Raise ParseError unless the record holds what every classic record has."""
    missing = [path for path in REQUIRED if _text(root, path) is None]
    if missing:
        raise ParseError(f"not a whole registry record: <{'>, <'.join(missing)}> missing")


def parse_xml(body: bytes) -> Element:
    """Parse bytes as XML without resolving entities or touching the network."""
    decode_body(body)  # empty / non-UTF-8 -> ParseError with a clear message
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML: {exc.msg}") from None
    if root is None:
        raise ParseError("not well-formed XML: no root element")
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


def _text(root: Element, path: str) -> str | None:
    return clean_text(root.findtext(path))


def _parse_source_url(root: Element, nct_id: str) -> str:
    """The record's own address from its header, else the classic show page."""
    return _text(root, "required_header/url") or SHOW_URL.format(nct_id=nct_id)


def _parse_secondary_ids(root: Element) -> list[str] | None:
    """The sponsor's own study id first, then the secondary ids (same order as v2)."""
    ids = [root.findtext("id_info/org_study_id")]
    ids += [e.text for e in root.findall("id_info/secondary_id")]
    return clean_list(ids)


def _parse_phases(root: Element) -> list[str] | None:
    found = phases([e.text for e in root.findall("phase")])
    # Older records say <phase>N/A</phase> on observational studies; API v2 (and later
    # classic records) give those no phase at all, and a schema change is not a change.
    if found == ["NA"] and study_type_word(root.findtext("study_type")) == "OBSERVATIONAL":
        return None
    return found


def _parse_date(root: Element, tag: str) -> TrialDate | None:
    element = root.find(tag)
    if element is None:
        return None
    return parse_date(element.text, element.get("type"))


def _parse_first_submitted(root: Element) -> str | None:
    # Records before 2017 call it firstreceived_date (the registry's note in those files:
    # "firstreceived_date becomes study_first_submitted").
    return iso_day(root.findtext("study_first_submitted")) or iso_day(
        root.findtext("firstreceived_date")
    )


def _parse_results_first_posted(root: Element) -> str | None:
    # Its type attribute (Actual/Estimate) is not kept. Records before 2017 give no date of
    # posting, only firstreceived_results_date, the day results were submitted: not this.
    return iso_day(root.findtext("results_first_posted"))


def _parse_last_update_posted(root: Element) -> str | None:
    # Records before 2017 only carry lastchanged_date (the last update date of that era).
    return iso_day(root.findtext("last_update_posted")) or iso_day(
        root.findtext("lastchanged_date")
    )


def _parse_enrollment(root: Element) -> Enrollment | None:
    element = root.find("enrollment")
    text = clean_text(element.text) if element is not None else None
    if element is None or text is None:
        return None
    count = whole_count(text, "enrollment")
    return Enrollment(count=count, type=date_type(element.get("type")))


def _parse_interventions(root: Element) -> list[Intervention] | None:
    out = []
    for element in root.findall("intervention"):
        name = _text(element, "intervention_name")
        if name is not None:
            kind = intervention_type_word(element.findtext("intervention_type"))
            out.append(Intervention(type=kind, name=name))
    return out or None


def _textblock(element: Element | None) -> str | None:
    """A textblock without its XML indentation; line structure kept for the criteria."""
    if element is None or element.text is None:
        return None
    text = textwrap.dedent(element.text.replace("\r\n", "\n")).strip()
    return text or None


def _parse_eligibility(root: Element) -> Eligibility | None:
    # The textblock is plain text: read it so, even where it looks like markdown.
    return eligibility_from_text(_textblock(root.find("eligibility/criteria/textblock")), "plain")


def _parse_outcomes(root: Element, tag: str) -> list[Outcome] | None:
    out = []
    for element in root.findall(tag):
        measure = _text(element, "measure")
        if measure is not None:
            out.append(
                Outcome(
                    measure=measure,
                    time_frame=_text(element, "time_frame"),
                    description=_text(element, "description"),
                )
            )
    return out or None


def _parse_locations(root: Element) -> list[Location] | None:
    out = []
    for element in root.findall("location"):
        status = element.findtext("status")
        location = Location(
            facility=_text(element, "facility/name"),
            city=_text(element, "facility/address/city"),
            country=_text(element, "facility/address/country"),
            status=status_word(status) or enum_word(status),
        )
        if location != Location():
            out.append(location)
    return out or None
