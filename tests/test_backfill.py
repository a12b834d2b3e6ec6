"""`trialwatch backfill` end to end: the history replay on loopback (version 0 recorded, later
versions built by the stated plan), a real SQLite database, the crawl in its child process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlmodel import select

from trialwatch.cli import cli
from trialwatch.demo.history import build_history_replay
from trialwatch.demo.replay import ReplayServer
from trialwatch.ingest.backfill import BackfillTally, run_backfill
from trialwatch.ingest.pipeline import Pipeline
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun
from trialwatch.snapshots import SnapshotStore
from trialwatch.spiders.runner import CrawlError

NCT = "NCT04280705"  # six versions; version 4 changed only references (same content as 3)
EMPTY = "NCT03934567"  # an empty version list
MISSING = "NCT00000404"  # not served: the list answers 404
LIST_PATH = f"/api/int/studies/{NCT}/history"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
NO_WAIT = {**FAST, "RETRY_TIMES": 1, "RETRY_BACKOFF_BASE": 0}
MOVED = (
    f"{NCT}: the registry's version list moved during the backfill (5 → 6 versions); "
    "nothing stored from this pass, run it again"
)


class Backfill:
    """A pipeline on a fresh SQLite database, and what it reported."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'tw.db'}"
        self.engine: Engine = open_engine(self.url)
        self.lines: list[str] = []
        self.pipeline = Pipeline(
            self.engine, SnapshotStore(tmp_path / "snapshots"), report=self.lines.append
        )

    def run(self, folder: Path, ids: list[str], **kwargs: Any) -> tuple[BackfillTally, list[str]]:
        """Backfill from a replay of `folder`; return the tally and the API paths asked for."""
        kwargs.setdefault("settings", FAST)
        with ReplayServer(folder) as srv:
            tally = run_backfill(
                self.pipeline, ids, base_url=srv.base_url, report=self.lines.append, **kwargs
            )
        return tally, [r.path for r in srv.received if r.path.startswith("/api/")]

    def runs(self) -> list[CrawlRun]:
        with transaction(self.engine) as session:
            return list(session.exec(select(CrawlRun).order_by(CrawlRun.id)).all())


@pytest.fixture
def bf(tmp_path: Path) -> Iterator[Backfill]:
    backfill = Backfill(tmp_path)
    yield backfill
    backfill.engine.dispose()


def replay(tmp_path: Path, name: str = "replay", **kwargs: Any) -> Path:
    return build_history_replay(tmp_path / name, **kwargs)


def set_route(folder: Path, path: str, responses: list[dict[str, Any]]) -> None:
    routes = json.loads((folder / "routes.json").read_text())
    [route] = [r for r in routes["routes"] if r["path"] == path]
    route["responses"] = responses
    (folder / "routes.json").write_text(json.dumps(routes))


def counts(tally: BackfillTally) -> dict[str, int]:
    names = ("fetched", "stored", "unchanged", "skipped", "no_history", "failed", "moved")
    return {name: getattr(tally, name) for name in names}


# -- the library function ------------------------------------------------------------------


def test_whole_history_is_stored_and_trials_without_one_reported(
    bf: Backfill, tmp_path: Path
) -> None:
    tally, _ = bf.run(replay(tmp_path), [NCT, EMPTY, MISSING])
    assert counts(tally) == {
        "fetched": 6,
        "stored": 5,
        "unchanged": 1,  # version 4: same content as version 3
        "skipped": 0,
        "no_history": 2,
        "failed": 0,
        "moved": 0,
    }
    assert [t.outcome for t in tally.trials.values()] == ["stored", "no_history", "no_history"]
    # one line for each trial without history, naming it and saying why
    assert [line for line in bf.lines if EMPTY in line] == [
        f"{EMPTY}: no history (the version list is empty)"
    ]
    assert [line for line in bf.lines if MISSING in line] == [
        f"{MISSING}: no history (HTTP 404 for its list)"
    ]
    assert tally.trials[NCT].line() in bf.lines
    assert tally.problems == []
    [run] = bf.runs()
    assert (run.source, run.status, run.id) == ("ctgov_history", "ok", tally.run_id)
    assert (run.new_versions, run.unchanged, run.not_found, run.rejected) == (5, 1, 2, 0)
    assert run.args["nct_ids"] == [NCT, EMPTY, MISSING] and run.args["modules"] is None
    assert run.finished_at is not None


def test_a_second_run_fetches_only_the_list(bf: Backfill, tmp_path: Path) -> None:
    folder = replay(tmp_path)
    bf.run(folder, [NCT])
    tally, paths = bf.run(folder, [NCT])
    assert paths == [LIST_PATH]
    assert counts(tally)["skipped"] == 6 and counts(tally)["fetched"] == 0
    assert tally.trials[NCT].outcome == "up_to_date" and tally.status == "ok"


def test_modules_first_then_the_rest_resumes_without_fetching_again(
    bf: Backfill, tmp_path: Path
) -> None:
    folder = replay(tmp_path)
    tally, paths = bf.run(folder, [NCT], modules=["Eligibility"])
    assert paths == [LIST_PATH, f"{LIST_PATH}/0", f"{LIST_PATH}/3", LIST_PATH]
    assert (tally.fetched, tally.stored, tally.skipped) == (2, 2, 4)
    tally, paths = bf.run(folder, [NCT])
    assert [p.rsplit("/", 1)[1] for p in paths[1:-1]] == ["1", "2", "4", "5"]
    assert (tally.fetched, tally.skipped) == (4, 2)


def test_a_version_answering_500_is_reported_and_skipped(bf: Backfill, tmp_path: Path) -> None:
    folder = replay(tmp_path)
    set_route(folder, f"{LIST_PATH}/2", [{"status": 500, "text": "Internal Server Error"}])
    tally, _ = bf.run(folder, [NCT, EMPTY], settings=NO_WAIT)
    assert (tally.fetched, tally.failed, tally.no_history) == (5, 1, 1)
    [problem] = tally.problems
    assert (
        problem
        == f"{NCT} v2: not fetched (HTTP 500 Internal Server Error after 2 attempts); skipped"
    )
    assert problem in bf.lines
    assert tally.trials[NCT].outcome == "stored"
    assert (tally.stored, tally.unchanged) == (4, 1)  # versions 0, 1, 3, 5; 4 is as 3
    [run] = bf.runs()
    assert run.status == "failed" and run.errors == [problem]

    # the next run fetches only what is missing
    tally, paths = bf.run(replay(tmp_path, "again"), [NCT])
    assert paths == [LIST_PATH, f"{LIST_PATH}/2", LIST_PATH]
    assert (tally.failed, tally.stored) == (0, 1)  # slotted in between 1 and 3


def test_a_list_that_moves_during_the_backfill_stores_nothing(bf: Backfill, tmp_path: Path) -> None:
    tally, _ = bf.run(replay(tmp_path, list_latest=(4, 5)), [NCT, EMPTY])
    assert tally.moved == 1 and tally.stored == 0 and tally.fetched == 5
    assert tally.trials[NCT].outcome == "moved"
    assert tally.problems == [MOVED] and MOVED in bf.lines
    assert bf.pipeline.stored_history_versions([NCT]) == {NCT: set()}
    [run] = bf.runs()
    assert run.status == "partial" and run.errors == [MOVED]

    # run again once the list is still: everything is fetched and stored
    tally, _ = bf.run(replay(tmp_path, "still"), [NCT])
    assert (tally.fetched, tally.stored, tally.moved) == (6, 5, 0)


def test_a_list_of_an_unexpected_shape_fails_that_trial_only(bf: Backfill, tmp_path: Path) -> None:
    folder = replay(tmp_path)
    set_route(folder, LIST_PATH, [{"status": 200, "text": '{"items": []}'}])
    tally, _ = bf.run(folder, [NCT, EMPTY])
    assert tally.trials[NCT].outcome == "failed" and tally.failed == 1
    assert tally.problems == [
        f"{NCT}: the version list could not be read (the registry's history list has an "
        'unexpected shape (no "changes" list); the endpoint may have changed)'
    ]
    assert tally.trials[EMPTY].outcome == "no_history"


def test_a_crawl_that_dies_is_recorded_as_failed(bf: Backfill, tmp_path: Path) -> None:
    broken = {**FAST, "TWISTED_REACTOR": "no.such.Reactor"}
    with pytest.raises(CrawlError, match="crawl ctgov_history failed: child process exited"):
        bf.run(replay(tmp_path), [NCT], settings=broken)
    [run] = bf.runs()
    assert run.status == "failed" and run.finished_at is not None
    [error] = run.errors
    assert error.startswith(f"{NCT}: not finished (crawl ctgov_history failed")
    assert error.endswith("; nothing stored from it") and "\n" not in error


def test_bad_arguments_fail_before_anything_is_fetched_or_recorded(bf: Backfill) -> None:
    with pytest.raises(ValueError, match="invalid NCT id 'NCT123'"):
        run_backfill(bf.pipeline, [NCT, "NCT123"], report=bf.lines.append)
    with pytest.raises(ValueError, match="invalid base_url"):
        run_backfill(bf.pipeline, [NCT], base_url="file:///etc", report=bf.lines.append)
    with pytest.raises(ValueError, match="nothing to fetch"):
        run_backfill(bf.pipeline, [], report=bf.lines.append)
    assert bf.runs() == []


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIALWATCH_CTGOV_URL", raising=False)
    return str(tmp_path / "tw.db")


def invoke(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], env=env, catch_exceptions=False)


def test_command_stores_every_version_and_history_shows_them(db: str, tmp_path: Path) -> None:
    watched = invoke(db, "watch", "add", "--email", "a@example.org", "--nct", NCT)
    assert watched.exit_code == 0, watched.output
    with ReplayServer(replay(tmp_path, current=True)) as srv:
        result = invoke(db, "backfill", NCT, EMPTY, "--base-url", srv.base_url, "--delay", "0")
        # the latest version through API v2 afterwards: the same content, no new version
        crawled = invoke(db, "crawl", "ctgov", "--nct", NCT, "--base-url", srv.base_url)
    assert crawled.exit_code == 0 and "1 unchanged" in crawled.stderr, crawled.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert f"{EMPTY}: no history" in result.stderr
    assert "backfill: 2 trial(s): 6 version(s) fetched, 5 stored, 1 unchanged" in result.stderr
    shown = invoke(db, "history", NCT, "--json")
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert [r["registry_versions"] for r in rows] == [[0], [1], [2], [3, 4], [5]]
    assert [r["changes"] for r in rows[1:]] == [
        ["status", "locations"],
        ["enrollment"],
        ["eligibility_criteria"],
        ["status", "primary_completion_date"],
    ]
    # a backfill tells no one: the trial's past is not news
    assert json.loads(invoke(db, "alerts", "list", "--json").stdout) == []
    assert invoke(db, "history", EMPTY).exit_code == 1


def test_command_with_only_the_base_url_keeps_the_polite_defaults(db: str, tmp_path: Path) -> None:
    with ReplayServer(replay(tmp_path)) as srv:
        result = invoke(db, "backfill", EMPTY, MISSING, "--base-url", srv.base_url)
        asked = [r.path for r in srv.received]
    assert result.exit_code == 0, result.output
    assert asked[0] == "/robots.txt"
    assert f"{MISSING}: no history (HTTP 404 for its list)" in result.stderr
    assert "2 without history, 0 failed, 0 moved" in result.stderr


def test_command_reads_the_base_url_from_the_environment_and_ids_from_a_file(
    db: str, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# trials\n{NCT}\n\n{EMPTY}  # no history\n")
    with ReplayServer(replay(tmp_path)) as srv:
        env = {"TRIALWATCH_CTGOV_URL": srv.base_url}
        result = invoke(db, "backfill", "--nct-file", str(ids), "--delay", "0", env=env)
        assert srv.requests_to(LIST_PATH)
    assert result.exit_code == 0, result.output
    assert "2 trial(s): 6 version(s) fetched" in result.stderr


def test_command_exits_1_when_the_list_moved(db: str, tmp_path: Path) -> None:
    with ReplayServer(replay(tmp_path, list_latest=(4, 5))) as srv:
        result = invoke(db, "backfill", NCT, "--base-url", srv.base_url, "--delay", "0")
    assert result.exit_code == 1
    assert MOVED in result.stderr and "Traceback" not in result.output
    assert invoke(db, "history", NCT).exit_code == 1  # nothing stored


def test_command_exits_1_when_a_version_failed(db: str, tmp_path: Path) -> None:
    folder = replay(tmp_path)
    set_route(folder, f"{LIST_PATH}/3", [{"status": 404, "text": "gone"}])
    with ReplayServer(folder) as srv:
        result = invoke(db, "backfill", NCT, "--base-url", srv.base_url, "--delay", "0")
    assert result.exit_code == 1
    assert f"{NCT} v3: not fetched (HTTP 404 Not Found after 1 attempt); skipped" in result.stderr
    assert "6 version(s) fetched" not in result.stderr and "1 failed" in result.stderr
    rows = json.loads(invoke(db, "history", NCT, "--json").stdout)
    assert [r["registry_versions"] for r in rows] == [[0], [1], [2], [4], [5]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say which trials"),
        (["NCT123"], "'NCT123' is not an NCT id"),
        ([NCT, "--modules", " , "], "names no module"),
        ([NCT, "--delay", "-1"], "--delay"),
    ],
)
def test_command_usage_errors_exit_2(db: str, args: list[str], message: str) -> None:
    result = invoke(db, "backfill", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
