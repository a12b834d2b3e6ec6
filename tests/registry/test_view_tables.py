"""The analyst views agree with the tables they read (SQLite and PostgreSQL): trial_latest
is `show` for every trial, changes_feed one row per change, trial_versions one row per version
in each timeline's order, and an upgrade from 0008 creates them on a database with data."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, select

from tests.analyst_data import analyst_pg_template, analyst_template, analyst_url  # noqa: F401
from tests.registry.test_views import VIEWS, flat, moment, query, run, session, url  # noqa: F401
from trialwatch.registry.db import alembic_config, head_revision, open_engine
from trialwatch.registry.models import Change, Trial, TrialVersion
from trialwatch.registry.timeline import ordered


def test_trial_latest_is_show_for_every_trial(url: str, session: Session) -> None:  # noqa: F811
    rows = {r["nct_id"]: r for r in query(url, "SELECT * FROM trial_latest")}
    trials = session.exec(select(Trial)).all()
    assert sorted(rows) == sorted(t.nct_id for t in trials)
    for trial in trials:
        result = run(url, "show", trial.nct_id, "--json")
        assert result.exit_code == 0, result.stderr
        row = rows[trial.nct_id]
        assert {k: row[k] for k in flat({})} == flat(json.loads(result.stdout)), trial.nct_id
        assert row["record_source"] == trial.record_source
        assert moment(row["first_seen_at"]) == trial.first_seen_at
        assert moment(row["updated_at"]) == trial.updated_at


def test_changes_feed_is_one_row_per_change(url: str, session: Session) -> None:  # noqa: F811
    rows = {r["change_id"]: r for r in query(url, "SELECT * FROM changes_feed")}
    changes = session.exec(select(Change)).all()
    assert len(rows) == len(changes) and sorted(rows) == sorted(c.id for c in changes)
    trials = {t.id: t for t in session.exec(select(Trial)).all()}
    assert any(r["delta_days"] is not None for r in rows.values())
    for c in changes:
        row = rows[c.id]
        now = trials[c.trial_id].record
        assert row["delta_days"] == c.detail.get("delta_days"), c.id
        assert row["grade"] == (c.grade or "major") and row["reason"] == c.detail.get("reason")
        assert (row["origin"], row["kind"], row["registry_date"]) == (
            c.source,
            c.kind,
            c.registry_date,
        )
        assert moment(row["observed_at"]) == c.observed_at
        for value, column in ((c.before, "before_value"), (c.after, "after_value")):
            assert (None if row[column] is None else json.loads(row[column])) == value
        assert (row["from_version_id"], row["to_version_id"]) == (
            c.from_version_id,
            c.to_version_id,
        )
        assert json.loads(row["detail"]) == c.detail
        assert (row["overall_status"], row["phases"]) == (
            now.get("overall_status"),
            flat(now)["phases"],
        )


def test_trial_versions_follow_each_timeline(url: str, session: Session) -> None:  # noqa: F811
    rows = {r["version_id"]: r for r in query(url, "SELECT * FROM trial_versions")}
    versions = session.exec(select(TrialVersion)).all()
    assert len(rows) == len(versions) and sorted(rows) == sorted(v.id for v in versions)
    timelines: dict[tuple[int, str], list[TrialVersion]] = {}
    for v in versions:
        timelines.setdefault((v.trial_id, v.source), []).append(v)
    assert any(len(line) > 2 for line in timelines.values())
    for line in timelines.values():
        line = ordered(line)
        for i, v in enumerate(line):
            row = rows[v.id]
            later = line[i + 1 :]
            valid_from = v.registry_date or v.first_seen_at.date().isoformat()
            assert row["valid_from"] == valid_from
            assert row["valid_until"] == (rows[later[0].id]["valid_from"] if later else None)
            assert moment(row["known_from"]) == v.first_seen_at
            expected_until = min((w.first_seen_at for w in later), default=None)
            assert moment(row["known_until"]) == expected_until
            assert (row["origin"], row["format"], row["registry_version"]) == (
                v.source,
                v.format,
                v.registry_version,
            )
            assert {k: row[k] for k in flat({})} == flat(v.record), v.id
        # no two versions of one timeline are in force on the same day
        spans = [(rows[v.id]["valid_from"], rows[v.id]["valid_until"]) for v in line]
        for (start, end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert start <= next_start and end is not None and end <= next_start


# --- the upgrade ---------------------------------------------------------------------------


def test_db_upgrade_from_0008_creates_the_views_on_a_database_with_data(
    analyst_url: str,  # noqa: F811
) -> None:
    engine = open_engine(analyst_url)
    cfg = alembic_config(analyst_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        assert not set(VIEWS) & set(inspect(engine).get_view_names())
    finally:
        engine.dispose()
    result = run(analyst_url, "db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0].endswith(f": upgraded from 0008 to {head_revision()}")
    engine = create_engine(analyst_url)
    try:
        assert set(VIEWS) <= set(inspect(engine).get_view_names())
        with engine.connect() as conn:
            for view, table in zip(VIEWS, ("trial", "trial_version", "change"), strict=True):
                count = conn.execute(text(f"SELECT count(*) FROM {view}")).scalar()
                assert count == conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                assert count
    finally:
        engine.dispose()
