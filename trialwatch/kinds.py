"""The stable change-kind names used in the database, the CLI's JSON and alerts (DESIGN.md)."""

# Kinds found between two versions of one source, in the order compare() emits them.
VERSION_KINDS: tuple[str, ...] = (
    "status",
    "primary_completion_date",
    "completion_date",
    "start_date",
    "enrollment",
    "eligibility_criteria",
    "eligibility",
    "primary_outcome",
    "secondary_outcome",
    "locations",
    "sponsor",
    "phase",
    "title",
    "conditions",
    "interventions",
)
CHANGE_KINDS: tuple[str, ...] = (*VERSION_KINDS, "source_discrepancy")
