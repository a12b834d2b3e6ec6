"""match_items(): identical items pair first, then same key, then most similar."""

from __future__ import annotations

from trialwatch.diffing.items import match_items


def test_order_alone_is_no_difference() -> None:
    assert not match_items(["a", "b", "c"], ["c", "a", "b"])


def test_duplicates_count_as_a_multiset() -> None:
    diff = match_items(["x", "x", "y"], ["x", "y"])
    assert (diff.added, diff.removed, diff.changed) == ([], ["x"], [])


def test_reworded_item_pairs_with_its_closest_match() -> None:
    old = ["No prior chemotherapy for lung cancer", "Platelet count >= 100,000/mm^3"]
    new = ["Platelet count >= 75,000/mm^3", "No prior chemotherapy for lung cancer"]
    diff = match_items(old, new)
    assert diff.changed == [("Platelet count >= 100,000/mm^3", "Platelet count >= 75,000/mm^3")]
    assert diff.added == [] and diff.removed == []


def test_unrelated_items_are_added_and_removed() -> None:
    diff = match_items(["Pregnant or nursing"], ["Known HIV infection"])
    assert (diff.added, diff.removed, diff.changed) == (
        ["Known HIV infection"],
        ["Pregnant or nursing"],
        [],
    )


def test_same_key_pairs_before_similarity() -> None:
    old = [{"measure": "MACE", "time_frame": "30 days"}]
    new = [
        {"measure": "MACE", "time_frame": "1 year"},
        {"measure": "MACE rate", "time_frame": "30 days"},
    ]
    diff = match_items(old, new, key=lambda o: o["measure"], text=lambda o: o["measure"])
    assert diff.changed == [(old[0], new[0])]
    assert diff.added == [new[1]]


def test_without_fuzzy_matching_names_are_identities() -> None:
    diff = match_items(["Carboplatin"], ["Cisplatin"], fuzzy=False)
    assert (diff.added, diff.removed, diff.changed) == (["Cisplatin"], ["Carboplatin"], [])
    assert match_items(["Carboplatin"], ["Cisplatin"]).changed == [("Carboplatin", "Cisplatin")]
