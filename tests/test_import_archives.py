"""``trialwatch import`` on ZIP archives and folders, through the command line (CliRunner)
against a real SQLite database in tmp_path, on real saved payloads.

The archives are written with ``zipfile`` around real fixtures; the malicious entries are
built on purpose with crafted ZipInfo names and attributes (legitimate test input for the
refusals; see tests/test_archives.py for every refusal kind one by one).
"""

from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import fixture_file
from trialwatch.cli import cli

# real payloads: three API v2 single studies and two classic XML records
FIXTURES = {
    "NCT03934567": "ctgov_v2_NCT03934567.json",
    "NCT04207047": "ctgov_v2_NCT04207047.json",
    "NCT06171568": "ctgov_v2_NCT06171568.json",
    "NCT00513591": "ctgov_classic_xml_NCT00513591.xml",
    "NCT03182660": "ctgov_classic_xml_NCT03182660.xml",
}
SUMMARY = "payload(s)"  # the summary line (tally_line) says this

Run = Callable[..., Result]


def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Run:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    db = str(tmp_path / f"{name}.db")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner(tmp_path, monkeypatch, "tw")


def bulk_zip(path: Path, *, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    """The fixtures laid out as the registry's bulk download: one file per study below a
    folder, plus the clutter a Mac adds."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ctg-studies/", b"")
        for nct, name in FIXTURES.items():
            suffix = Path(name).suffix
            zf.writestr(f"ctg-studies/{nct}{suffix}", fixture_file(name).read_bytes())
        zf.writestr("__MACOSX/ctg-studies/._NCT03934567.json", b"\0\5\26\7")
        zf.writestr(".DS_Store", b"\0\0\0\1Bud1")
        if extra:
            extra(zf)
    return path


def summary(result: Result) -> str:
    [line] = [line for line in result.stderr.splitlines() if SUMMARY in line]
    return line


def versions(run: Run, nct: str) -> int:
    return len(json.loads(run("history", nct, "--json").stdout))


def test_a_zip_with_no_option_at_all(run: Run, tmp_path: Path) -> None:
    archive = bulk_zip(tmp_path / "ctg-studies.zip")
    result = run("import", str(archive))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # data never goes to stdout
    assert summary(result).startswith("5 payload(s), 5 record(s): 5 new trial version(s)")
    assert summary(result).endswith("0 rejected")
    assert "MACOSX" not in result.stderr and "DS_Store" not in result.stderr
    for nct in FIXTURES:
        assert json.loads(run("show", nct, "--json").stdout)["nct_id"] == nct


def test_a_folder_and_a_zip_of_the_same_files_give_the_same_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ctg-studies"
    (folder / "classic").mkdir(parents=True)
    for nct, name in FIXTURES.items():
        where = folder / "classic" if name.endswith(".xml") else folder
        (where / f"{nct}{Path(name).suffix}").write_bytes(fixture_file(name).read_bytes())
    archive = bulk_zip(tmp_path / "ctg-studies.zip")
    from_folder = runner(tmp_path, monkeypatch, "folder")
    from_zip = runner(tmp_path, monkeypatch, "zip")
    when = "2025-07-01T00:00:00Z"
    assert from_folder("import", str(folder), "--observed-at", when).exit_code == 0
    assert from_zip("import", str(archive), "--observed-at", when).exit_code == 0
    for nct in FIXTURES:
        shown = json.loads(from_folder("show", nct, "--json").stdout)
        assert shown == json.loads(from_zip("show", nct, "--json").stdout)
        assert shown["nct_id"] == nct
        assert versions(from_folder, nct) == versions(from_zip, nct) == 1


def test_importing_the_same_zip_twice_writes_no_new_version(run: Run, tmp_path: Path) -> None:
    archive = bulk_zip(tmp_path / "ctg-studies.zip")
    assert run("import", str(archive)).exit_code == 0
    before = {nct: versions(run, nct) for nct in FIXTURES}
    again = run("import", str(archive))
    assert again.exit_code == 0, again.stderr
    assert summary(again) == (
        "5 payload(s), 5 record(s): 0 new trial version(s), 0 changed, 0 older slotted in, "
        "5 unchanged, 0 change(s), 0 alert(s) queued, 0 not found, 0 rejected"
    )
    assert {nct: versions(run, nct) for nct in FIXTURES} == before


def test_refused_entries_are_one_line_each_and_the_rest_is_imported(
    run: Run, tmp_path: Path
) -> None:
    def crafted(zf: zipfile.ZipFile) -> None:
        study = fixture_file(FIXTURES["NCT03934567"]).read_bytes()
        zf.writestr("/etc/cron.d/NCT03934567.json", study)
        zf.writestr("../../NCT03934567.json", study)
        link = zipfile.ZipInfo("ctg-studies/NCT99999999.json")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ctg-studies/more.zip", b"PK\x05\x06" + bytes(18))
        zf.writestr("ctg-studies/notastudy.json", '{"hello": "world"}')

    archive = bulk_zip(tmp_path / "mixed.zip", extra=crafted)
    result = run("import", str(archive))
    assert result.exit_code == 1
    assert result.stdout == ""
    expected = {
        "!/etc/cron.d/NCT03934567.json:": "absolute path",
        "!../../NCT03934567.json:": "'..' path part",
        "!ctg-studies/NCT99999999.json:": "symbolic link",
        "!ctg-studies/more.zip:": "ZIP inside a ZIP",
        "!ctg-studies/notastudy.json:": "",  # not refused, rejected by the parser
    }
    for part, reason in expected.items():
        [line] = [line for line in result.stderr.splitlines() if part in line]
        assert line.startswith(f"{archive}!") and reason in line
    assert summary(result).endswith("5 rejected")
    assert "Traceback" not in result.output
    for nct in FIXTURES:
        assert json.loads(run("show", nct, "--json").stdout)["nct_id"] == nct


def test_a_folder_with_a_zip_and_a_link_in_it(run: Run, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "NCT00513591.xml").write_bytes(fixture_file(FIXTURES["NCT00513591"]).read_bytes())
    folder = tmp_path / "inbox"
    folder.mkdir()
    bulk_zip(folder / "bulk.zip")
    (folder / "NCT00513591.xml").symlink_to(outside / "NCT00513591.xml")
    result = run("import", str(folder))
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if "NCT00513591.xml:" in line]
    assert line == f"{folder}/NCT00513591.xml: refused: a symbolic link (not followed)"
    assert summary(result).startswith("5 payload(s), 5 record(s): 5 new trial version(s)")
    assert versions(run, "NCT00513591") == 1  # from the archive, not through the link


def test_progress_lines_when_stderr_is_not_a_terminal(run: Run, tmp_path: Path) -> None:
    """A line per thousand inputs (refusals count: they are cheap to make by the thousand)."""

    def links(zf: zipfile.ZipFile) -> None:
        for i in range(1500):
            link = zipfile.ZipInfo(f"links/{i}.json")
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(link, "/etc/passwd")

    archive = bulk_zip(tmp_path / "links.zip", extra=links)
    result = run("import", str(archive))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "1000/1505 input(s) read" in lines
    assert sum("symbolic link" in line for line in lines) == 1500
    assert summary(result).endswith("1500 rejected") and lines[-1] == summary(result)
