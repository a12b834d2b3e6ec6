"""The grade of each change kind, one example each from one minimal edit of a real record
(the rules are in docs/grades.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from diffing_support import Study, graded, set_field


def _outcome_time(ps: Study) -> None:
    ps["outcomesModule"]["primaryOutcomes"][0]["timeFrame"] = "7 days"


def _outcome_case(ps: Study) -> None:
    first = ps["outcomesModule"]["primaryOutcomes"][0]
    first["measure"] = first["measure"].upper()


def _outcome_demoted(ps: Study) -> None:
    module = ps["outcomesModule"]
    module["secondaryOutcomes"].append(module["primaryOutcomes"].pop(2))


def _site_added(ps: Study) -> None:
    ps["contactsLocationsModule"]["locations"].append(
        {"facility": "Hospital del Mar", "city": "Barcelona", "country": "Spain"}
    )


def _site_respelled(ps: Study) -> None:
    site = ps["contactsLocationsModule"]["locations"][0]
    site["facility"] = site["facility"].upper()


@pytest.mark.parametrize(
    ("edit", "grade", "reason"),
    [
        (set_field("statusModule.overallStatus", "COMPLETED"), "major", "status changed"),
        (
            set_field("statusModule.primaryCompletionDateStruct.date", "2020-06-30"),
            "major",
            "slipped",
        ),
        (set_field("statusModule.completionDateStruct.type", "ACTUAL"), "editorial", "same date"),
        (set_field("statusModule.startDateStruct.date", "2018-08"), "major", "less precisely"),
        (set_field("designModule.enrollmentInfo.count", 90), "major", "enrollment 100"),
        (
            set_field("designModule.enrollmentInfo.type", "ACTUAL"),
            "editorial",
            "confirmed as actual",
        ),
        (set_field("eligibilityModule.minimumAge", "21 Years"), "major", "minimum age changed"),
        (set_field("eligibilityModule.minimumAge", "18 years"), "editorial", "spelled another way"),
        (_outcome_time, "major", "time frame: time point changed (day 1 \u2192 day 7)"),
        (_outcome_case, "editorial", "case only"),
        (_outcome_demoted, "major", "moved from primary to secondary"),
        (_site_added, "minor", "1 site added"),
        (_site_respelled, "editorial", "respelled"),
        (
            set_field("sponsorCollaboratorsModule.leadSponsor.name", "Balton"),
            "major",
            "lead sponsor",
        ),
        (set_field("designModule.phases", ["PHASE4"]), "major", "phase changed"),
        (set_field("identificationModule.acronym", "BiOSS"), "editorial", "case only"),
        (
            set_field("conditionsModule.conditions", ["coronary artery disease"]),
            "editorial",
            "respelled",
        ),
        (set_field("conditionsModule.conditions", []), "major", "1 condition removed"),
    ],
)
def test_grade_of_each_kind(edit: Callable[[Study], None], grade: str, reason: str) -> None:
    [change] = graded(edit)
    assert (change.grade, change.detail["grade"]) == (grade, grade)
    assert reason in change.detail["reason"]
