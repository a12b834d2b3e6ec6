"""The ingest benchmark (benchmarks/): its generated data and a small run of it. Timings are
not checked here, only that the data is what the manifest says and that trialwatch finds
exactly the injected changes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.generate import Params, day_dir, generate
from benchmarks.loopback import PagesServer
from benchmarks.peer import find_git_history
from benchmarks.run import Bench
from trialwatch.parsers import parse_payload

ROOT = Path(__file__).resolve().parent.parent
N, K, PAGE = 300, 3, 128

# The paths a day's snapshot may change besides the edit itself (the registry's bookkeeping).
BOOKKEEPING = {
    "derivedSection.miscInfoModule.versionHolder",
    "protocolSection.statusModule.lastUpdateSubmitDate",
    "protocolSection.statusModule.lastUpdatePostDateStruct.date",
}
EDITED = {
    "status": "protocolSection.statusModule.overallStatus",
    "completion_date": "protocolSection.statusModule.completionDateStruct.date",
    "eligibility_criteria": "protocolSection.eligibilityModule.eligibilityCriteria",
    "locations": "protocolSection.contactsLocationsModule.locations",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "data"
    manifest = generate(Params(N, K, seed=7, page_size=PAGE), out)
    return out, manifest


def study(out: Path, day: int, nct: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((day_dir(out, day) / "studies" / f"{nct}.json").read_bytes())
    return data


def changed_paths(a: Any, b: Any, at: str = "") -> set[str]:
    """Dotted paths where two JSON values differ (a list counts as one value)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: set[str] = set()
        for key in a.keys() | b.keys():
            found |= changed_paths(a.get(key), b.get(key), f"{at}.{key}" if at else key)
        return found
    return set() if a == b else {at}


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    first = generate(Params(40, 2, seed=3, page_size=16), tmp_path / "a")
    again = generate(Params(40, 2, seed=3, page_size=16), tmp_path / "b")
    other = generate(Params(40, 2, seed=4, page_size=16), tmp_path / "c")
    assert first == again
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert files_of(tmp_path / "a").keys() == files_of(tmp_path / "c").keys()
    assert files_of(tmp_path / "a") != files_of(tmp_path / "c")
    assert other["changes"] != first["changes"]


def test_trials_days_pages_and_peer_array(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    assert sorted(p.name for p in out.iterdir()) == ["day-00", "day-01", "day-02", "manifest.json"]
    assert manifest["dates"] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    for day in range(K):
        names = sorted(p.stem for p in (day_dir(out, day) / "studies").iterdir())
        assert len(names) == N and names[0] == "NCT90000000" and names[-1] == "NCT90000299"
        # Follow the pages as a client would: from the first, token by token.
        index = json.loads((day_dir(out, day) / "pages" / "index.json").read_bytes())
        name, seen = index["first"], []
        while True:
            page = json.loads((day_dir(out, day) / "pages" / name).read_bytes())
            seen += [s["protocolSection"]["identificationModule"]["nctId"] for s in page["studies"]]
            if "nextPageToken" not in page:
                break
            assert len(page["studies"]) == PAGE
            name = index["tokens"][page["nextPageToken"]]
        assert seen == names
        array = json.loads((day_dir(out, day) / "studies.json").read_bytes())
        assert [item["nct_id"] for item in array] == names
        item = array[5]
        nct = item.pop("nct_id")
        assert item == study(out, day, nct)


def test_every_record_parses_as_a_whole_registry_record(
    generated: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = generated
    # Every record of day 0, and every record an edit touched later (the others differ from
    # day 0 only in versionHolder, which the parser does not read).
    paths = sorted((day_dir(out, 0) / "studies").iterdir())
    for change in manifest["changes"]:
        paths.append(day_dir(out, change["day"]) / "studies" / f"{change['nct_id']}.json")
    for path in paths:
        records = parse_payload(path.read_bytes(), complete=True)
        assert [r.nct_id for r in records] == [path.stem]
    page = (day_dir(out, 0) / "pages" / "page-0001.json").read_bytes()
    assert len(parse_payload(page, complete=True)) == PAGE


def test_records_are_varied_and_realistic_in_size(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    studies = [study(out, 0, f"NCT9{i:07d}") for i in range(N)]
    titles = {s["protocolSection"]["identificationModule"]["briefTitle"] for s in studies}
    counts = {
        s["protocolSection"].get("designModule", {}).get("enrollmentInfo", {}).get("count")
        for s in studies
    }
    assert len(titles) > N // 4 and len(counts) > N // 4
    assert 12_000 <= manifest["average_study_bytes"] <= 30_000


def test_version_holder_moves_every_day(generated: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = generated
    for day, when in enumerate(manifest["dates"]):
        for path in (day_dir(out, day) / "studies").iterdir():
            data = json.loads(path.read_bytes())
            assert data["derivedSection"]["miscInfoModule"]["versionHolder"] == when


def test_manifest_churn_is_one_percent_of_real_edits(
    generated: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = generated
    per_day = Counter(c["day"] for c in manifest["changes"])
    assert per_day == {1: 3, 2: 3}  # 1 % of 300
    changed = {(c["day"], c["nct_id"]): c for c in manifest["changes"]}
    for day in range(1, K):
        for path in sorted((day_dir(out, day) / "studies").iterdir()):
            before, after = study(out, day - 1, path.stem), study(out, day, path.stem)
            paths = changed_paths(before, after)
            entry = changed.get((day, path.stem))
            if entry is None:  # only the daily versionHolder moved
                assert paths == {"derivedSection.miscInfoModule.versionHolder"}
                continue
            assert paths == BOOKKEEPING | {EDITED[entry["kind"]]}, entry
            status = after["protocolSection"]["statusModule"]
            assert status["lastUpdatePostDateStruct"]["date"] == entry["date"]
            if entry["kind"] == "locations":
                sites = after["protocolSection"]["contactsLocationsModule"]["locations"]
                old = before["protocolSection"].get("contactsLocationsModule", {})
                assert len(sites) == len(old.get("locations", [])) + 1


def test_loopback_server_pages_like_the_api(generated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = generated
    with PagesServer(day_dir(out, 1) / "pages") as server:
        base = f"{server.url}/api/v2/studies?pageSize={PAGE}&query.term=x"
        first = json.loads(urllib.request.urlopen(base, timeout=10).read())
        second = json.loads(
            urllib.request.urlopen(f"{base}&pageToken={first['nextPageToken']}", timeout=10).read()
        )
        assert len(first["studies"]) == PAGE and second["studies"] != first["studies"]
        for bad in (f"{base}&pageToken=nope", base.replace(f"pageSize={PAGE}", "pageSize=5")):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(bad, timeout=10)
            assert caught.value.code == 400
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{server.url}/robots.txt", timeout=10)
        assert caught.value.code == 404


def test_readme_results_are_replaced_per_configuration(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.BEGIN}\nplaceholder\n{report.END}\n\n## Profile\n")
    report.update_readme(readme, "### sqlite, 10,000 trials, 3 days\n\nold\n")
    report.update_readme(readme, "### postgres, 10,000 trials, 3 days\n\npg\n")
    report.update_readme(readme, "### sqlite, 10,000 trials, 3 days\n\nnew\n")
    text = readme.read_text()
    assert "old" not in text and "placeholder" not in text
    assert text.index("pg") < text.index("new") < text.index("## Profile")


def test_a_change_missing_or_extra_is_a_mismatch(tmp_path: Path) -> None:
    manifest = {
        "params": {"trials": 10, "days": 2},
        "changes": [{"day": 1, "nct_id": "NCT90000001", "kind": "status"}],
    }
    args = argparse.Namespace(trialwatch="trialwatch", db="sqlite")
    bench = Bench(args, tmp_path, manifest)
    cases = {
        "exact": [("NCT90000001", "status")],
        "other kind": [("NCT90000001", "locations")],
        "extra": [("NCT90000001", "status"), ("NCT90000002", "status")],
        "missing": [],
    }
    for name, got in cases.items():
        step: dict[str, Any] = {"day": 1, "label": name}
        bench.compare(step, got)
        assert step["match"] is (name == "exact"), name
        assert step["expected"] == 1 and step["found"] == len(got)
    assert len([n for n in bench.notes if n.startswith("MISMATCH")]) == 3


def test_small_run_finds_exactly_the_injected_changes(tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--trials", "60", "--days", "3"]
    argv += ["--db", "sqlite", "--work", str(tmp_path), "--json"]
    if find_git_history() is None:
        argv.append("--skip-peer")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_bytes())
    injected = Counter(c["day"] for c in manifest["changes"])
    checked = [s for s in result["steps"] if s["step"] in ("import", "crawl")]
    assert [(s["day"], s["step"]) for s in checked] == [
        (0, "import"),
        (1, "import"),
        (1, "crawl"),
        (2, "import"),
        (2, "crawl"),
    ]
    for step in checked:
        assert step["ok"] and step["match"], step
        assert step["found"] == step["expected"] == injected.get(step["day"], 0)
        assert step["db_bytes"] > 0 and step["raw_bytes"] > 0 and step["peak_bytes"] > 0
    assert sum(s["found"] for s in checked) == 2 * len(manifest["changes"]) > 0
    assert "MISMATCH" not in done.stderr
