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

# How much a change matters, lowest first (DESIGN.md, "grade"); watches default to "minor".
GRADES: tuple[str, ...] = ("editorial", "minor", "major")
DEFAULT_MIN_GRADE = "minor"


def grade_rank(grade: str | None) -> int:
    """Position in GRADES; an unknown or missing grade ranks as major (never hidden)."""
    return GRADES.index(grade) if grade in GRADES else len(GRADES) - 1
