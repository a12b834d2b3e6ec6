"""render_message(): subject, text and HTML parts from change rows.

The values are those `trialwatch demo` records (`trialwatch changes --json`) and, for
enrollment, the real NCT00513591 version pair of the diffing tests.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from trialwatch.alerts.render import (
    AlertItem,
    RenderedMessage,
    headline,
    render_message,
    status_words,
)

SEEN = datetime(2026, 11, 22, 4, 6, 50, 307270, tzinfo=UTC)


def item(nct_id: str, kind: str, before: Any, after: Any, detail: dict[str, Any]) -> AlertItem:
    titles = {
        "NCT03934567": "A Study of Tazemetostat in Follicular Lymphoma",
        "NCT06171568": "Exercise Intervention for Older Adults With Cancer",
        "NCT04267848": "Testing the Addition of Pembrolizumab to Chemotherapy",
    }
    return AlertItem(nct_id, titles.get(nct_id), kind, before, after, detail, "ctgov", SEEN)


def date(day: str, kind: str) -> dict[str, str]:
    return {"date": day, "precision": "day", "type": kind}


STATUS_DONE = item("NCT03934567", "status", "ACTIVE_NOT_RECRUITING", "COMPLETED", {})
COMPLETION_CONFIRMED = item(
    "NCT03934567",
    "completion_date",
    date("2025-10-30", "ESTIMATED"),
    date("2025-10-30", "ACTUAL"),
    {"delta_days": 0, "type_before": "ESTIMATED", "type_after": "ACTUAL", "slip": False},
)
CRITERIA = item(
    "NCT03934567",
    "eligibility_criteria",
    {"inclusion": ["Life expectancy \u2265 3 months"], "exclusion": ["Pregnant women"]},
    {"inclusion": ["Life expectancy \u2265 6 months", "Age \u2265 18 years"], "exclusion": []},
    {
        "inclusion": {
            "added": ["Age \u2265 18 years"],
            "removed": [],
            "changed": [["Life expectancy \u2265 3 months", "Life expectancy \u2265 6 months"]],
        },
        "exclusion": {"added": [], "removed": ["Pregnant women"], "changed": []},
    },
)
STATUS_OPEN = item("NCT06171568", "status", "NOT_YET_RECRUITING", "RECRUITING", {})
PRIMARY_SLIP = item(
    "NCT06171568",
    "primary_completion_date",
    date("2025-02-01", "ESTIMATED"),
    date("2025-09-01", "ESTIMATED"),
    {"delta_days": 212, "type_before": "ESTIMATED", "type_after": "ESTIMATED", "slip": True},
)
START_ACTUAL = item(
    "NCT06171568",
    "start_date",
    date("2024-02-01", "ESTIMATED"),
    date("2024-03-04", "ACTUAL"),
    {"delta_days": 32, "type_before": "ESTIMATED", "type_after": "ACTUAL", "slip": True},
)
KATMAI = {"facility": "Katmai Oncology Group", "city": "Anchorage", "country": "United States"}
FAIRBANKS = {
    "facility": "Fairbanks Memorial Hospital",
    "city": "Fairbanks",
    "country": "United States",
}
GILBERT = {
    "facility": "Banner MD Anderson Cancer Center",
    "city": "Gilbert",
    "country": "United States",
}
LOCATIONS = item(
    "NCT04267848",
    "locations",
    [{**KATMAI, "status": "RECRUITING"}, {**FAIRBANKS, "status": "RECRUITING"}],
    [{**KATMAI, "status": "SUSPENDED"}, {**GILBERT, "status": "SUSPENDED"}],
    {
        "added": [{**GILBERT, "status": "SUSPENDED"}],
        "removed": [{**FAIRBANKS, "status": "RECRUITING"}],
        "status_changed": [{"site": KATMAI, "before": "RECRUITING", "after": "SUSPENDED"}],
    },
)
COLLABORATORS = item(
    "NCT04267848",
    "sponsor",
    ["Genentech", "Pfizer"],
    None,
    {"field": "collaborators", "added": [], "removed": ["Genentech", "Pfizer"]},
)
ENROLLMENT = AlertItem(
    "NCT00513591",
    None,
    "enrollment",
    {"count": 500, "type": "ESTIMATED"},
    {"count": 1000, "type": "ESTIMATED"},
    {"delta": 500},
    "ctgov_classic",
    SEEN,
)


def render(*items: AlertItem, label: str = "watch 7: lymphoma trials") -> RenderedMessage:
    return render_message(items, recipient="ann@example.org", watch_label=label)


def assert_in_both(message: RenderedMessage, *texts: str) -> None:
    shown_html = htmllib.unescape(message.html)
    for text in texts:
        assert text in message.text, f"{text!r} missing from the text part"
        assert text in shown_html, f"{text!r} missing from the HTML part"


def test_status_is_the_headline_whatever_the_order() -> None:
    message = render(CRITERIA, COMPLETION_CONFIRMED, STATUS_DONE)
    assert message.subject == "NCT03934567: Active, not recruiting \u2192 Completed"
    assert_in_both(
        message,
        "A Study of Tazemetostat in Follicular Lymphoma",
        "status: ACTIVE_NOT_RECRUITING \u2192 COMPLETED",
        "Active, not recruiting \u2192 Completed",
        "completion_date: 2025-10-30 (ESTIMATED) \u2192 2025-10-30 (ACTUAL), same date",
    )
    # Changes are listed in headline order: status, dates, then criteria.
    order = [
        message.text.index(k + ":") for k in ("status", "completion_date", "eligibility_criteria")
    ]
    assert order == sorted(order)


def test_date_slip_in_days() -> None:
    message = render(START_ACTUAL, PRIMARY_SLIP)
    assert message.subject == "NCT06171568: primary completion date slipped 212 days"
    assert_in_both(
        message,
        "2025-02-01 (ESTIMATED) \u2192 2025-09-01 (ESTIMATED), +212 days",
        "2024-02-01 (ESTIMATED) \u2192 2024-03-04 (ACTUAL), +32 days",
    )
    assert headline(START_ACTUAL) == "start date slipped 32 days (actual)"


def test_date_moved_earlier() -> None:
    earlier = AlertItem(
        **{
            **PRIMARY_SLIP.__dict__,
            "before": PRIMARY_SLIP.after,
            "after": PRIMARY_SLIP.before,
            "detail": {**PRIMARY_SLIP.detail, "delta_days": -212, "slip": False},
        }
    )
    message = render(earlier)
    assert message.subject == "NCT06171568: primary completion date moved earlier by 212 days"
    assert_in_both(message, "\u2212212 days")


def test_estimated_to_actual_on_the_same_date_is_a_confirmation() -> None:
    message = render(COMPLETION_CONFIRMED)
    assert message.subject == "NCT03934567: completion date confirmed (actual)"
    assert_in_both(message, "ESTIMATED", "ACTUAL", "same date")


def test_criteria_items_listed_one_by_one() -> None:
    message = render(CRITERIA)
    assert message.subject == "NCT03934567: eligibility criteria changed"
    assert_in_both(
        message,
        "~ inclusion: Life expectancy \u2265 3 months \u2192 Life expectancy \u2265 6 months",
        "+ inclusion: Age \u2265 18 years",
        "\u2212 exclusion: Pregnant women",
    )


def test_sites_added_removed_and_status_changed() -> None:
    message = render(LOCATIONS, COLLABORATORS)
    assert message.subject == "NCT04267848: sites: 1 added, 1 removed, 1 status change"
    assert_in_both(
        message,
        "+ site: Banner MD Anderson Cancer Center, Gilbert, United States (Suspended)",
        "\u2212 site: Fairbanks Memorial Hospital, Fairbanks, United States (Recruiting)",
        "~ site: Katmai Oncology Group, Anchorage, United States: Recruiting \u2192 Suspended",
        "sponsor: collaborators +0 \u22122 (removed: Genentech; Pfizer)",
    )


def test_long_site_lists_are_cut_short() -> None:
    many = [{**GILBERT, "facility": f"Site {n}", "status": "RECRUITING"} for n in range(1146)]
    message = render(
        item(
            "NCT04267848",
            "locations",
            None,
            many,
            {"added": many, "removed": [], "status_changed": []},
        )
    )
    assert "\u2026 and 1126 more sites added" in message.text
    assert "Site 19," in message.text and "Site 20," not in message.text


def test_enrollment() -> None:
    message = render(ENROLLMENT)
    assert message.subject == "NCT00513591: enrollment 500 \u2192 1000"
    assert_in_both(message, "enrollment: 500 (ESTIMATED) \u2192 1000 (ESTIMATED)", "ctgov_classic")


def test_several_trials() -> None:
    demo = [LOCATIONS, COLLABORATORS, STATUS_OPEN, PRIMARY_SLIP, START_ACTUAL]
    message = render(*demo, STATUS_DONE, COMPLETION_CONFIRMED, CRITERIA)
    assert message.subject == (
        "3 trials changed: NCT06171568 Not yet recruiting \u2192 Recruiting; and 2 more"
    )
    for nct_id in ("NCT06171568", "NCT03934567", "NCT04267848"):
        assert_in_both(
            message,
            f"https://clinicaltrials.gov/study/{nct_id}",
            f"https://clinicaltrials.gov/study/{nct_id}?tab=history",
        )
    # Grouped by trial, the trial with the most important change first.
    text = message.text
    assert (
        text.index("== NCT06171568") < text.index("== NCT03934567") < text.index("== NCT04267848")
    )


def test_observed_when_and_where_and_footer() -> None:
    message = render(STATUS_DONE, label="watch 7: lymphoma trials")
    assert_in_both(
        message,
        "2026-11-22 04:06 UTC (ctgov)",
        "watch 7: lymphoma trials",
        "trialwatch watch remove 7",
        "ann@example.org",
    )
    named = render_message(
        [STATUS_DONE], recipient="ann@example.org", watch_label="Lymphoma", watch_id=12
    )
    assert_in_both(named, "trialwatch watch remove 12")
    assert_in_both(render(STATUS_DONE, label="Lymphoma"), "trialwatch watch remove ID")


def test_scraped_markup_is_text_in_the_html_part() -> None:
    script = "<script>alert(1)</script> with <b>bold</b> & more"
    hostile = AlertItem(
        **{
            **CRITERIA.__dict__,
            "title": 'Study <img src=x onerror="alert(2)">',
            "detail": {
                "inclusion": {"added": [script], "removed": [], "changed": []},
                "exclusion": {"added": [], "removed": [], "changed": []},
            },
        }
    )
    message = render(hostile)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in message.html
    assert "<script" not in message.html and "<b>" not in message.html
    assert "<img" not in message.html and "&lt;img src=x" in message.html
    assert script in message.text


def test_subject_is_one_bounded_line() -> None:
    raw = "Non Recruiting\r\nBcc: victim@example.org\u2028" + "x" * 300
    message = render(item("NCT03934567", "status", "RECRUITING", raw, {}))
    assert not re.search(r"[\r\n\u2028]", message.subject)
    assert len(message.subject) <= 150 and message.subject.endswith("\u2026")
    assert message.subject.startswith("NCT03934567: Recruiting \u2192 Non Recruiting Bcc:")


def test_only_valid_nct_ids_become_links() -> None:
    bad = AlertItem(**{**STATUS_DONE.__dict__, "nct_id": 'NCT1234"><a href="javascript:x'})
    message = render(bad)
    assert "clinicaltrials.gov" not in message.html and "clinicaltrials.gov" not in message.text
    assert 'href="javascript' not in message.html
    assert "\n" not in message.subject


def test_status_words() -> None:
    assert status_words("ACTIVE_NOT_RECRUITING") == "Active, not recruiting"
    assert status_words("NOT_YET_RECRUITING") == "Not yet recruiting"
    assert status_words("RECRUITING") == "Recruiting"
    assert status_words("ENROLLING_BY_INVITATION") == "Enrolling by invitation"
    assert status_words("Non Recruiting") == "Non Recruiting"  # a site's own words
    assert status_words(None) == "(none)"


def test_naive_times_are_utc_and_empty_input_is_an_error() -> None:
    naive = AlertItem(**{**STATUS_DONE.__dict__, "observed_at": datetime(2026, 1, 2, 3, 4)})
    assert_in_both(render(naive), "2026-01-02 03:04 UTC (ctgov)")
    with pytest.raises(ValueError):
        render()


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidi_controls_are_taken_out_of_every_part() -> None:
    """A stated test edit of the real NCT03934567 record: bidirectional-text controls put into
    its title, lead sponsor, a new site's name and a new inclusion criterion."""
    from tests.conftest import FIXTURES
    from trialwatch.diffing import compare
    from trialwatch.parsers import ctgov

    body = (FIXTURES / "ctgov" / "NCT03934567" / "ctgov_v2_NCT03934567.json").read_bytes()
    study = json.loads(body)
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = "Tazemetostat \u202eexe.txt\u202c study"
    sponsor = protocol["sponsorCollaboratorsModule"]["leadSponsor"]
    sponsor["name"] = f"\u2067{sponsor['name']}\u2069\u200f"
    site = {"facility": "\u2066Katmai Oncology Group\u061c", "city": "Anchorage"}
    protocol["contactsLocationsModule"]["locations"].append(site)
    criteria = protocol["eligibilityModule"]["eligibilityCriteria"]
    protocol["eligibilityModule"]["eligibilityCriteria"] = criteria.replace(
        "Inclusion Criteria:\n", f"Inclusion Criteria:\n\n* Age {BIDI} over 18\n", 1
    )
    old, new = ctgov.parse(body), ctgov.parse(json.dumps(study).encode())
    changes = compare(old, new)
    assert {"title", "sponsor", "locations", "eligibility_criteria"} <= {c.kind for c in changes}
    items = [
        AlertItem(
            "NCT03934567", new.brief_title, c.kind, c.before, c.after, c.detail, "ctgov", SEEN
        )
        for c in changes
    ]
    sponsor_only = [i for i in items if i.kind == "sponsor"]
    for message in (render(*items), render(*sponsor_only)):
        for part in (message.subject, message.text, message.html):
            assert not set(BIDI) & set(part), {f"U+{ord(c):04X}" for c in set(BIDI) & set(part)}
    message = render(*items)
    assert_in_both(message, "Tazemetostat exe.txt study", "Age  over 18", "Katmai Oncology Group,")
    assert sponsor["name"][1:-2] in render(*sponsor_only).subject
