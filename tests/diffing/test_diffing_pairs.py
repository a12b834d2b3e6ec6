"""Real consecutive downloads of the same trial: compare() finds what changed, nothing else.

The expected changes below were read off the two files of each pair by hand
(`diff --strip-trailing-cr -w` for the XML, module by module for the JSON); each test
says which differences in the files are content and which are only formatting or fields
a TrialRecord does not hold.
"""

from __future__ import annotations

import json

from diffing_support import FIXTURES, parse_fixture, ungraded

from trialwatch.diffing import Change, canonical, compare, record_hash


def _month(date: str) -> dict[str, str]:
    return {"date": date, "precision": "month", "type": "ESTIMATED"}


def _differing_keys(old: dict, new: dict) -> set[str]:
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def test_nct00513591_2016_to_2018() -> None:
    """Downloaded 2016-06-29 and 2018-05-11.

    Content: primary_completion_date "December 2017" -> "June 2018" (both Anticipated);
    completion_date absent -> "June 2018" (Anticipated); enrollment 500 -> 1000 (both
    Anticipated). Not changes: the re-wrapped description and the re-wrapped criterion
    "Inflammatory Arthritis (including Psoriatic Arthritis and Ankylosing Spondylitis)",
    the dropped <phase>N/A</phase> (no phase either way), the reordered MeSH terms, the
    schema's renamed date tags and study_design, and gender_based/gender_description
    (not part of the record).
    """
    old = parse_fixture("ctgov_classic_xml_NCT00513591_redownloaded.xml")
    new = parse_fixture("ctgov_classic_xml_NCT00513591.xml")
    assert ungraded(compare(old, new)) == [
        Change(
            "primary_completion_date",
            _month("2017-12"),
            _month("2018-06"),
            {
                "delta_days": 182,
                "type_before": "ESTIMATED",
                "type_after": "ESTIMATED",
                "slip": True,
            },
        ),
        Change(
            "completion_date",
            None,
            _month("2018-06"),
            {"delta_days": None, "type_before": None, "type_after": "ESTIMATED", "slip": False},
        ),
        Change(
            "enrollment",
            {"count": 500, "type": "ESTIMATED"},
            {"count": 1000, "type": "ESTIMATED"},
            {"delta": 500},
        ),
    ]
    # The criteria text differs (one item re-wrapped), its items do not.
    assert old.eligibility.text != new.eligibility.text
    assert old.eligibility.inclusion and old.eligibility.exclusion
    assert _differing_keys(canonical(old), canonical(new)) == {
        "primary_completion_date",
        "completion_date",
        "enrollment",
    }


def test_nct02028676_2016_to_2018() -> None:
    """Downloaded 2016-12-06 ("_modified") and 2018-05-11.

    Content: three collaborators added (Department for International Development, United
    Kingdom; ViiV Healthcare; GlaxoSmithKline) and a secondary id "24791884" added. Not
    changes: re-wrapped description and criteria (five items re-wrapped), the dropped
    <safety_issue> and <authority> elements, non_inferiority -> non_inferiority_type in the
    results, citation punctuation, a new <link>, reordered MeSH terms, renamed date tags.

    The added secondary id makes a new version (the hash differs) but DESIGN.md has no change
    kind for identifiers, so compare() reports only the sponsor change. results_first_posted
    differs too, though the results were posted in 2014: the 2016 file's schema has no
    results-posted date (only firstreceived_results_date, the day they were submitted), and
    no change kind covers it either.
    """
    old = parse_fixture("ctgov_classic_xml_NCT02028676_modified.xml")
    new = parse_fixture("ctgov_classic_xml_NCT02028676.xml")
    added = [
        "Department for International Development, United Kingdom",
        "GlaxoSmithKline",
        "ViiV Healthcare",
    ]
    assert ungraded(compare(old, new)) == [
        Change("sponsor", None, added, {"field": "collaborators", "added": added, "removed": []})
    ]
    assert old.eligibility.text != new.eligibility.text
    assert _differing_keys(canonical(old), canonical(new)) == {
        "collaborators",
        "secondary_ids",
        "results_first_posted",
    }
    assert (old.results_first_posted, new.results_first_posted) == (None, "2014-06-06")
    assert old.first_submitted == new.first_submitted == "2013-12-31"
    assert sorted(set(new.secondary_ids) - set(old.secondary_ids)) == ["24791884"]


def test_nct00002475_2016_to_2017_is_formatting_only() -> None:
    """Downloaded 2016-05-11 and 2017-01-18.

    Nothing in the record changed: the later file has CRLF line ends, gender "Both" became
    the newer vocabulary "All", <study_design> became <study_design_info>, <safety_issue>,
    <oversight_info>, is_fda_regulated and is_section_801 were dropped, and MeSH terms were
    reordered and extended (not part of the record). Same content, so the same hash.
    """
    old = parse_fixture("ctgov_classic_xml_NCT00002475_2016-05-11.xml")
    new = parse_fixture("ctgov_classic_xml_NCT00002475_2017-01-18.xml")
    assert b"\r\n" in (FIXTURES / "ctgov_classic_xml_NCT00002475_2017-01-18.xml").read_bytes()
    assert compare(old, new) == []
    assert record_hash(old) == record_hash(new)


def test_nct04267848_2023_to_2025() -> None:
    """The 2023 "complex" test variant and the 2025 download of the same study.

    Module by module, identification, conditions, design, arms/interventions, outcomes,
    eligibility, oversight, description and references are identical; statusModule differs
    only in statusVerifiedDate and the last-update dates (bookkeeping, not content).

    locations: the older file's list was cut by hand to its first two sites (Katmai Oncology
    Group, Anchorage; Fairbanks Memorial Hospital, Fairbanks), so the newer file's other
    1146 sites show as added. Both kept sites are still RECRUITING, so no status change.

    sponsor: the older file lists collaborators Pfizer and Genentech, the newer none. The
    test this variant was made for asserts three sponsors, so these were most likely added
    by hand too; compare() reports what the files say.
    """
    old_name = "ctgov_v2_NCT04267848_complex_variant.json"
    new_name = "ctgov_v2_NCT04267848.json"
    old, new = parse_fixture(old_name), parse_fixture(new_name)
    changes = compare(old, new)
    assert [c.kind for c in changes] == ["locations", "sponsor"]

    locations = changes[0]
    assert locations.detail["removed"] == [] and locations.detail["status_changed"] == []
    raw_new = json.loads((FIXTURES / new_name).read_bytes())
    raw_sites = raw_new["protocolSection"]["contactsLocationsModule"]["locations"]
    kept = {("Katmai Oncology Group", "Anchorage"), ("Fairbanks Memorial Hospital", "Fairbanks")}
    expected_added = [(s["facility"], s["city"]) for s in raw_sites]
    expected_added = [site for site in expected_added if site not in kept]
    assert len(expected_added) == 1146
    assert [(s["facility"], s["city"]) for s in locations.detail["added"]] == expected_added

    assert ungraded(changes)[1] == Change(
        "sponsor",
        ["Genentech", "Pfizer"],
        None,
        {"field": "collaborators", "added": [], "removed": ["Genentech", "Pfizer"]},
    )
    assert _differing_keys(canonical(old), canonical(new)) == {"locations", "collaborators"}
