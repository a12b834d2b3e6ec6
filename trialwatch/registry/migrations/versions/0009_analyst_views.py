"""Views for analysts: trial_latest, trial_versions (with validity on both clocks), changes_feed.

The record's JSON is flattened into columns (lists joined with "; ", dates kept as ISO text at
their own precision). The SQL is frozen here, per dialect: a later change to the models or the
record must come with a new revision that replaces the views. Documented in docs/schema.md.

On SQLite a later migration that copies a table (a batch "recreate") must drop these views
first and create them again after, or the rename back fails on the views that name the table.

Revision ID: 0009
Revises: 0008

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("changes_feed", "trial_versions", "trial_latest")  # dropped in this order
NO_NUMBER = 10**9  # timeline.py: a version without a registry number sorts last of its day

# (column, kind, JSON path): the record's fields as both record views show them.
RECORD_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("brief_title", "text", ("brief_title",)),
    ("official_title", "text", ("official_title",)),
    ("acronym", "text", ("acronym",)),
    ("overall_status", "text", ("overall_status",)),
    ("why_stopped", "text", ("why_stopped",)),
    ("phases", "list", ("phases",)),
    ("study_type", "text", ("study_type",)),
    ("lead_sponsor", "text", ("lead_sponsor",)),
    ("collaborators", "list", ("collaborators",)),
    ("conditions", "list", ("conditions",)),
    ("enrollment", "int", ("enrollment", "count")),
    ("enrollment_type", "text", ("enrollment", "type")),
    *(
        (f"{name}{suffix}", "text", (name, part))
        for name in ("start_date", "primary_completion_date", "completion_date")
        for suffix, part in (("", "date"), ("_precision", "precision"), ("_type", "type"))
    ),
    ("last_update_posted", "text", ("last_update_posted",)),
)


def _sqlite_field(src: str, kind: str, path: tuple[str, ...]) -> str:
    where = "$." + ".".join(path)
    if kind == "list":
        # json_each yields the items in list order; group_concat keeps the subquery's order
        return (
            f"(SELECT group_concat(value, '; ') FROM "
            f"(SELECT value FROM json_each({src}, '{where}') ORDER BY key))"
        )
    return f"json_extract({src}, '{where}')"


def _pg_field(src: str, kind: str, path: tuple[str, ...]) -> str:
    node = src + "".join(f"->'{p}'" for p in path[:-1])
    if kind == "list":
        # a JSON null (or anything but an array) reads as no items, never as an error
        value = f"{node}->'{path[-1]}'"
        items = f"CASE WHEN json_typeof({value}) = 'array' THEN {value} ELSE '[]'::json END"
        return (
            f"(SELECT string_agg(item, '; ' ORDER BY n) FROM "
            f"json_array_elements_text({items}) WITH ORDINALITY AS e(item, n))"
        )
    text = f"({node}->>'{path[-1]}')"
    return f"CAST({text} AS integer)" if kind == "int" else text


def _record(dialect: str, src: str) -> str:
    field = _pg_field if dialect == "postgresql" else _sqlite_field
    return ",\n       ".join(
        f"{field(src, kind, path)} AS {name}" for name, kind, path in RECORD_COLUMNS
    )


def _trial_latest(dialect: str) -> str:
    return f"""CREATE VIEW trial_latest AS
SELECT t.nct_id AS nct_id,
       {_record(dialect, "t.record")},
       t.record_source AS record_source,
       t.first_seen_at AS first_seen_at,
       t.updated_at AS updated_at
FROM trial AS t"""


def _trial_versions(dialect: str) -> str:
    if dialect == "postgresql":
        seen_day = "to_char(tv.first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        number = (
            "CASE WHEN trim(tv.registry_version) ~ '^[0-9]+$' "
            f"THEN CAST(trim(tv.registry_version) AS numeric) ELSE {NO_NUMBER} END"
        )
    else:
        seen_day = "substr(tv.first_seen_at, 1, 10)"  # naive UTC text: its date
        number = (
            "CASE WHEN trim(tv.registry_version) <> '' "
            "AND trim(tv.registry_version) NOT GLOB '*[^0-9]*' "
            f"THEN CAST(trim(tv.registry_version) AS INTEGER) ELSE {NO_NUMBER} END"
        )
    # the timeline's order: trialwatch/registry/timeline.py version_key, then id
    return f"""CREATE VIEW trial_versions AS
SELECT v.id AS version_id,
       v.nct_id AS nct_id,
       v.source AS origin,
       v.format AS format,
       v.registry_version AS registry_version,
       v.registry_date AS registry_date,
       v.valid_from AS valid_from,
       LEAD(v.valid_from) OVER w AS valid_until,
       v.first_seen_at AS known_from,
       MIN(v.first_seen_at) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
           AS known_until,
       v.first_seen_at AS first_seen_at,
       v.last_seen_at AS last_seen_at,
       v.record_hash AS record_hash,
       v.snapshot AS snapshot,
       v.parser_version AS parser_version,
       {_record(dialect, "v.record")}
FROM (
    SELECT tv.id, tv.trial_id, tv.nct_id, tv.source, tv.format, tv.registry_version,
           tv.registry_date, tv.first_seen_at, tv.last_seen_at, tv.record_hash, tv.snapshot,
           tv.parser_version, tv.record,
           COALESCE(tv.registry_date, {seen_day}) AS valid_from,
           {number} AS version_number
    FROM trial_version AS tv
) AS v
WINDOW w AS (
    PARTITION BY v.trial_id, v.source
    ORDER BY v.valid_from, v.version_number, v.first_seen_at, v.id
)"""


def _changes_feed(dialect: str) -> str:
    if dialect == "postgresql":
        reason = "(c.detail->>'reason')"
        delta = "CAST(c.detail->>'delta_days' AS integer)"
        before, after = "CAST(c.before AS text)", "CAST(c.after AS text)"
        detail = "CAST(c.detail AS text)"
        moved = (
            "CASE WHEN json_typeof(c.detail->'{0}') = 'array' "
            "THEN json_array_length(c.detail->'{0}') END"
        )
    else:
        reason = "json_extract(c.detail, '$.reason')"
        delta = "json_extract(c.detail, '$.delta_days')"
        before, after, detail = "c.before", "c.after", "c.detail"
        moved = (
            "CASE WHEN json_type(c.detail, '$.{0}') = 'array' "
            "THEN json_array_length(c.detail, '$.{0}') END"
        )
    fields = {name: (kind, path) for name, kind, path in RECORD_COLUMNS}
    field = _pg_field if dialect == "postgresql" else _sqlite_field
    now = ",\n       ".join(
        f"{field('t.record', *fields[name])} AS {name}"
        for name in ("brief_title", "lead_sponsor", "phases", "overall_status")
    )
    # a JSON null (a value that was not there) reads as SQL NULL
    return f"""CREATE VIEW changes_feed AS
SELECT c.id AS change_id,
       c.nct_id AS nct_id,
       c.source AS origin,
       c.kind AS kind,
       COALESCE(c.grade, 'major') AS grade,
       {reason} AS reason,
       c.registry_date AS registry_date,
       c.observed_at AS observed_at,
       {delta} AS delta_days,
       NULLIF({before}, 'null') AS before_value,
       NULLIF({after}, 'null') AS after_value,
       c.from_version_id AS from_version_id,
       c.to_version_id AS to_version_id,
       {now},
       {detail} AS detail,
       {moved.format("promoted")} AS outcomes_promoted,
       {moved.format("demoted")} AS outcomes_demoted
FROM change AS c
JOIN trial AS t ON t.id = c.trial_id"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for create in (_trial_latest, _trial_versions, _changes_feed):
        op.execute(create(dialect))


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
