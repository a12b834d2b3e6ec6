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


# Integrity findings: patterns in a trial's registry history that meta-research looks for
# (docs/audit.md gives each one's definition, source and blind spots).
FINDING_KINDS: tuple[str, ...] = (
    "outcome_switch",
    "retro_prospective",
    "stale_status",
    "results_due",
    "repeated_slips",
    "enrollment_change",
)
FINDING_TITLES: dict[str, str] = {
    "outcome_switch": "primary outcome changed after the start",
    "retro_prospective": "retroactively prospective registration",
    "stale_status": "status not updated after completion",
    "results_due": "results due and not posted",
    "repeated_slips": "primary completion date slipped repeatedly",
    "enrollment_change": "enrollment target changed after the start",
}
