"""summary(): one neutral plain-text line per change."""

from __future__ import annotations

from typing import Any

import pytest
from diffing_support import V2_SMALL, load_study, parse_fixture, parse_v2

from trialwatch.diffing import Change, compare, summary


def _edited(edit: Any) -> list[Change]:
    study = load_study(V2_SMALL)
    old = parse_v2(study)
    edit(study["protocolSection"])
    return compare(old, parse_v2(study))


def test_real_version_pair_lines() -> None:
    old = parse_fixture("ctgov_classic_xml_NCT00513591_redownloaded.xml")
    new = parse_fixture("ctgov_classic_xml_NCT00513591.xml")
    assert [summary(c) for c in compare(old, new)] == [
        "primary_completion_date: 2017-12 (ESTIMATED) \u2192 2018-06 (ESTIMATED), +182 days",
        "completion_date: (none) \u2192 2018-06 (ESTIMATED)",
        "enrollment: 500 (ESTIMATED) \u2192 1000 (ESTIMATED)",
    ]


def test_locations_and_collaborators_lines() -> None:
    old = parse_fixture("ctgov_v2_NCT04267848_complex_variant.json")
    new = parse_fixture("ctgov_v2_NCT04267848.json")
    assert [summary(c) for c in compare(old, new)] == [
        "locations: +1146 \u22120",
        "sponsor: collaborators +0 \u22122 (removed: Genentech; Pfizer)",
    ]


def _criteria(ps: dict) -> None:
    module = ps["eligibilityModule"]
    module["eligibilityCriteria"] = module["eligibilityCriteria"].replace(
        "Age over 18 years.", "Age over 21 years."
    )


def _status(ps: dict) -> None:
    ps["statusModule"].update(overallStatus="TERMINATED", whyStopped="Slow recruitment")


def _actual(ps: dict) -> None:
    ps["statusModule"]["completionDateStruct"]["type"] = "ACTUAL"


def _earlier(ps: dict) -> None:
    ps["statusModule"]["startDateStruct"]["date"] = "2018-07"


def _volunteers(ps: dict) -> None:
    ps["eligibilityModule"]["healthyVolunteers"] = True


def _phase(ps: dict) -> None:
    ps["designModule"]["phases"] = ["PHASE4"]


def _acronym(ps: dict) -> None:
    ps["identificationModule"]["acronym"] = "BiOSS"


def _condition(ps: dict) -> None:
    ps["conditionsModule"]["conditions"].append("Coronary Stenosis")


def _interventions(ps: dict) -> None:
    items = ps["armsInterventionsModule"]["interventions"]
    items[0]["type"] = "DEVICE"
    items.append({"type": "DRUG", "name": "Clopidogrel"})


def _site(ps: dict) -> None:
    ps["contactsLocationsModule"]["locations"][0]["status"] = "COMPLETED"


def _outcome(ps: dict) -> None:
    ps["outcomesModule"]["secondaryOutcomes"].pop()


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (_criteria, "eligibility_criteria: inclusion +0 \u22120 ~1; exclusion +0 \u22120 ~0"),
        (_status, "status: UNKNOWN \u2192 TERMINATED (why stopped: Slow recruitment)"),
        (
            _actual,
            "completion_date: 2019-12-30 (ESTIMATED) \u2192 2019-12-30 (ACTUAL), same date",
        ),
        (_earlier, "start_date: 2018-08-16 (ACTUAL) \u2192 2018-07 (ACTUAL), \u221246 days"),
        (_volunteers, "eligibility: healthy_volunteers no \u2192 yes"),
        (_phase, "phase: (none) \u2192 PHASE4"),
        (_acronym, "title: acronym BIOSS \u2192 BiOSS"),
        (_condition, "conditions: +1 \u22120 (added: Coronary Stenosis)"),
        (
            _interventions,
            "interventions: +1 \u22120 ~1 (added: Clopidogrel; "
            "changed: Coronary angioplasty with stent implantation)",
        ),
        (_site, "locations: +0 \u22120, 1 site status change"),
        (_outcome, "secondary_outcome: +0 \u22121 ~0"),
    ],
)
def test_summary_lines(edit: Any, line: str) -> None:
    [change] = _edited(edit)
    assert summary(change) == line


def test_summary_is_one_plain_line() -> None:
    change = Change("status", "RECRUITING", "TERMINATED", {"why_stopped": "Funding\nended"})
    text = summary(change)
    assert text == "status: RECRUITING \u2192 TERMINATED (why stopped: Funding ended)"
    assert "\x1b" not in text and "<" not in text


def test_unknown_kind_falls_back_to_before_after() -> None:
    assert summary(Change("source_discrepancy", "RECRUITING", "COMPLETED", {})) == (
        "source_discrepancy: RECRUITING \u2192 COMPLETED"
    )
