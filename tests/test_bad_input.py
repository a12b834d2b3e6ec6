"""Bad input through `import` and the command line: whatever bytes arrive, each payload that
cannot be a version is set aside (a parse_failure row and one stderr line naming it and what
is wrong) and the rest goes on; never a traceback. On SQLite and PostgreSQL, with real saved
payloads made bad (tests/bad_input.py)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.bad_input import (
    BAD,
    BAD_FILES,
    GOOD,
    STUDY,
    Env,
    count_as,
    edited,
    line_about,
)
from tests.conftest import FIXTURES, fixture_file
from tests.reliability import Recorder
from trialwatch.cli import cli
from trialwatch.registry.db import transaction
from trialwatch.registry.models import TrialVersion


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Env]:
    made = Env(db_url, tmp_path / "data")
    yield made
    made.engine.dispose()


@pytest.mark.reliability
def test_import_sets_aside_every_bad_payload_and_stores_the_rest(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (body, _said) in BAD_FILES.items():
        (folder / name).write_bytes(body)
    (folder / "z_good.json").write_bytes(fixture_file(f"ctgov_v2_{GOOD}.json").read_bytes())
    with zipfile.ZipFile(folder / "y_bulk.zip", "w") as zf:
        zf.writestr(f"ctg-studies/{BAD}.json", count_as("NaN"))
        zf.writestr(
            "ctg-studies/NCT04207047.json", fixture_file("ctgov_v2_NCT04207047.json").read_bytes()
        )

    result = env.run("import", str(folder))

    assert result.exit_code == 1, result.output
    for name, (_body, said) in BAD_FILES.items():
        assert said in line_about(result.stderr, str(folder / name))
    member = f"{folder / 'y_bulk.zip'}!ctg-studies/{BAD}.json"
    assert "refused: NaN is not a number JSON allows" in line_about(result.stderr, member)
    assert f"{len(BAD_FILES) + 1} rejected" in result.stderr
    reasons = [f.reason for f in env.failures()]
    assert len(reasons) == len(BAD_FILES) + 1
    assert all(
        said in reason for (_b, said), reason in zip(BAD_FILES.values(), reasons, strict=False)
    )
    assert env.versions(BAD) == []
    assert len(env.versions(GOOD)) == 1 and len(env.versions("NCT04207047")) == 1
    reliability.tried(
        "input",
        "import of a folder and an archive: 5000-digit, infinite and NaN numbers, lone "
        "surrogate, NUL, wrong types, out-of-range counts, a partial record, bad dates, "
        "bad classic XML, a cut file; good files after them",
        len(BAD_FILES) + 1,
        "each set aside with one line naming it and the reason; the good files stored",
    )


@pytest.mark.reliability
def test_a_registry_response_that_lost_its_fields_is_not_a_new_version(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    whole, stub = tmp_path / "whole.json", tmp_path / "stub.json"
    whole.write_bytes(STUDY)
    stub.write_bytes(BAD_FILES["j_only_identification.json"][0])
    assert env.run("import", str(whole), "--observed-at", "2026-01-01").exit_code == 0

    result = env.run("import", str(stub), "--observed-at", "2026-02-01")

    assert result.exit_code == 1
    assert line_about(result.stderr, str(stub)).endswith(
        "not a whole registry record: statusModule.overallStatus missing "
        "(it holds only identificationModule)"
    )
    assert len(env.versions(BAD)) == 1
    assert json.loads(env.run("changes", "--nct", BAD, "--json").stdout) == []
    [failure] = env.failures()
    assert failure.reason.startswith("not a whole registry record") and failure.snapshot
    reliability.tried(
        "input",
        "a registry response holding only its identification module, after a whole record",
        1,
        "set aside with its reason; no new version, no false changes",
    )


@pytest.mark.reliability
def test_what_the_database_refuses_for_one_payload_is_set_aside(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    """An identifier longer than its column (191) is refused by PostgreSQL (SQLite stores
    any length): that payload's transaction is rolled back and set aside, the next stored."""
    long_id = "X" * 300
    first = tmp_path / "a_long_id.json"
    first.write_bytes(
        edited(lambda ps: ps["identificationModule"]["orgStudyIdInfo"].update(id=long_id))
    )
    (tmp_path / "b_good.json").write_bytes(fixture_file(f"ctgov_v2_{GOOD}.json").read_bytes())

    result = env.run("import", str(first), str(tmp_path / "b_good.json"))

    assert len(env.versions(GOOD)) == 1
    if env.url.startswith("sqlite"):
        assert result.exit_code == 0 and len(env.versions(BAD)) == 1
        return
    assert result.exit_code == 1
    line = line_about(result.stderr, str(first))
    assert line.endswith("the database refused it: value too long for type character varying(191)")
    assert env.versions(BAD) == []
    [failure] = env.failures()
    assert failure.reason.startswith("the database refused it")
    reliability.tried(
        "database",
        "a payload PostgreSQL refuses (a 300-character identifier), then a good one",
        1,
        "its transaction rolled back and set aside with the database's reason; the next stored",
    )


def test_an_unknown_source_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "tw.db"
    argv = ["--db", str(db), "import", str(fixture_file(f"ctgov_v2_{GOOD}.json"))]
    result = CliRunner().invoke(cli, [*argv, "--source", "ctgov2"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == (
        "--source 'ctgov2': not a known source (known: ctgov, ctgov_history, ctgov_classic, "
        "veeva, centerwatch, clinicaltrialexchange, trialpage)\n"
    )
    assert not db.exists()
    ok = CliRunner().invoke(cli, [*argv, "--source", "ctgov"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output


ARABIC_NCT = "NCT\u0660\u0660\u0661\u0668\u0664\u0660\u0666\u0667"  # NCT00184067 in Arabic-Indic


@pytest.mark.parametrize(
    "args",
    [
        ["crawl", "ctgov", "--nct", ARABIC_NCT],
        ["backfill", ARABIC_NCT],
        ["reparse", "--nct", ARABIC_NCT],
        ["watch", "add", "--email", "a@example.org", "--nct", ARABIC_NCT],
    ],
)
def test_an_nct_id_with_other_digits_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "tw.db"), *args])
    assert result.exit_code == 2, result.output
    assert "is not an NCT id" in result.stderr and "Traceback" not in result.output


def test_an_nct_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"NCT00184067\n\xff\xfe\n")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "tw.db"), "backfill", "--nct-file", str(ids)]
    )
    assert result.exit_code == 2
    assert "not UTF-8 (bad byte at offset 12)" in result.stderr and "Traceback" not in result.output
    ids.write_text(f"NCT00184067\n{ARABIC_NCT}\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "tw.db"), "backfill", "--nct-file", str(ids)]
    )
    assert result.exit_code == 2 and f"{ids}:2:" in result.stderr


def test_a_site_address_with_other_digits_gives_no_nct_id(env: Env) -> None:
    """The page shows no NCT id; its address holds one in Arabic-Indic digits: never an id."""
    page = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www" / "semantic.html"
    url = f"https://www.clinicaltrialexchange.com/clinical-trials/some-trial/{ARABIC_NCT}"
    result = env.run("import", str(page), "--source", "clinicaltrialexchange", "--url", url)
    with transaction(env.engine) as session:
        held = list(session.exec(select(TrialVersion.nct_id)).all())
    assert held == [] and result.exit_code == 1
    # The address's digits are not ASCII, so the address names no NCT id at all.
    assert "no NCT id and no other identifier on the page" in line_about(result.stderr, str(page))
    [failure] = env.failures()
    assert failure.url == url


@pytest.mark.reliability
def test_a_site_page_with_a_nul_character_is_set_aside(
    env: Env, tmp_path: Path, reliability: Recorder
) -> None:
    """A page's visible text with a NUL in its title: PostgreSQL text cannot hold it."""
    folder = FIXTURES / "clinicaltrialexchange" / "NCT05828225_www"
    url = json.loads((folder / "expected.json").read_text())["url"]
    page = tmp_path / "page.txt"
    page.write_bytes((folder / "page.txt").read_bytes().replace(b"Evaluate", b"Eval\x00uate", 1))
    result = env.run("import", str(page), "--source", "clinicaltrialexchange", "--url", url)
    assert result.exit_code == 1
    assert line_about(result.stderr, str(page)).endswith(
        "brief_title: holds a NUL character (\\u0000), which text cannot hold"
    )
    assert env.versions("NCT05828225") == [] and len(env.failures()) == 1
    page.write_bytes((folder / "page.txt").read_bytes())
    again = env.run("import", str(page), "--source", "clinicaltrialexchange", "--url", url)
    assert again.exit_code == 0 and len(env.versions("NCT05828225")) == 1
    reliability.tried(
        "sites",
        "a site page whose text holds a NUL character",
        1,
        "set aside with the field named; the same page without it stored",
    )
