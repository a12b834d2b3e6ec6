"""The migrations build exactly the tables the models describe, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from trialwatch.registry.db import alembic_config, open_engine, upgrade


def test_migrations_match_the_models_and_reverse(db_url):
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            assert compare_metadata(context, SQLModel.metadata) == []
        cfg = alembic_config(db_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert {"trial", "trial_version", "change", "discrepancy"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_0004_merges_the_registry_lineages_into_one(db_url):
    """A database from before 0004: a record-history version and an API v2 record of one
    trial kept as two unrelated lineages. After the upgrade they are one timeline in the
    registry's order, and the change between them is recorded."""
    import json

    from sqlalchemy import create_engine, text

    from tests.conftest import fixture_file
    from trialwatch.parsers import parse_payload
    from trialwatch.registry.queries import history, list_changes

    data = json.loads(fixture_file("ctgov_history_NCT04280705_v0.json").read_bytes())
    [old] = parse_payload(json.dumps(data).encode())
    status = data["study"]["protocolSection"]["statusModule"]
    status["overallStatus"] = "RECRUITING"
    status["lastUpdatePostDateStruct"]["date"] = "2020-03-01"
    [new] = parse_payload(json.dumps(data["study"]).encode())
    assert (old.source, new.source) == ("ctgov_history", "ctgov")

    engine = create_engine(db_url)
    cfg = alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            text(
                "INSERT INTO trial (id, nct_id, record, record_source, first_seen_at, updated_at)"
                " VALUES (1, 'NCT04280705', '{}', 'ctgov', '2026-01-02', '2026-01-02')"
            )
        )
        insert = text(
            "INSERT INTO trial_version (id, trial_id, nct_id, source, record_hash, record, "
            "first_seen_at, last_seen_at, registry_date, registry_version) VALUES "
            "(:id, 1, 'NCT04280705', :source, :hash, :record, :seen, :seen, :date, :number)"
        )
        # the newer content was seen first: arrival order is not the registry's order
        for id_, record, seen in ((1, new, "2026-01-01"), (2, old, "2026-01-02")):
            conn.execute(
                insert,
                {
                    "id": id_,
                    "source": record.source,
                    "hash": f"{id_:064d}",
                    "record": json.dumps(record.model_dump(mode="json")),
                    "seen": seen,
                    "date": record.last_update_posted,
                    "number": record.registry_version,
                },
            )
    engine.dispose()

    upgrade(db_url)  # `trialwatch db upgrade`: opening it alone would refuse it
    engine = open_engine(db_url)
    try:
        from trialwatch.registry.db import transaction

        with transaction(engine) as session:
            rows = history(session, "NCT04280705")
            changes = list_changes(session)
        assert rows is not None
        assert [(r["source"], r["format"], r["version_id"]) for r in rows] == [
            ("ctgov", "ctgov_history", 2),
            ("ctgov", "ctgov", 1),
        ]
        assert [
            (c.kind, c.before, c.after, c.from_version_id, c.to_version_id) for c in changes
        ] == [("status", "NOT_YET_RECRUITING", "RECRUITING", 2, 1)]
    finally:
        engine.dispose()


def test_0005_adds_grades_to_a_database_with_rows(db_url):
    """A database from before 0005 with a change, a watch and a delivery: after the upgrade the
    change has no grade (it counts as major until reparse), the old watch takes minor and up,
    and the revision goes down and up again with the rows in place."""
    from sqlalchemy import create_engine, text

    from trialwatch.registry.db import transaction
    from trialwatch.registry.queries import change_dict, list_changes

    engine = create_engine(db_url)
    cfg = alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        seen = "2026-01-02 00:00:00"
        conn.execute(
            text(
                "INSERT INTO trial (id, nct_id, record, record_source, first_seen_at, updated_at)"
                " VALUES (1, 'NCT04280705', '{}', 'ctgov', :seen, :seen)"
            ),
            {"seen": seen},
        )
        for id_ in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO trial_version (id, trial_id, nct_id, source, format, "
                    "record_hash, record, first_seen_at, last_seen_at) VALUES "
                    "(:id, 1, 'NCT04280705', 'ctgov', 'ctgov', :hash, '{}', :seen, :seen)"
                ),
                {"id": id_, "hash": f"{id_:064d}", "seen": seen},
            )
        conn.execute(
            text(
                "INSERT INTO change (id, trial_id, nct_id, source, kind, before, after, detail, "
                "from_version_id, to_version_id, observed_at) VALUES (1, 1, 'NCT04280705', "
                "'ctgov', 'status', '\"RECRUITING\"', '\"COMPLETED\"', '{}', 1, 2, :seen)"
            ),
            {"seen": seen},
        )
        conn.execute(
            text(
                "INSERT INTO watch (id, email, kinds, digest, active, created_at) VALUES "
                "(1, 'a@example.org', '[\"status\"]', 'immediate', :yes, :seen)"
            ),
            {"yes": True, "seen": seen},
        )
        conn.execute(
            text(
                "INSERT INTO delivery (id, watch_id, change_id, created_at) VALUES (1, 1, 1, :seen)"
            ),
            {"seen": seen},
        )
    engine.dispose()

    def stored() -> tuple[list[tuple], list[tuple]]:
        with engine.connect() as conn:
            grades = [tuple(r) for r in conn.execute(text("SELECT id, grade FROM change"))]
            watches = [tuple(r) for r in conn.execute(text("SELECT id, min_grade FROM watch"))]
        return grades, watches

    upgrade(db_url)  # `trialwatch db upgrade`: opening it alone would refuse it
    engine = open_engine(db_url)
    try:
        assert stored() == ([(1, None)], [(1, "minor")])
        with transaction(engine) as session:
            [row] = list_changes(session, min_grade="major")  # NULL passes as major
            assert change_dict(row)["grade"] == "major"
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert stored() == ([(1, None)], [(1, "minor")])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM delivery")).scalar() == 1
    finally:
        engine.dispose()


def test_0011_gives_each_watch_its_email_channel_and_keeps_its_outbox(db_url):
    """A database from before 0011 with two watches, their deliveries and a sent message:
    after the upgrade each watch has one email channel, and its deliveries and message belong
    to it; down to 0010 and up again, the rows stay."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    cfg = alembic_config(db_url)
    seen = "2026-01-02 00:00:00"
    rows = [
        "INSERT INTO trial (id, nct_id, record, record_source, first_seen_at, updated_at)"
        " VALUES (1, 'NCT04280705', '{}', 'ctgov', :seen, :seen)",
        *(
            "INSERT INTO trial_version (id, trial_id, nct_id, source, format, record_hash, "
            f"record, first_seen_at, last_seen_at) VALUES ({n}, 1, 'NCT04280705', 'ctgov', "
            f"'ctgov', '{n:064d}', '{{}}', :seen, :seen)"
            for n in (1, 2)
        ),
        "INSERT INTO change (id, trial_id, nct_id, source, kind, before, after, detail, "
        "from_version_id, to_version_id, observed_at) VALUES (1, 1, 'NCT04280705', 'ctgov', "
        "'status', '\"RECRUITING\"', '\"COMPLETED\"', '{}', 1, 2, :seen)",
        *(
            "INSERT INTO watch (id, email, kinds, digest, active, created_at) VALUES "
            f"({n}, 'w{n}@example.org', '[\"status\"]', 'immediate', :yes, :seen)"
            for n in (1, 2)
        ),
        "INSERT INTO alert_message (id, watch_id, message_id, recipient, subject, text, html, "
        "status, attempts, next_attempt_at, created_at, sent_at) VALUES (1, 1, '<m1@x>', "
        "'w1@example.org', 's', 't', 'h', 'sent', 1, :seen, :seen, :seen)",
        "INSERT INTO delivery (id, watch_id, change_id, message_pk, created_at) "
        "VALUES (1, 1, 1, 1, :seen)",
        "INSERT INTO delivery (id, watch_id, change_id, created_at) VALUES (2, 2, 1, :seen)",
    ]
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
        for row in rows:
            conn.execute(text(row), {"seen": seen, "yes": True})
    engine.dispose()

    def stored() -> tuple[list[tuple], ...]:
        with engine.connect() as conn:
            return tuple(
                [tuple(r) for r in conn.execute(text(query))]
                for query in (
                    "SELECT id, watch_id, kind, target, sealed FROM watch_channel ORDER BY id",
                    "SELECT id, watch_id, channel_id, message_pk FROM delivery ORDER BY id",
                    "SELECT id, channel_id, period, status FROM alert_message ORDER BY id",
                )
            )

    upgrade(db_url)
    try:
        expected = (
            [(1, 1, "email", "w1@example.org", None), (2, 2, "email", "w2@example.org", None)],
            [(1, 1, 1, 1), (2, 2, 2, None)],
            [(1, 1, None, "sent")],
        )
        assert stored() == expected
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010")
            after = [tuple(r) for r in conn.execute(text("SELECT id, watch_id FROM delivery"))]
            assert sorted(after) == [(1, 1), (2, 2)]
            command.upgrade(cfg, "head")
        assert stored() == expected
    finally:
        engine.dispose()


def test_0012_lets_a_delivery_name_a_finding_and_the_view_show_it(db_url):
    """At 0012 a delivery names a change or a finding and audit_findings lists the findings
    that hold today; down to 0011 the change's delivery stays and the finding's goes."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    cfg = alembic_config(db_url)
    seen = "2026-01-02 00:00:00"
    before = [
        "INSERT INTO trial (id, nct_id, brief_title, record, record_source, first_seen_at, "
        "updated_at) VALUES (1, 'NCT04280705', 'ACTT', '{}', 'ctgov', :seen, :seen)",
        *(
            "INSERT INTO trial_version (id, trial_id, nct_id, source, format, record_hash, "
            f"record, first_seen_at, last_seen_at) VALUES ({n}, 1, 'NCT04280705', 'ctgov', "
            f"'ctgov', '{n:064d}', '{{}}', :seen, :seen)"
            for n in (1, 2)
        ),
        "INSERT INTO change (id, trial_id, nct_id, source, kind, before, after, detail, "
        "from_version_id, to_version_id, observed_at) VALUES (1, 1, 'NCT04280705', 'ctgov', "
        "'status', '\"RECRUITING\"', '\"COMPLETED\"', '{}', 1, 2, :seen)",
        "INSERT INTO watch (id, email, kinds, digest, active, created_at) VALUES "
        "(1, 'w1@example.org', '[\"status\"]', 'immediate', :yes, :seen)",
        "INSERT INTO watch_channel (id, watch_id, kind, target, created_at) VALUES "
        "(1, 1, 'email', 'w1@example.org', :seen)",
        "INSERT INTO delivery (id, watch_id, channel_id, change_id, created_at) "
        "VALUES (1, 1, 1, 1, :seen)",
    ]
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        for row in before:
            conn.execute(text(row), {"seen": seen, "yes": True})
    engine.dispose()
    upgrade(db_url)
    try:
        with engine.begin() as conn:
            for since, resolved in (
                ("2021-04-20", None),
                ("2099-01-01", None),
                ("2021-01-01", seen),
            ):
                conn.execute(
                    text(
                        "INSERT INTO finding (trial_id, nct_id, kind, key, grade, since, "
                        "version_ids, registry_dates, text, detail, first_seen_at, resolved_at, "
                        "news) VALUES (1, 'NCT04280705', 'results_due', :since, 'major', :since, "
                        "'[1, 2]', '[\"2020-05-30\", \"2020-06-01\"]', 'no results', "
                        '\'{"phase": "x"}\', :seen, :resolved, :no)'
                    ),
                    {"since": since, "seen": seen, "resolved": resolved, "no": False},
                )
            conn.execute(
                text(
                    "INSERT INTO delivery (id, watch_id, channel_id, finding_id, created_at) "
                    "VALUES (2, 1, 1, 1, :seen)"
                ),
                {"seen": seen},
            )
            view = conn.execute(
                text(
                    "SELECT nct_id, brief_title, kind, phase, since, since_year, version_ids, "
                    "registry_dates FROM audit_findings"
                )
            ).all()
        # only the finding that holds today: not the future one, not the resolved one
        assert [tuple(r) for r in view] == [
            (
                "NCT04280705",
                "ACTT",
                "results_due",
                "x",
                "2021-04-20",
                2021,
                "1, 2",
                "2020-05-30, 2020-06-01",
            )
        ]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011")
            kept = [tuple(r) for r in conn.execute(text("SELECT id, change_id FROM delivery"))]
            assert kept == [(1, 1)]
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
