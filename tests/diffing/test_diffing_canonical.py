"""canonical() and record_hash(): formatting never counts, wording always does."""

from __future__ import annotations

import pytest
from diffing_support import (
    V2_COMPLEX,
    V2_SMALL,
    load_study,
    parse_v2,
    reformat_markdown_criteria,
    reformat_study,
)

from trialwatch.diffing import canonical, compare, record_hash
from trialwatch.diffing.canonical import norm_item, norm_text
from trialwatch.record import Eligibility, Location, TrialRecord


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Age &gt;= 18\u00a0years\r\n  and over ", "Age >= 18 years and over"),
        ("Age \\>= 18 years", "Age >= 18 years"),  # API v2 Markdown escape
        ("\uff11\uff18 years", "18 years"),  # full-width digits
        ("&amp;gt; 5", "> 5"),  # double-escaped entity
        ("Parc Tauli\u0301", "Parc Taul\u00ed"),  # decomposed accent
        ("co\u00admorbid\u200b", "comorbid"),  # soft hyphen, zero-width space
        ("   ", None),
        ("ECOG PS 0-1", "ECOG PS 0-1"),  # case and punctuation are kept
    ],
)
def test_norm_text(raw: str, expected: str | None) -> None:
    assert norm_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("* Age >= 18", "Age >= 18"),
        ("- Age >= 18", "Age >= 18"),
        ("12. Age >= 18", "Age >= 18"),
        ("(a) Age >= 18", "Age >= 18"),
        ("iv) Age >= 18", "Age >= 18"),
        ("1. - Age >= 18", "Age >= 18"),
        ("> 18 years of age", "> 18 years of age"),  # a comparison, not a bullet
        ("1.5 x ULN", "1.5 x ULN"),
    ],
)
def test_norm_item_strips_markers_only(raw: str, expected: str) -> None:
    assert norm_item(raw) == expected


def _record(**fields: object) -> TrialRecord:
    return TrialRecord(nct_id="NCT03475563", source="ctgov", **fields)


def test_fetch_fields_do_not_count() -> None:
    a = _record(brief_title="T", source_url="https://a", last_update_posted="2019-11-27")
    b = _record(
        brief_title="T",
        source_url="https://b",
        last_update_posted="2020-01-01",
        registry_version="7",
    )
    b = b.model_copy(update={"source": "ctgov_history"})
    assert record_hash(a) == record_hash(b)
    assert "source" not in canonical(a) and "last_update_posted" not in canonical(a)


def test_status_raw_counts_only_without_overall_status() -> None:
    assert record_hash(_record(overall_status="RECRUITING", status_raw="Recruiting")) == (
        record_hash(_record(overall_status="RECRUITING", status_raw="RECRUITING"))
    )
    assert record_hash(_record(status_raw="Non Recruiting")) != record_hash(
        _record(status_raw="Recruiting")
    )


def test_no_phase_spellings_are_equal() -> None:
    assert record_hash(_record(phases=["NA"])) == record_hash(_record())
    assert record_hash(_record(phases=["PHASE3", "PHASE2"])) == record_hash(
        _record(phases=["PHASE2", "PHASE3"])
    )
    assert record_hash(_record(phases=["PHASE2"])) != record_hash(_record())


def test_criteria_text_counts_only_without_items() -> None:
    items = Eligibility(text="Inclusion:\n* a\n* b", inclusion=["a", "b"])
    rewrapped = Eligibility(text="Inclusion Criteria:\n\n1. a\n2. b", inclusion=["b", "a"])
    assert record_hash(_record(eligibility=items)) == record_hash(_record(eligibility=rewrapped))
    unsplit_a = Eligibility(text="Adults with   asthma")
    unsplit_b = Eligibility(text="Adults with\nasthma")
    unsplit_c = Eligibility(text="Adults with COPD")
    assert record_hash(_record(eligibility=unsplit_a)) == record_hash(
        _record(eligibility=unsplit_b)
    )
    assert record_hash(_record(eligibility=unsplit_a)) != record_hash(
        _record(eligibility=unsplit_c)
    )


def test_location_order_does_not_count_but_status_does() -> None:
    a = Location(facility="A", city="X", country="Spain", status="RECRUITING")
    b = Location(facility="B", city="Y", country="Spain", status="RECRUITING")
    closed = a.model_copy(update={"status": "COMPLETED"})
    assert record_hash(_record(locations=[a, b])) == record_hash(_record(locations=[b, a]))
    assert record_hash(_record(locations=[a, b])) != record_hash(_record(locations=[closed, b]))


def test_hash_is_sha256_hex() -> None:
    digest = record_hash(_record())
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_criteria_rewrite_really_reformats() -> None:
    # Guard for the tests below: the rewrite changes the raw text in every listed way.
    text = load_study(V2_SMALL)["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    rewritten = reformat_markdown_criteria(text)
    assert rewritten != text
    assert "\r\n" in rewritten and "\u00a0years" in rewritten and "\uff11\uff18" in rewritten
    assert "1. Age over" in rewritten and "* " not in rewritten
    complex_text = load_study(V2_COMPLEX)["protocolSection"]["eligibilityModule"][
        "eligibilityCriteria"
    ]
    rewritten = reformat_markdown_criteria(complex_text)
    assert "&gt;" in rewritten and "\r\n   " in rewritten  # entities; wrapped continuations
    assert "\n  - " in rewritten  # nested bullets


@pytest.mark.parametrize("fixture", [V2_SMALL, V2_COMPLEX])
def test_formatting_only_rewrite_of_a_real_record_is_no_change(fixture: str) -> None:
    study = load_study(fixture)
    original = parse_v2(study)
    reformatted = parse_v2(reformat_study(study))
    # The parsed records really differ (raw text, list order) ...
    assert reformatted.eligibility.text != original.eligibility.text
    assert reformatted.locations != original.locations
    assert reformatted.conditions != original.conditions or len(original.conditions) == 1
    assert original.eligibility.inclusion, "the real record has criteria items"
    # ... yet they are the same content.
    assert compare(original, reformatted) == []
    assert canonical(reformatted) == canonical(original)
    assert record_hash(reformatted) == record_hash(original)


def test_rewording_one_criterion_changes_the_hash() -> None:
    study = load_study(V2_SMALL)
    module = study["protocolSection"]["eligibilityModule"]
    original = parse_v2(study)
    module["eligibilityCriteria"] = module["eligibilityCriteria"].replace(
        "Cardiogenic shock.", "Cardiogenic shock or severe hypotension."
    )
    assert record_hash(parse_v2(study)) != record_hash(original)
