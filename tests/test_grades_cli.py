"""Grades through the command line on a real database (SQLite and PostgreSQL): `changes
--min-grade` and the grade on every line, grades in `history`, `watch add --min-grade`, and
`reparse` grading a database written before grades were stored, without alerting."""

from __future__ import annotations

import json

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import text

from tests.conftest import FIXTURES, fixture_file
from trialwatch import parsers
from trialwatch.cli import cli
from trialwatch.kinds import GRADES
from trialwatch.registry.db import alembic_config, open_engine

NCT = "NCT00513591"  # a real pair of classic XML versions: three changes between them
SITE_NCT = "NCT05828225"


@pytest.fixture
def run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_SOURCE_PRIORITY", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    invoke.url = db_url
    return invoke


def _import_pair(run) -> None:
    old = fixture_file("ctgov_classic_xml_NCT00513591_redownloaded.xml")
    new = fixture_file("ctgov_classic_xml_NCT00513591.xml")
    assert run("import", str(old), "--observed-at", "2016-06-29").exit_code == 0
    assert run("import", str(new), "--observed-at", "2018-05-11").exit_code == 0


def _sql(url: str, statement: str, **params) -> list[tuple]:
    engine = open_engine(url, check_schema=False)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _grade(url: str, kind: str, grade: str | None) -> None:
    _sql(url, "UPDATE change SET grade = :grade WHERE kind = :kind", grade=grade, kind=kind)


def test_changes_filter_by_least_grade_and_show_each_grade(run):
    _import_pair(run)
    # The grades are chosen here (grading itself is tested with the comparison); None is a
    # row written before grades were stored.
    _grade(run.url, "primary_completion_date", "editorial")
    _grade(run.url, "completion_date", "minor")
    _grade(run.url, "enrollment", None)

    def kinds(*flags: str) -> list[tuple[str, str]]:
        result = run("changes", "--json", *flags)
        assert result.exit_code == 0, result.output
        return [(c["kind"], c["grade"]) for c in json.loads(result.stdout)]

    everything = [
        ("primary_completion_date", "editorial"),
        ("completion_date", "minor"),
        ("enrollment", "major"),  # not graded yet: counts as major
    ]
    assert kinds() == everything
    assert kinds("--min-grade", "editorial") == everything
    assert kinds("--min-grade", "minor") == everything[1:]
    assert kinds("--min-grade", "major") == everything[2:]
    assert kinds("--min-grade", "major", "--kind", "completion_date") == []

    plain = run("changes")  # no optional flag at all
    assert plain.exit_code == 0
    lines = plain.stdout.splitlines()
    for kind, grade in everything:
        [line] = [x for x in lines if f"  {kind}:" in x or f" {kind}:" in x]
        assert f"[{grade}]" in line, line

    wrong = run("changes", "--min-grade", "huge")
    assert wrong.exit_code == 2
    assert [x for x in wrong.output.splitlines() if x.startswith("Error")] == [
        "Error: Invalid value for '--min-grade': 'huge' is not one of "
        "'editorial', 'minor', 'major'."
    ]
    assert "editorial < minor < major" in run("changes", "--help").stdout


def test_history_shows_each_change_grade(run):
    _import_pair(run)
    _grade(run.url, "completion_date", "editorial")
    _grade(run.url, "enrollment", None)
    shown = run("history", NCT)  # no optional flag at all
    assert shown.exit_code == 0, shown.output
    assert "completion_date [editorial]" in shown.stdout
    assert "enrollment [major]" in shown.stdout
    rows = json.loads(run("history", NCT, "--json").stdout)
    assert rows[0]["changes"] == rows[0]["grades"] == []
    graded = dict(zip(rows[1]["changes"], rows[1]["grades"], strict=True))
    assert graded["completion_date"] == "editorial" and graded["enrollment"] == "major"


def test_watch_add_takes_minor_and_up_unless_told(run):
    plain = run("watch", "add", "--email", "ann@example.org", "--nct", NCT)
    assert plain.exit_code == 0, plain.output
    assert "minor and up" in plain.stdout
    every = run(
        "watch", "add", "--email", "bob@example.org", "--nct", NCT, "--min-grade", "editorial"
    )
    assert every.exit_code == 0 and "every grade" in every.stdout
    listed = json.loads(run("watch", "list", "--json").stdout)
    assert [(w["email"], w["min_grade"]) for w in listed] == [
        ("ann@example.org", "minor"),
        ("bob@example.org", "editorial"),
    ]
    text_list = run("watch", "list").stdout  # no optional flag at all
    assert "minor and up" in text_list and "every grade" in text_list
    wrong = run("watch", "add", "--email", "c@example.org", "--nct", NCT, "--min-grade", "x")
    assert wrong.exit_code == 2 and "'x' is not one of" in wrong.output
    assert "editorial < minor < major" in run("watch", "add", "--help").stdout


def _site_discrepancy(run, tmp_path) -> None:
    """The registry's record of NCT05828225 (built as in test_sites_cli) says active, not
    recruiting; a ClinicalTrialExchange page says recruiting: one source_discrepancy."""
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    data["protocolSection"]["identificationModule"]["nctId"] = SITE_NCT
    data["protocolSection"]["statusModule"]["completionDateStruct"] = {
        "date": "2026-04-20",
        "type": "ESTIMATED",
    }
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(data))
    assert run("import", str(registry)).exit_code == 0
    page = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www"
    url = json.loads((page / "expected.json").read_text())["url"]
    done = run(
        "import", str(page / "semantic.html"), "--source", "clinicaltrialexchange", "--url", url
    )
    assert done.exit_code == 0, done.output


def test_reparse_grades_a_database_from_before_grades_without_alerting(run, tmp_path):
    assert run("watch", "add", "--email", "ann@example.org", "--nct", NCT).exit_code == 0
    _import_pair(run)
    _site_discrepancy(run, tmp_path)
    url = run.url

    def state() -> tuple[list[tuple], list[tuple], int]:
        changes = _sql(url, "SELECT id, kind FROM change ORDER BY id")
        deliveries = _sql(url, "SELECT id, watch_id, change_id FROM delivery ORDER BY id")
        messages = _sql(url, "SELECT count(*) FROM alert_message")[0][0]
        return changes, deliveries, messages

    changes, deliveries, messages = state()
    assert {kind for _, kind in changes} >= {"enrollment", "source_discrepancy"}
    assert deliveries  # the registry edit was news when it came

    # The same database as an older trialwatch left it: no grade column, read by an older
    # parser. Commands refuse it until `db upgrade`; the grades stay empty until reparse.
    engine = open_engine(url, check_schema=False)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    engine.dispose()
    _sql(url, "UPDATE trial_version SET parser_version = :old", old="0-before-grades")
    refused = run("reparse")
    assert refused.exit_code == 1 and "run `trialwatch db upgrade`" in refused.stderr
    assert run("db", "upgrade").exit_code == 0
    assert {g for (g,) in _sql(url, "SELECT grade FROM change")} == {None}
    assert _sql(url, "SELECT min_grade FROM watch") == [("minor",)]

    result = run("reparse")  # no optional flag at all
    assert result.exit_code == 0, result.output
    assert f"{len(changes)} regraded or rewritten" in result.stderr
    graded = _sql(url, "SELECT kind, grade FROM change ORDER BY id")
    assert all(grade in GRADES for _, grade in graded), graded
    assert ("source_discrepancy", "major") in graded
    assert state() == (changes, deliveries, messages)  # regraded in place; nothing queued
    versions = _sql(url, "SELECT DISTINCT parser_version FROM trial_version")
    assert versions == [(parsers.PARSER_VERSION,)]

    again = run("reparse")
    assert again.exit_code == 0 and "0 regraded or rewritten" in again.stderr
    assert _sql(url, "SELECT kind, grade FROM change ORDER BY id") == graded

    # a stored grade the comparison no longer gives is rewritten, in place
    [(change_id, grade)] = _sql(url, "SELECT id, grade FROM change WHERE kind = 'enrollment'")
    other = next(g for g in GRADES if g != grade)
    _grade(url, "enrollment", other)
    fixed = run("reparse", "--nct", NCT)
    assert fixed.exit_code == 0 and "1 regraded or rewritten" in fixed.stderr
    assert _sql(url, "SELECT id, grade FROM change WHERE kind = 'enrollment'") == [
        (change_id, grade)
    ]
    assert state() == (changes, deliveries, messages)


def test_reparse_regrades_an_outcome_restated_without_alerting(run, tmp_path):
    """A later version of a real record states its first primary outcome's time point in the
    measure and its time frame as "56 days" (was "up to 56 days"): read as one statement
    nothing changed, so the change is editorial and nobody watching "minor and up" hears of
    it. A database graded by the older field-by-field rules (major: "number changed") is
    regraded in place by `reparse`, and still nothing is queued."""
    source = fixture_file("ctgov_v2_NCT03934567.json")
    data = json.loads(source.read_bytes())
    nct = data["protocolSection"]["identificationModule"]["nctId"]
    outcome = data["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]
    later = json.loads(source.read_bytes())
    moved = later["protocolSection"]["outcomesModule"]["primaryOutcomes"][0]
    moved["measure"] = f"{outcome['measure']} at 56 days"
    moved["timeFrame"] = "56 days"
    later["protocolSection"]["statusModule"]["lastUpdateSubmitDate"] = "2025-05-01"
    (tmp_path / "later.json").write_text(json.dumps(later))
    assert run("watch", "add", "--email", "ann@example.org", "--nct", nct).exit_code == 0
    assert run("import", str(source), "--observed-at", "2025-04-10").exit_code == 0
    assert run("import", str(tmp_path / "later.json"), "--observed-at", "2025-05-02").exit_code == 0

    rows = "SELECT id, grade FROM change WHERE kind = 'primary_outcome'"
    [(change_id, grade)] = _sql(run.url, rows)
    assert grade == "editorial"
    assert _sql(run.url, "SELECT count(*) FROM delivery") == [(0,)]
    listed = run("changes", "--nct", nct)
    assert "[editorial] primary_outcome" in listed.stdout
    assert "time frame restated" in run("changes", "--nct", nct, "--json").stdout
    minor = run("changes", "--nct", nct, "--min-grade", "minor")
    assert minor.exit_code == 0 and "primary_outcome" not in minor.stdout

    _grade(run.url, "primary_outcome", "major")
    _sql(run.url, "UPDATE trial_version SET parser_version = :old", old="0-older")
    result = run("reparse")
    assert result.exit_code == 0 and "1 regraded or rewritten" in result.stderr, result.output
    assert _sql(run.url, rows) == [(change_id, "editorial")]
    assert _sql(run.url, "SELECT count(*) FROM delivery") == [(0,)]
    assert _sql(run.url, "SELECT count(*) FROM alert_message") == [(0,)]
