"""One registry timeline per trial, whatever the payload format, ordered by the registry.

Version 0 is the real record-history response of NCT04280705 (tests/fixtures/SOURCES.md);
versions 1-3 are built here from it by the edits stated in ``EDITS`` (they are not recorded
responses), each dated in the registry as its version would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change, Delivery, TrialVersion

NCT = "NCT04280705"
V0 = fixture_file("ctgov_history_NCT04280705_v0.json")


def _status(value: str, why: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(ps: dict[str, Any]) -> None:
        ps["statusModule"]["overallStatus"] = value
        if why is None:
            ps["statusModule"].pop("whyStopped", None)
        else:
            ps["statusModule"]["whyStopped"] = why

    return edit


def _v1(ps: dict[str, Any]) -> None:
    _status("RECRUITING")(ps)
    ps["designModule"]["enrollmentInfo"]["count"] = 440


def _v2(ps: dict[str, Any]) -> None:
    _status("SUSPENDED", "Interim analysis")(ps)


def _v3(ps: dict[str, Any]) -> None:
    _status("ACTIVE_NOT_RECRUITING")(ps)  # why_stopped cleared
    ps["eligibilityModule"].pop("maximumAge")  # maximum age cleared
    ps["statusModule"]["primaryCompletionDateStruct"] = {"date": "2023-10-01", "type": "ESTIMATED"}


# version: (registry date, edits applied on top of the previous version)
EDITS: dict[int, tuple[str, list[Callable[[dict[str, Any]], None]]]] = {
    1: ("2020-03-01", [_v1]),
    2: ("2020-04-01", [_v1, _v2]),
    3: ("2020-05-01", [_v1, _v2, _v3]),
}


def history_body(version: int) -> bytes:
    data = json.loads(V0.read_bytes())
    if version:
        date, edits = EDITS[version]
        ps = data["study"]["protocolSection"]
        for edit in edits:
            edit(ps)
        ps["statusModule"]["lastUpdateSubmitDate"] = date
        ps["statusModule"]["lastUpdatePostDateStruct"] = {"date": date, "type": "ACTUAL"}
        data["studyVersion"] = version
    return json.dumps(data, indent=1).encode()


def v2_body(version: int, edit: Callable[[dict[str, Any]], None] | None = None) -> bytes:
    """The same content as an API v2 study (the history's `study` is the API v2 shape)."""
    study = json.loads(history_body(version))["study"]
    if edit is not None:
        edit(study["protocolSection"])
    return json.dumps(study).encode()


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    invoke.url = db_url  # type: ignore[attr-defined]
    return invoke


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / name).write_bytes(body)
    return folder


def _links(run) -> list[tuple[str | None, str | None, str, Any, Any]]:
    """(from registry version, to registry version, kind, before, after), in timeline order."""
    versions = json.loads(run("history", NCT, "--json").stdout)
    number = {v["version_id"]: v["registry_version"] for v in versions}
    order = {v["version_id"]: i for i, v in enumerate(versions)}
    changes = json.loads(run("changes", "--nct", NCT, "--json").stdout)
    changes.sort(key=lambda c: (order[c["to_version_id"]], c["id"]))
    return [
        (
            number[c["from_version_id"]],
            number[c["to_version_id"]],
            c["kind"],
            c["before"],
            c["after"],
        )
        for c in changes
    ]


EXPECTED_KINDS = [
    ("0", "1", "status"),
    ("0", "1", "enrollment"),
    ("1", "2", "status"),
    ("2", "3", "status"),
    ("2", "3", "primary_completion_date"),
    ("2", "3", "eligibility"),
]


def test_a_folder_named_against_the_order_is_read_in_the_registrys_order_twice(run, tmp_path):
    # file names sort v3, v2, v1, v0: the registry's dates decide, not the names
    folder = _write(
        tmp_path / "versions",
        {f"{chr(ord('a') + 3 - n)}_version_{n}.json": history_body(n) for n in range(4)},
    )
    first = run("import", str(folder))
    assert first.exit_code == 0, first.output
    versions = json.loads(run("history", NCT, "--json").stdout)
    assert [v["registry_version"] for v in versions] == ["0", "1", "2", "3"]
    assert [v["registry_date"] for v in versions] == [
        "2020-02-21",
        "2020-03-01",
        "2020-04-01",
        "2020-05-01",
    ]
    assert {(v["source"], v["format"]) for v in versions} == {("ctgov", "ctgov_history")}
    assert [link[:3] for link in _links(run)] == EXPECTED_KINDS
    enrollment = [link for link in _links(run) if link[2] == "enrollment"]
    assert [(e[3]["count"], e[4]["count"]) for e in enrollment] == [(394, 440)]
    statuses = [(link[3], link[4]) for link in _links(run) if link[2] == "status"]
    assert statuses == [
        ("NOT_YET_RECRUITING", "RECRUITING"),
        ("RECRUITING", "SUSPENDED"),
        ("SUSPENDED", "ACTIVE_NOT_RECRUITING"),
    ]
    shown = json.loads(run("show", NCT, "--json").stdout)
    assert shown["overall_status"] == "ACTIVE_NOT_RECRUITING"
    assert shown["why_stopped"] is None and shown["maximum_age"] is None  # cleared fields

    again = run("import", str(folder))
    assert again.exit_code == 0
    assert "0 new trial version(s), 0 changed, 0 older slotted in, 4 unchanged" in again.stderr
    assert len(json.loads(run("history", NCT, "--json").stdout)) == 4
    assert [link[:3] for link in _links(run)] == EXPECTED_KINDS


def test_history_then_api_v2_is_one_timeline(run, tmp_path):
    folder = _write(tmp_path / "h", {f"v{n}.json": history_body(n) for n in range(4)})
    assert run("import", str(folder), "--observed-at", "2026-01-01").exit_code == 0
    same = _write(tmp_path / "same", {"NCT04280705.json": v2_body(3)})
    result = run("import", str(same / "NCT04280705.json"), "--observed-at", "2026-02-01")
    assert "1 unchanged" in result.stderr
    versions = json.loads(run("history", NCT, "--json").stdout)
    assert len(versions) == 4
    assert versions[-1]["last_seen_at"].startswith("2026-02-01")
    assert versions[-1]["first_seen_at"].startswith("2026-01-01")

    def completed(ps: dict[str, Any]) -> None:
        ps["statusModule"]["overallStatus"] = "COMPLETED"
        ps["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2020-06-01", "type": "ACTUAL"}

    newer = _write(tmp_path / "newer", {"NCT04280705.json": v2_body(3, completed)})
    assert (
        run("import", str(newer / "NCT04280705.json"), "--observed-at", "2026-03-01").exit_code == 0
    )
    versions = json.loads(run("history", NCT, "--json").stdout)
    assert [(v["format"], v["registry_date"]) for v in versions[-2:]] == [
        ("ctgov_history", "2020-05-01"),
        ("ctgov", "2020-06-01"),
    ]
    assert versions[-1]["changes"] == ["status"]
    assert _links(run)[-1][2:] == ("status", "ACTIVE_NOT_RECRUITING", "COMPLETED")

    # what the registry said on a day, by its own dates
    def status(*args: str) -> str:
        return json.loads(run("show", NCT, *args, "--json").stdout)["overall_status"]

    assert status("--as-of", "2020-04-15") == "SUSPENDED"
    assert status("--as-of", "2020-03-01") == "RECRUITING"
    assert status("--as-of", "2020-06-01") == "COMPLETED"
    assert run("show", NCT, "--as-of", "2020-02-01").exit_code == 1  # not registered yet
    # what trialwatch knew at a moment, by when it saw it
    assert status("--known-at", "2026-02-15") == "ACTIVE_NOT_RECRUITING"
    assert status("--known-at", "2026-03-01T00:00:00Z") == "COMPLETED"
    assert run("show", NCT, "--known-at", "2025-12-31T23:59:59Z").exit_code == 1
    # both clocks: the registry's view of 2020-06-01 as known before the June record arrived
    assert status("--as-of", "2020-06-01", "--known-at", "2026-02-15") == "ACTIVE_NOT_RECRUITING"


def test_a_payload_arriving_out_of_order_takes_its_slot_and_relinks_both_sides(run, tmp_path):
    watch = run("watch", "add", "--email", "a@example.org", "--nct", NCT, "--kind", "status")
    assert watch.exit_code == 0
    for n in (0, 2, 3):
        path = _write(tmp_path / f"v{n}", {"v.json": history_body(n)}) / "v.json"
        assert run("import", str(path)).exit_code == 0
    with transaction(open_engine(run.url)) as session:
        queued = len(session.exec(select(Delivery)).all())
    assert queued == 2  # 0→2 and 2→3 were news when they arrived
    late = _write(tmp_path / "v1", {"v.json": history_body(1)}) / "v.json"
    result = run("import", str(late))
    assert result.exit_code == 0 and "older version slotted into the timeline" in result.stderr
    assert [link[:3] for link in _links(run)] == EXPECTED_KINDS
    with transaction(open_engine(run.url)) as session:
        deliveries = session.exec(select(Delivery)).all()
        changes = {c.id: c for c in session.exec(select(Change)).all()}
    # the 0→2 status change was replaced by 0→1 and 1→2; nothing older is alerted
    assert len(deliveries) == 1
    assert (changes[deliveries[0].change_id].before, changes[deliveries[0].change_id].after) == (
        "SUSPENDED",
        "ACTIVE_NOT_RECRUITING",
    )


def test_a_parser_fix_is_never_a_change_and_reparse_rederives(run, tmp_path, monkeypatch):
    from trialwatch import parsers
    from trialwatch.parsers import ctgov

    real = ctgov._parse_conditions

    def buggy(ps: Any) -> list[str] | None:
        found = real(ps)
        return [c.upper() for c in found] if found else found

    assert run("watch", "add", "--email", "a@example.org", "--nct", NCT).exit_code == 0
    for n in (0, 1):
        path = _write(tmp_path / f"v{n}", {"v.json": history_body(n)}) / "v.json"
        with monkeypatch.context() as m:
            m.setattr(ctgov, "_parse_conditions", buggy)
            assert run("import", str(path)).exit_code == 0
    engine = open_engine(run.url)

    def state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
        with transaction(engine) as session:
            versions = [
                (v.id, v.record_hash, v.parser_version)
                for v in session.exec(select(TrialVersion).order_by(TrialVersion.id))
            ]
            changes = [
                (c.id, c.kind, json.dumps(c.before), json.dumps(c.after))
                for c in session.exec(select(Change).order_by(Change.id))
            ]
            return versions, changes, len(session.exec(select(Delivery)).all())

    versions, changes, deliveries = state()
    stored = json.loads(run("show", NCT, "--json").stdout)
    assert stored["conditions"] == ["CORONA VIRUS INFECTION"]

    # the parser is fixed and its version raised; the same raw bytes arrive again
    monkeypatch.setattr(parsers, "PARSER_VERSION", "next")
    again = _write(tmp_path / "again", {"v.json": history_body(1)}) / "v.json"
    result = run("import", str(again))
    assert result.exit_code == 0 and "1 unchanged" in result.stderr
    after_versions, after_changes, after_deliveries = state()
    assert len(after_versions) == 2 and after_deliveries == deliveries  # no version, no alert
    assert all(v[2] == "next" for v in after_versions)
    assert after_changes == changes  # conditions read the same in both versions: no change
    assert json.loads(run("show", NCT, "--json").stdout)["conditions"] == ["Corona Virus Infection"]

    # reparse on an up-to-date database changes nothing, and says so
    settled = state()
    done = run("reparse", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["versions_moved"] == 0
    assert state() == settled


def test_reparse_prints_what_moved_and_never_alerts(run, tmp_path, monkeypatch):
    from trialwatch import parsers
    from trialwatch.parsers import ctgov

    real = ctgov._parse_enrollment
    assert run("watch", "add", "--email", "a@example.org", "--nct", NCT).exit_code == 0
    with monkeypatch.context() as m:
        m.setattr(ctgov, "_parse_enrollment", lambda ps: None)  # a parser that missed a field
        for n in (0, 1):
            path = _write(tmp_path / f"v{n}", {"v.json": history_body(n)}) / "v.json"
            assert run("import", str(path)).exit_code == 0
    assert ctgov._parse_enrollment is real
    assert "enrollment" not in [k for link in _links(run) for k in link[2:3]]
    with transaction(open_engine(run.url)) as session:
        queued = len(session.exec(select(Delivery)).all())
    monkeypatch.setattr(parsers, "PARSER_VERSION", "next")
    result = run("reparse", "--nct", NCT)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("content now reads differently (enrollment)") == 2
    assert "1 change(s) added" in result.stderr
    assert ("0", "1", "enrollment") in [link[:3] for link in _links(run)]
    with transaction(open_engine(run.url)) as session:
        assert len(session.exec(select(Delivery)).all()) == queued  # the fix is not news
    second = run("reparse", "--nct", NCT)
    assert second.stdout == "" and "0 moved, 0 change(s) added, 0 removed" in second.stderr
