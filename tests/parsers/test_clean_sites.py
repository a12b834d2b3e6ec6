"""Cleaners for the word forms of republishing sites (parsers/clean.py)."""

from __future__ import annotations

import pytest

from trialwatch.parsers import ParseError
from trialwatch.parsers.clean import parse_date, phases, status_word
from trialwatch.parsers.site_words import (
    age_range,
    chrome_kind,
    count_in,
    date_type_in,
    healthy_volunteers_word,
    is_status_phrase,
    sponsor_name,
    strip_marker,
    typed_intervention,
)
from trialwatch.record import TrialDate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20 August 2025", TrialDate(date="2025-08-20", precision="day")),
        ("8 July 2022", TrialDate(date="2022-07-08", precision="day")),
        ("1st Sept 2001", TrialDate(date="2001-09-01", precision="day")),
        ("Dec 31, 2023", TrialDate(date="2023-12-31", precision="day")),
        ("2026-04-20", TrialDate(date="2026-04-20", precision="day")),
        ("Apr 30, 2023", TrialDate(date="2023-04-30", precision="day")),
    ],
)
def test_site_dates(raw: str, expected: TrialDate) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31 February 2023", "8 Smarch 2022", "8 July"])
def test_site_text_that_is_not_a_date(raw: str) -> None:
    with pytest.raises(ParseError, match="is not a date"):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("18-60 years", ("18 Years", "60 Years")),
        ("18 to 80 years old", ("18 Years", "80 Years")),
        ("Age ≥18", ("18 Years", None)),
        ("≥ 18 years", ("18 Years", None)),
        ("18+ years", ("18 Years", None)),
        ("65 years and older", ("65 Years", None)),
        ("up to 17 years", (None, "17 Years")),
        ("6 months - 1 year", ("6 Months", "1 Year")),
        ("Ages: 2-12", ("2 Years", "12 Years")),
        ("Age > 18", (None, None)),  # a strict bound is not the registry's minimum
        ("All", (None, None)),
        (None, (None, None)),
    ],
)
def test_age_range(raw: str | None, expected: tuple[str | None, str | None]) -> None:
    assert age_range(raw) == expected


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("ActiveNotRecruiting", "ACTIVE_NOT_RECRUITING"),
        ("https://schema.org/Completed", "COMPLETED"),
        ("NotYetRecruiting", "NOT_YET_RECRUITING"),
        ("Non Recruiting", None),
    ],
)
def test_status_word_reads_schema_org_spellings(raw: str, status: str | None) -> None:
    assert status_word(raw) == status


def test_status_phrases() -> None:
    assert is_status_phrase("Non Recruiting") and is_status_phrase("Not recruiting")
    assert is_status_phrase("Recruiting") and is_status_phrase("Active, not recruiting")
    assert not is_status_phrase("Phase 1") and not is_status_phrase("All")
    assert not is_status_phrase(None)


def test_phases_of_site_chips() -> None:
    assert phases("Phase 1") == ["PHASE1"]
    assert phases("Phase 2/3") == ["PHASE2", "PHASE3"]
    assert phases("Phase 1/Phase 2") == ["PHASE1", "PHASE2"]


def test_healthy_volunteers_phrases() -> None:
    assert healthy_volunteers_word("No Healthy Volunteers") is False
    assert healthy_volunteers_word("Accepts Healthy Volunteers") is True
    assert healthy_volunteers_word("No") is False
    assert healthy_volunteers_word("Yes") is True
    assert healthy_volunteers_word("Maybe") is None


def test_sponsor_name_and_counts() -> None:
    assert sponsor_name("Zhejiang University (Other)") == "Zhejiang University"
    assert sponsor_name("Acme Pharma (Industry)") == "Acme Pharma"
    assert sponsor_name("Tongji Hospital") == "Tongji Hospital"
    assert sponsor_name("(none)") is None
    assert count_in("15 patients") == 15
    assert count_in("1,200 participants") == 1200
    assert count_in("0") == 0
    assert count_in("many") is None
    assert count_in("12 weeks, 3 visits") is None


def test_typed_interventions_and_date_types() -> None:
    assert typed_intervention("Biological: Autologous mesenchymal stem cells") == (
        "BIOLOGICAL",
        "Autologous mesenchymal stem cells",
    )
    assert typed_intervention("Drug: CD19 CAR-T cells injection") == (
        "DRUG",
        "CD19 CAR-T cells injection",
    )
    assert typed_intervention("Dietary Supplement: Vitamin D") == (
        "DIETARY_SUPPLEMENT",
        "Vitamin D",
    )
    assert typed_intervention("Experimental: Treatment Group") is None
    assert typed_intervention("CT103A cells") is None
    assert date_type_in("Anticipated Study Start Date :") == "ESTIMATED"
    assert date_type_in("Actual Primary Completion Date") == "ACTUAL"
    assert date_type_in("End date") is None


def test_strip_marker() -> None:
    assert strip_marker("• 1. Age") == (True, "1. Age")
    assert strip_marker("- 1. Age") == (True, "1. Age")
    assert strip_marker("‣Repeated") == (True, "Repeated")
    assert strip_marker("-5 degrees") == (False, "-5 degrees")
    assert strip_marker("1. Age") == (False, "1. Age")


def test_a_lone_dash_is_a_marker() -> None:
    assert strip_marker("-") == (True, "")
    assert strip_marker("–") == (True, "")


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Cookie settings", "end"),
        ("Privacy policy | Cookie settings | Terms of use", "end"),
        ("© 2026 Some Site. All rights reserved.", "end"),
        ("Copyright 2026 Veeva Systems", "end"),
        ("Share this trial", "skip"),
        ("Subscribe to our newsletter", "skip"),
        ("Subscribe", "skip"),
        ("We use cookies to improve your experience. Accept all cookies", "skip"),
        ("Back to top", "skip"),
        ("Recruiting", None),
        ("Cookie allergy", None),
        ("Share of patients with a response", None),
        ("Privacy of the participant will be protected", None),
        ("Sign up as volunteer", None),
        ("Terms apply to patients", None),
    ],
)
def test_chrome_lines(line: str, kind: str | None) -> None:
    assert chrome_kind(line) == kind


def test_chrome_check_is_fast_on_long_lines() -> None:
    import time

    started = time.perf_counter()
    for text in ("share " * 50 + "x", "Cookie settings | " * 16 + "x", " - " * 99 + "x"):
        assert chrome_kind(text) is None
    assert time.perf_counter() - started < 0.5
