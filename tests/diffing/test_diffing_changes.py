"""compare(): each change kind from one minimal edit of a real record, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from diffing_support import (
    V2_SMALL,
    Study,
    graded,
    kinds,
    load_study,
    parse_v2,
    set_field,
    ungraded,
)

from trialwatch.diffing import KINDS, Change, compare, record_hash
from trialwatch.record import TrialDate, TrialRecord


def _edited(edit: Callable[[Study], None], fixture: str = V2_SMALL) -> list[Change]:
    """The same changes without their grades (graded in test_diffing_grade_examples.py)."""
    return ungraded(graded(edit, fixture))


# --- one edit, one kind ----------------------------------------------------------------


def _day(date: str, type_: str) -> dict[str, Any]:
    return {"date": date, "precision": "day", "type": type_}


def test_status_with_why_stopped() -> None:
    def edit(ps: Study) -> None:
        ps["statusModule"]["overallStatus"] = "TERMINATED"
        ps["statusModule"]["whyStopped"] = "Slow recruitment"

    assert _edited(edit) == [
        Change("status", "UNKNOWN", "TERMINATED", {"why_stopped": "Slow recruitment"})
    ]


def test_primary_completion_date_slips() -> None:
    edit = set_field("statusModule.primaryCompletionDateStruct.date", "2020-06-30")
    assert _edited(edit) == [
        Change(
            "primary_completion_date",
            _day("2019-12-30", "ESTIMATED"),
            _day("2020-06-30", "ESTIMATED"),
            {
                "delta_days": 183,
                "type_before": "ESTIMATED",
                "type_after": "ESTIMATED",
                "slip": True,
            },
        )
    ]


def test_completion_date_estimated_to_actual_on_the_same_day_is_not_a_slip() -> None:
    edit = set_field("statusModule.completionDateStruct.type", "ACTUAL")
    assert _edited(edit) == [
        Change(
            "completion_date",
            _day("2019-12-30", "ESTIMATED"),
            _day("2019-12-30", "ACTUAL"),
            {"delta_days": 0, "type_before": "ESTIMATED", "type_after": "ACTUAL", "slip": False},
        )
    ]


def test_start_date_moved_earlier_at_month_precision() -> None:
    edit = set_field("statusModule.startDateStruct.date", "2018-07")
    assert _edited(edit) == [
        Change(
            "start_date",
            _day("2018-08-16", "ACTUAL"),
            {"date": "2018-07", "precision": "month", "type": "ACTUAL"},
            {"delta_days": -46, "type_before": "ACTUAL", "type_after": "ACTUAL", "slip": False},
        )
    ]


def test_start_date_removed_has_no_delta() -> None:
    changes = _edited(set_field("statusModule.startDateStruct", None))
    assert changes == [
        Change(
            "start_date",
            _day("2018-08-16", "ACTUAL"),
            None,
            {"delta_days": None, "type_before": "ACTUAL", "type_after": None, "slip": False},
        )
    ]


def test_enrollment() -> None:
    edit = set_field("designModule.enrollmentInfo", {"count": 120, "type": "ACTUAL"})
    assert _edited(edit) == [
        Change(
            "enrollment",
            {"count": 100, "type": "ESTIMATED"},
            {"count": 120, "type": "ACTUAL"},
            {"delta": 20},
        )
    ]


def test_eligibility_fields_one_change_each_in_field_order() -> None:
    def edit(ps: Study) -> None:
        module = ps["eligibilityModule"]
        module.update(sex="FEMALE", minimumAge="21 Years", maximumAge="80 Years")
        module["healthyVolunteers"] = True

    assert _edited(edit) == [
        Change("eligibility", "ALL", "FEMALE", {"field": "sex"}),
        Change("eligibility", "18 Years", "21 Years", {"field": "minimum_age"}),
        Change("eligibility", None, "80 Years", {"field": "maximum_age"}),
        Change("eligibility", False, True, {"field": "healthy_volunteers"}),
    ]


def test_primary_outcome_changed_and_removed() -> None:
    def edit(ps: Study) -> None:
        outcomes = ps["outcomesModule"]["primaryOutcomes"]
        assert outcomes[0]["measure"] == "Successful angioplasty"
        outcomes[0]["timeFrame"] = "7 days"
        assert outcomes[2]["timeFrame"] == "1 year"
        del outcomes[2]

    changes = _edited(edit)
    assert kinds(changes) == ["primary_outcome"]
    detail = changes[0].detail
    assert detail["added"] == []
    assert detail["removed"] == [
        {
            "measure": "MACE",
            "time_frame": "1 year",
            "description": "Cumulative rate of major adverse cardiovascular events (MACE) "
            "including cardiac",
        }
    ]
    [(old, new)] = detail["changed"]
    assert (old["measure"], old["time_frame"]) == ("Successful angioplasty", "1 day")
    assert (new["measure"], new["time_frame"]) == ("Successful angioplasty", "7 days")
    assert old["description"] == new["description"]


def test_secondary_outcome_reworded_measure_pairs_up() -> None:
    def edit(ps: Study) -> None:
        outcomes = ps["outcomesModule"]["secondaryOutcomes"]
        assert outcomes[3]["measure"] == "Angioplasty time"
        outcomes[3]["measure"] = "Total angioplasty time"
        outcomes.append({"measure": "Contrast-induced nephropathy", "timeFrame": "3 days"})

    changes = _edited(edit)
    assert kinds(changes) == ["secondary_outcome"]
    detail = changes[0].detail
    assert detail["added"] == [
        {"measure": "Contrast-induced nephropathy", "time_frame": "3 days", "description": None}
    ]
    assert detail["removed"] == []
    assert [(o["measure"], n["measure"]) for o, n in detail["changed"]] == [
        ("Angioplasty time", "Total angioplasty time")
    ]


def test_locations_added_removed_and_status_changed() -> None:
    def edit(ps: Study) -> None:
        sites = ps["contactsLocationsModule"]["locations"]
        assert [s["city"] for s in sites] == ["Sabadell", "Barcelona", "León"]
        sites[0]["status"] = "ACTIVE_NOT_RECRUITING"
        del sites[2]
        sites.append(
            {
                "facility": "Hospital Clínic de Barcelona",
                "status": "NOT_YET_RECRUITING",
                "city": "Barcelona",
                "country": "Spain",
            }
        )

    changes = _edited(edit)
    assert kinds(changes) == ["locations"]
    assert changes[0].detail == {
        "added": [
            {
                "facility": "Hospital Clínic de Barcelona",
                "city": "Barcelona",
                "country": "Spain",
                "status": "NOT_YET_RECRUITING",
            }
        ],
        "removed": [
            {
                "facility": "Hospital Universitario de León",
                "city": "León",
                "country": "Spain",
                "status": "RECRUITING",
            }
        ],
        "status_changed": [
            {
                "site": {
                    "facility": "Hospital Universitari Parc Taulí",
                    "city": "Sabadell",
                    "country": "Spain",
                },
                "before": "RECRUITING",
                "after": "ACTIVE_NOT_RECRUITING",
            }
        ],
    }


def test_sponsor_lead_and_collaborators() -> None:
    def edit(ps: Study) -> None:
        module = ps["sponsorCollaboratorsModule"]
        module["leadSponsor"]["name"] = "Vall d'Hebron Institut de Recerca"
        module["collaborators"] = [{"name": "Balton", "class": "INDUSTRY"}]

    assert _edited(edit) == [
        Change(
            "sponsor",
            "Hospital Universitari Vall d'Hebron Research Institute",
            "Vall d'Hebron Institut de Recerca",
            {"field": "lead_sponsor"},
        ),
        Change(
            "sponsor",
            None,
            ["Balton"],
            {"field": "collaborators", "added": ["Balton"], "removed": []},
        ),
    ]


def test_phase() -> None:
    assert _edited(set_field("designModule.phases", ["PHASE4"])) == [
        Change("phase", None, ["PHASE4"], {})
    ]


def test_phase_na_is_no_phase() -> None:
    assert _edited(set_field("designModule.phases", ["NA"])) == []


def test_title_fields() -> None:
    def edit(ps: Study) -> None:
        ps["identificationModule"]["acronym"] = "BiOSS"
        ps["identificationModule"]["officialTitle"] = "BiOSS LIM C Stent Registry"

    assert _edited(edit) == [
        Change(
            "title",
            "BiOSS LIM C Stent Registry in Bifurcated Lesions",
            "BiOSS LIM C Stent Registry",
            {"field": "official_title"},
        ),
        Change("title", "BIOSS", "BiOSS", {"field": "acronym"}),
    ]


def test_conditions() -> None:
    def edit(ps: Study) -> None:
        ps["conditionsModule"]["conditions"].insert(0, "Coronary Stenosis")

    assert _edited(edit) == [
        Change(
            "conditions",
            ["Coronary Artery Disease"],
            ["Coronary Artery Disease", "Coronary Stenosis"],
            {"added": ["Coronary Stenosis"], "removed": []},
        )
    ]


def test_interventions_added_and_type_changed() -> None:
    def edit(ps: Study) -> None:
        items = ps["armsInterventionsModule"]["interventions"]
        items[0]["type"] = "DEVICE"
        items.append({"type": "DRUG", "name": "Clopidogrel"})

    changes = _edited(edit)
    assert kinds(changes) == ["interventions"]
    name = "Coronary angioplasty with stent implantation"
    assert changes[0].detail == {
        "added": [{"type": "DRUG", "name": "Clopidogrel"}],
        "removed": [],
        "changed": [[{"type": "PROCEDURE", "name": name}, {"type": "DEVICE", "name": name}]],
    }


def test_many_edits_come_out_in_kind_order() -> None:
    def edit(ps: Study) -> None:
        ps["conditionsModule"]["conditions"].append("Coronary Stenosis")
        ps["designModule"]["phases"] = ["PHASE4"]
        ps["statusModule"]["overallStatus"] = "COMPLETED"
        ps["eligibilityModule"]["sex"] = "MALE"
        ps["designModule"]["enrollmentInfo"]["count"] = 90

    found = kinds(_edited(edit))
    assert found == ["status", "enrollment", "eligibility", "phase", "conditions"]
    assert found == [k for k in KINDS if k in found]


def test_identical_records_and_absent_fields() -> None:
    record = parse_v2(load_study(V2_SMALL))
    assert compare(record, record.model_copy(deep=True)) == []
    assert record.why_stopped is None and record.phases is None  # absent on both sides


def test_records_of_different_trials_are_refused() -> None:
    a = TrialRecord(nct_id="NCT03475563", source="ctgov")
    b = TrialRecord(nct_id="NCT04267848", source="ctgov")
    with pytest.raises(ValueError, match="NCT03475563"):
        compare(a, b)


# --- dates at other precisions -----------------------------------------------------------


def _dated(date: str, precision: str) -> TrialRecord:
    when = TrialDate(date=date, precision=precision, type="ESTIMATED")
    return TrialRecord(nct_id="NCT03475563", source="ctgov", primary_completion_date=when)


@pytest.mark.parametrize(
    ("old", "new", "delta", "slip"),
    [
        (("2017-12", "month"), ("2018-06", "month"), 182, True),
        (("2018", "year"), ("2018-06", "month"), 151, False),  # stated more precisely
        (("2018-06", "month"), ("2018-06-20", "day"), 19, False),
        (("2018-06-20", "day"), ("2018-06", "month"), -19, False),
        (("2018", "year"), ("2019", "year"), 365, True),
    ],
)
def test_date_delta_and_slip(
    old: tuple[str, str], new: tuple[str, str], delta: int, slip: bool
) -> None:
    [change] = compare(_dated(*old), _dated(*new))
    assert (change.detail["delta_days"], change.detail["slip"]) == (delta, slip)
    # Stated more precisely within the period is minor; any other move is major.
    assert change.grade == ("major" if slip or delta < 0 else "minor")


def test_hash_and_compare_agree_on_a_real_edit() -> None:
    study = load_study(V2_SMALL)
    old = parse_v2(study)
    study["protocolSection"]["statusModule"]["completionDateStruct"]["type"] = "ACTUAL"
    new = parse_v2(study)
    assert record_hash(old) != record_hash(new)
    assert compare(old, new) != []
