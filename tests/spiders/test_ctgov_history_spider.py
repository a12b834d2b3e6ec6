"""The record-history spider, run the way the program runs it (child process), against the
history replay on loopback (version 0 recorded, later versions built by the stated plan)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trialwatch.demo.history import build_history_replay, history_versions, version_list
from trialwatch.demo.replay import ReplayServer
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.components import NOTICE, STOP
from trialwatch.spiders.ctgov import CtgovSpider
from trialwatch.spiders.ctgov_history import CtgovHistorySpider
from trialwatch.spiders.runner import SPIDERS, Fetched, build_job, crawl

NCT = "NCT04280705"  # six versions, 0 to 5
EMPTY = "NCT03934567"  # an empty version list
MISSING = "NCT00000404"  # not served: the list answers 404
LIST_PATH = f"/api/int/studies/{NCT}/history"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
NO_WAIT = {**FAST, "RETRY_TIMES": 1, "RETRY_BACKOFF_BASE": 0}


def replay(tmp_path: Path, **kwargs: Any) -> Path:
    return build_history_replay(tmp_path / "replay", **kwargs)


def set_route(folder: Path, path: str, responses: list[dict[str, Any]]) -> None:
    routes = json.loads((folder / "routes.json").read_text())
    [route] = [r for r in routes["routes"] if r["path"] == path]
    route["responses"] = responses
    (folder / "routes.json").write_text(json.dumps(routes))


def run(
    folder: Path, tmp_path: Path, nct_ids: list[str], settings: dict[str, Any] = FAST, **kw: Any
) -> tuple[list[Fetched], list[str], SnapshotStore]:
    with ReplayServer(folder) as srv:
        rows = crawl(
            "ctgov_history",
            data_dir=tmp_path / "data",
            base_url=srv.base_url,
            nct_ids=nct_ids,
            settings=settings,
            **kw,
        )
    paths = [r.path for r in srv.received if r.path.startswith("/api/")]
    fetches = [r for r in rows if r.kind not in (NOTICE, STOP)]  # the retries' lines left out
    return fetches, paths, SnapshotStore(tmp_path / "data")


def of(rows: list[Fetched], nct: str) -> list[tuple[str | None, int | None, str]]:
    return [(r.kind, r.version, r.outcome) for r in rows if r.requested_nct == nct]


def test_fetches_the_list_each_version_in_order_then_the_list_again(tmp_path: Path) -> None:
    rows, paths, store = run(replay(tmp_path), tmp_path, [NCT])
    assert paths == [LIST_PATH, *(f"{LIST_PATH}/{n}" for n in range(6)), LIST_PATH]
    assert of(rows, NCT) == [
        ("history_list", None, "ok"),
        *(("history_version", n, "ok") for n in range(6)),
        ("history_recheck", None, "ok"),
    ]
    built = history_versions()
    for row in rows:
        assert row.status == 200 and row.reason is None and row.url == row.requested_url
        assert row.fetched_at.tzinfo is not None
        if row.kind == "history_version":
            assert row.version is not None
            assert store.get(row.snapshot) == built[row.version].body
            assert row.url.endswith(f"/history/{row.version}")
        else:
            assert store.get(row.snapshot) == version_list(built)
    # version 0 is served byte for byte as recorded
    recorded = Path(__file__).resolve().parents[2] / "trialwatch/demo/data"
    v0 = (recorded / "ctgov_history_NCT04280705_v0.json").read_bytes()
    assert store.get(rows[1].snapshot) == v0


def test_modules_fetch_version_0_and_the_versions_that_changed_them(tmp_path: Path) -> None:
    rows, paths, _ = run(replay(tmp_path), tmp_path, [NCT], modules=["eligibility"])
    assert paths == [LIST_PATH, f"{LIST_PATH}/0", f"{LIST_PATH}/3", LIST_PATH]
    assert [r.version for r in rows if r.kind == "history_version"] == [0, 3]


def test_versions_already_held_are_not_fetched_again(tmp_path: Path) -> None:
    folder = replay(tmp_path)
    rows, paths, _ = run(folder, tmp_path, [NCT], have={NCT: [0, 1, 2, 4]})
    assert paths == [LIST_PATH, f"{LIST_PATH}/3", f"{LIST_PATH}/5", LIST_PATH]
    assert of(rows, NCT)[-1] == ("history_recheck", None, "ok")

    # everything held: the list is read once and nothing else is asked for
    rows, paths, _ = run(folder, tmp_path, [NCT], have={NCT: list(range(6))})
    assert paths == [LIST_PATH]
    assert of(rows, NCT) == [("history_list", None, "ok")]


def test_no_history_is_reported_and_the_other_trials_go_on(tmp_path: Path) -> None:
    rows, paths, store = run(replay(tmp_path), tmp_path, [MISSING, EMPTY, NCT])
    assert of(rows, MISSING) == [("history_list", None, "not_found")]
    [missing] = [r for r in rows if r.requested_nct == MISSING]
    assert missing.status == 404 and missing.url.endswith(f"/{MISSING}/history")
    assert missing.reason == "HTTP 404 Not Found after 1 attempt"
    # an empty list is an answer: nothing more to fetch, nothing to recheck
    assert of(rows, EMPTY) == [("history_list", None, "ok")]
    [empty] = [r for r in rows if r.requested_nct == EMPTY]
    assert json.loads(store.get(empty.snapshot)) == {"changes": []}
    assert len(of(rows, NCT)) == 8
    assert paths.count(f"/api/int/studies/{EMPTY}/history") == 1


def test_a_version_answering_500_is_failed_and_the_chain_goes_on(tmp_path: Path) -> None:
    folder = replay(tmp_path)
    set_route(folder, f"{LIST_PATH}/2", [{"status": 500, "text": "Internal Server Error"}])
    rows, paths, _ = run(folder, tmp_path, [NCT], settings=NO_WAIT)
    assert paths.count(f"{LIST_PATH}/2") == 2  # RETRY_TIMES=1
    assert paths[-1] == LIST_PATH and f"{LIST_PATH}/5" in paths
    [failed] = [r for r in rows if r.outcome != "ok"]
    assert (failed.kind, failed.version, failed.status) == ("history_version", 2, 500)
    assert "HTTP 500" in (failed.reason or "") and "\n" not in (failed.reason or "")
    assert [r.version for r in rows if r.kind == "history_version" and r.outcome == "ok"] == [
        0,
        1,
        3,
        4,
        5,
    ]
    assert of(rows, NCT)[-1] == ("history_recheck", None, "ok")


def test_a_list_of_an_unexpected_shape_stops_that_trial_only(tmp_path: Path) -> None:
    folder = replay(tmp_path)
    set_route(folder, LIST_PATH, [{"status": 200, "text": '{"changes": [{"date": "x"}]}'}])
    rows, paths, store = run(folder, tmp_path, [NCT, EMPTY])
    assert paths.count(LIST_PATH) == 1 and not any(p.startswith(f"{LIST_PATH}/") for p in paths)
    [row] = [r for r in rows if r.requested_nct == NCT]
    assert (row.kind, row.outcome, row.status) == ("history_list", "failed", 200)
    assert row.reason == (
        f"{NCT}: the registry's history list has an unexpected shape "
        '(entry 0 has no integer "version"); the endpoint may have changed'
    )
    assert store.get(row.snapshot) == b'{"changes": [{"date": "x"}]}'
    assert of(rows, EMPTY) == [("history_list", None, "ok")]


def test_a_list_that_moves_is_fetched_twice_with_both_answers_kept(tmp_path: Path) -> None:
    rows, paths, store = run(replay(tmp_path, list_latest=(4, 5)), tmp_path, [NCT])
    assert paths == [LIST_PATH, *(f"{LIST_PATH}/{n}" for n in range(5)), LIST_PATH]
    first, recheck = rows[0], rows[-1]
    assert len(json.loads(store.get(first.snapshot))["changes"]) == 5
    assert len(json.loads(store.get(recheck.snapshot))["changes"]) == 6


# -- arguments, registration, plumbing -----------------------------------------------------


def test_it_is_run_like_a_crawl_but_is_not_a_crawl_source(tmp_path: Path) -> None:
    assert "ctgov_history" not in SPIDERS
    job = json.loads(
        build_job(
            "ctgov_history",
            data_dir=tmp_path,
            base_url="http://127.0.0.1:1/",
            nct_ids=[NCT, NCT],
            have={NCT: {3, 1}},
            modules=[" Eligibility ", ""],
        )
    )
    assert job["nct_ids"] == [NCT] and job["have"] == {NCT: [1, 3]}
    assert job["modules"] == ["Eligibility"] and job["base_url"] == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nct_ids": ["NCT1234"]}, "invalid NCT id 'NCT1234'"),
        ({"nct_ids": []}, "nothing to fetch"),
        ({"nct_ids": [NCT], "base_url": "ftp://x"}, "invalid base_url 'ftp://x'"),
        ({"nct_ids": [NCT], "have": {NCT: ["3"]}}, "must list version numbers"),
        ({"nct_ids": [NCT], "have": {"nope": [1]}}, "invalid NCT id 'nope'"),
        ({"nct_ids": [NCT], "modules": [" "]}, "modules is empty"),
        ({"nct_ids": [NCT], "urls": ["https://x.org/"]}, "fetches trials by NCT id"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_job("ctgov_history", data_dir=tmp_path, **kwargs)


def test_have_and_modules_are_only_for_the_history(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not take have or modules"):
        build_job("ctgov", data_dir=tmp_path, nct_ids=[NCT], modules=["Eligibility"])


def test_as_polite_as_the_api_spider() -> None:
    assert CtgovHistorySpider.custom_settings == CtgovSpider.custom_settings
    assert CtgovHistorySpider.custom_settings["DOWNLOAD_DELAY"] == 1.0
    assert CtgovHistorySpider.custom_settings["ROBOTSTXT_OBEY"] is True


def test_manifest_lines_without_kind_or_version_still_load() -> None:
    old = {
        "url": "https://clinicaltrials.gov/api/v2/studies/NCT04280705",
        "status": 200,
        "fetched_at": "2025-01-02T03:04:05+00:00",
        "outcome": "ok",
        "snapshot": None,
        "requested_url": "https://clinicaltrials.gov/api/v2/studies/NCT04280705",
        "requested_nct": NCT,
        "reason": None,
    }
    row = Fetched.from_json(json.dumps(old))
    assert (row.kind, row.version) == (None, None)
    new = Fetched.from_json(json.dumps({**old, "kind": "history_version", "version": 3}))
    assert (new.kind, new.version) == ("history_version", 3)
    assert Fetched.from_json(new.to_json()) == new
    with pytest.raises(ValueError, match="bad version"):
        Fetched.from_json(json.dumps({**old, "version": "3"}))
