"""`trialwatch audit` and `watch add --finding` as a user types them, on real records
(tests/fixtures/SOURCES.md) imported into a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.conftest import fixture_file
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine

# NCT03418623: completed, primary completion 2020-03-13 (actual), phase 2, no results posted.
# NCT03934567: active, not recruiting; primary completion 2025-01-29 (actual), no results.
# NCT02210780: completed with results posted: no finding.
TRIALS = ("NCT03418623", "NCT03934567", "NCT02210780")
RESULTS_DUE = (
    "NCT03418623  results_due       2021-03-14  no results posted at its last update on "
    "2020-10-08; primary completion 2020-03-13 (actual), results due within 365 days (from "
    "2021-03-14) (versions {v})"
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("audit")
    url = f"sqlite:///{folder / 'tw.db'}"
    for nct in TRIALS:
        (folder / f"{nct}.json").write_bytes(fixture_file(f"ctgov_v2_{nct}.json").read_bytes())
    result = CliRunner().invoke(
        cli,
        ["--db", url, "import", *(str(folder / f"{n}.json") for n in TRIALS)],
        env={"TRIALWATCH_DATA_DIR": str(folder / "data")},
    )
    assert result.exit_code == 0, result.output
    return url


def run(db: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db, *args])


def version_of(db: str, nct: str) -> int:
    engine = open_engine(db)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT id FROM trial_version WHERE nct_id = :n"), {"n": nct}
        ).scalar_one()
    engine.dispose()
    return int(found)


def test_audit_with_no_options_lists_every_finding_that_holds_today(db: str) -> None:
    result = run(db, "audit")
    assert result.exit_code == 0, result.output
    v = version_of(db, "NCT03934567")
    assert result.stdout.splitlines() == [
        RESULTS_DUE.format(v=version_of(db, "NCT03418623")),
        "NCT03934567  results_due       2026-01-30  no results posted at its last update on "
        "2025-04-10; primary completion 2025-01-29 (actual), results due within 365 days (from "
        f"2026-01-30) (versions {v})",
        "NCT03934567  stale_status      2026-01-30  status still ACTIVE_NOT_RECRUITING at its "
        "last update on 2025-04-10, more than 365 days after primary completion 2025-01-29 "
        f"(actual) (from 2026-01-30) (versions {v})",
    ]
    assert result.stderr.splitlines() == [
        "audit: 3 finding(s) in 2 of 3 trial(s): stale_status 1, results_due 2"
    ]


def test_audit_filters_and_json(db: str) -> None:
    found = json.loads(run(db, "audit", "--kind", "stale_status", "--json").stdout)
    assert [(f["nct_id"], f["kind"], f["since"]) for f in found] == [
        ("NCT03934567", "stale_status", "2026-01-30")
    ]
    assert found[0]["versions"][0]["registry_date"] == "2025-04-10"
    only = run(db, "audit", "--nct", "nct03418623", "--since", "2021-01-01")
    assert only.stdout.splitlines() == [RESULTS_DUE.format(v=version_of(db, "NCT03418623"))]
    later = run(db, "audit", "--since", "2022-01-01", "--kind", "results_due")
    assert [line[:13] for line in later.stdout.splitlines()] == ["NCT03934567  "]


def test_audit_on_both_clocks(db: str) -> None:
    # the registry's clock: on 2021-03-13 results were not yet a year late; on 2021-03-14 they were
    assert run(db, "audit", "--as-of", "2021-03-13").stdout == ""
    assert run(db, "audit", "--as-of", "2021-03-14").stdout.splitlines() == [
        RESULTS_DUE.format(v=version_of(db, "NCT03418623"))
    ]
    # trialwatch's clock: before the import it knew nothing
    before = run(db, "audit", "--known-at", "2001-01-01")
    assert (before.exit_code, before.stdout) == (0, "")
    assert before.stderr.strip() == "audit: no findings in 3 trial(s)"
    # thresholds are options
    strict = run(db, "audit", "--kind", "results_due", "--results-days", "3000", "--json")
    assert json.loads(strict.stdout) == []


def test_audit_bad_input_is_one_line(db: str) -> None:
    bad = run(db, "audit", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "'yesterday' is not an ISO 8601 date" in bad.stderr
    unknown = run(db, "audit", "--nct", "NCT99999999")
    assert (unknown.exit_code, unknown.stdout) == (0, "")
    assert "audit: not held: NCT99999999" in unknown.stderr.splitlines()


def copy_of(db: str, folder: Path) -> str:
    """A copy of the module's database, for a test that writes."""
    copy = folder / "copy.db"
    copy.write_bytes(Path(db.removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


def test_audit_says_when_versions_were_read_by_an_older_parser(tmp_path: Path, db: str) -> None:
    url = copy_of(db, tmp_path)
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE trial_version SET parser_version = '6' WHERE id = 1"))
    engine.dispose()
    warned = run(url, "audit").stderr.splitlines()
    assert warned[0].startswith("audit: 1 trial(s) hold versions read by an older parser")
    assert warned[0].endswith("run `trialwatch reparse`")


def test_watch_add_finding_with_no_other_option_and_list(tmp_path: Path, db: str) -> None:
    url = copy_of(db, tmp_path)
    add = ("watch", "add", "--nct", "NCT03418623", "--email", "a@example.org", "--finding")
    added = run(url, *add, "results_due")
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == (
        "watch 1: NCT03418623 (finding results_due; minor and up; immediate) -> a@example.org"
    )
    [listed] = json.loads(run(url, "watch", "list", "--json").stdout)
    assert (listed["kinds"], listed["findings"]) == ([], ["results_due"])
    wrong = run(url, *add, "nonsense")
    assert wrong.exit_code == 2 and "'nonsense' is not one of" in wrong.stderr
