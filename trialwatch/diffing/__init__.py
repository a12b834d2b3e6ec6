"""Compare two versions of a trial record, classify the differences, render them.

Comparing knows nothing about storage or delivery: it takes two ``TrialRecord``s and returns
``Change``s; rendering turns a ``Change`` into text.
"""

from trialwatch.diffing.canonical import canonical, record_hash
from trialwatch.diffing.changes import Change, compare
from trialwatch.diffing.render import details, summary
from trialwatch.kinds import VERSION_KINDS as KINDS

__all__ = ["KINDS", "Change", "canonical", "compare", "details", "record_hash", "summary"]
