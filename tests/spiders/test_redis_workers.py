"""A crawl shared by workers through Redis: `crawl ctgov ... --redis URL` queues it, two
`trialwatch worker` processes fetch it at once into one database, against a loopback server
replaying recorded ClinicalTrials.gov API v2 responses and the Redis at 127.0.0.1:6379
(skipped when none answers, failed when TRIALWATCH_REQUIRE_REDIS=1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from tests.conftest import FIXTURES
from tests.spiders.servers import STUDIES, PageServer, nct_of
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer, Reply
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import CrawlRun, Trial, TrialAlias, TrialVersion

REPLAY = FIXTURES / "ctgov_spider"
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TRIALWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A redirect (NCT00000001 -> NCT03934567), a 429 then the record (NCT00973089), a 404, and a
# search whose four pages chain by their real nextPageTokens (see SOURCES.md there).
CRAWL = [
    *("--nct", "NCT00000001", "--nct", "NCT00973089", "--nct", "NCT09999999"),
    *("--query", "query.cond=cancer"),
]
COUNTS = ("fetched", "new_versions", "unchanged", "not_found", "rejected")


# -- Redis, a key prefix per test -------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Any:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        return client
    except Exception as exc:  # not installed, not running: skip, unless CI requires it
        if os.environ.get("TRIALWATCH_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required here but {REDIS_URL} did not answer: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); set TRIALWATCH_TEST_REDIS_URL")


@pytest.fixture
def prefix(redis_server: Any) -> Iterator[str]:
    name = f"twtest-{uuid.uuid4().hex[:10]}"
    yield name
    keys = list(redis_server.scan_iter(match=f"{name}:*"))
    if keys:
        redis_server.delete(*keys)


def left_in_redis(redis_server: Any, prefix: str) -> list[str]:
    return sorted(k.decode() for k in redis_server.scan_iter(match=f"{prefix}:*"))


# -- processes --------------------------------------------------------------------------------


def environment(prefix: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        TRIALWATCH_REDIS_PREFIX=prefix,
        TRIALWATCH_DATA_DIR=str(data),
    )
    return env


def start(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trialwatch.cli", *args],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str]:
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        raise AssertionError(f"still running after {timeout} s:\n{stderr}") from None
    return proc.returncode, stderr


def cli_run(args: list[str], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("TRIALWATCH_REDIS_PREFIX", "TRIALWATCH_DATA_DIR"):
        monkeypatch.setenv(name, env[name])
    return CliRunner().invoke(cli, args, catch_exceptions=False)


# -- the database -----------------------------------------------------------------------------


def read(db: str) -> dict[str, Any]:
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            return {
                "runs": list(session.exec(select(CrawlRun).order_by(col(CrawlRun.id))).all()),
                "trials": sorted(session.exec(select(Trial.nct_id)).all()),
                "versions": sorted(
                    session.exec(
                        select(TrialVersion.nct_id, TrialVersion.source, TrialVersion.record_hash)
                    ).all()
                ),
                "aliases": sorted(session.exec(select(TrialAlias.alias, TrialAlias.nct_id)).all()),
            }
    finally:
        engine.dispose()


def counts(run: CrawlRun) -> dict[str, int]:
    return {c: getattr(run, c) for c in COUNTS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same crawl run the usual way, in one process, into its own database."""
    folder = tmp_path_factory.mktemp("reference")
    db = f"sqlite:///{folder / 'tw.db'}"
    with ReplayServer(REPLAY) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRIALWATCH_DATA_DIR", str(folder / "data"))
        argv = ["--db", db, "crawl", "ctgov", "--base-url", server.base_url, "--delay", "0"]
        result = CliRunner().invoke(cli, [*argv, *CRAWL], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return read(db)


# -- the replay server, holding requests until two workers fetch at once ----------------------


class OverlapServer(ReplayServer):
    """The replay server, holding the first API requests until two are under way at once,
    which (each worker fetching one request at a time) only two workers can do. Not held: the
    429 and the 301, whose retry and redirect go back to the queue for any worker."""

    NOT_HELD = ("/api/v2/studies/NCT00973089", "/api/v2/studies/NCT00000001")
    HOLD = 20.0  # seconds: less than a request's timeout

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self._cond = threading.Condition()
        self._under_way = 0
        self.overlapped = False

    def respond(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        path = urlsplit(target).path
        if not path.startswith("/api/") or path in self.NOT_HELD:
            return super().respond(method, target, headers)
        with self._cond:
            self._under_way += 1
            if self._under_way >= 2:
                self.overlapped = True
                self._cond.notify_all()
            self._cond.wait_for(lambda: self.overlapped, timeout=self.HOLD)
        try:
            return super().respond(method, target, headers)
        finally:
            with self._cond:
                self._under_way -= 1


def expected_requests() -> Counter[tuple[str, str | None]]:
    """Each API request the crawl makes, once; NCT00973089 twice (a 429, then the record)."""
    routes = json.loads((REPLAY / "routes.json").read_text())["routes"]
    pages = [
        r["query"]["pageToken"]
        for r in routes
        if r["path"] == "/api/v2/studies" and set(r.get("query", {})) == {"pageToken"}
    ]
    studies = ["NCT00000001", "NCT03934567", "NCT09999999", "NCT00973089", "NCT00973089"]
    return Counter(
        [("/api/v2/studies", p) for p in pages] + [(f"/api/v2/studies/{n}", None) for n in studies]
    )


def api_requests(server: ReplayServer) -> Counter[tuple[str, str | None]]:
    return Counter(
        (r.path, r.param("pageToken")) for r in server.received if r.path != "/robots.txt"
    )


# -- the tests --------------------------------------------------------------------------------


def test_two_workers_fetch_one_queued_crawl_once_into_one_database(
    db_url: str,
    redis_server: Any,
    prefix: str,
    reference: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = environment(prefix, tmp_path / "data")
    with OverlapServer(REPLAY) as server:
        argv = ["--db", db_url, "crawl", "ctgov", "--base-url", server.base_url, "--delay", "0"]
        queued = cli_run([*argv, *CRAWL, "--redis", REDIS_URL], env, monkeypatch)
        assert queued.exit_code == 0, queued.output
        assert "queued, 4 start request(s)" in queued.stderr  # three ids and a search
        assert server.received == []  # queued, not fetched
        [run] = read(db_url)["runs"]
        assert run.status == "queued" and run.args["queue"]["prefix"] == prefix

        args = ["--db", db_url, "worker", "--redis", REDIS_URL, "--idle-exit", "3"]
        workers = [start(args, env, tmp_path) for _ in range(2)]
        ended = [finish(w) for w in workers]

    for status, stderr in ended:
        assert status == 0, stderr
        assert "Traceback" not in stderr and "no work for 3 s: exiting" in stderr
    # every request once across both workers (the 429'd one retried once), two at a time
    assert api_requests(server) == expected_requests()
    assert server.overlapped, "the two workers never fetched at the same time"

    held = read(db_url)
    [queued_run] = [r for r in held["runs"] if r.id == run.id]
    [reference_run] = reference["runs"]
    assert queued_run.status == "ok" and queued_run.finished_at is not None
    assert counts(queued_run) == counts(reference_run)
    # a fetch is a record, a page or a not-found: the 429 and the 301 are none
    assert queued_run.fetched == sum(expected_requests().values()) - 2
    # each trial once, with the versions a single process stores; the alias of the redirect
    assert held["trials"] == reference["trials"] and len(held["trials"]) == 14
    assert held["versions"] == reference["versions"]
    assert held["aliases"] == reference["aliases"] == [("NCT00000001", "NCT03934567")]
    # each worker's part: a crawl run of its own that fetched some, adding up to the run's
    parts = [r for r in held["runs"] if (r.args or {}).get("part_of") == run.id]
    assert len({p.args["worker"] for p in parts}) == 2
    assert all(p.fetched > 0 and p.status == "ok" for p in parts)
    assert {c: sum(getattr(p, c) for p in parts) for c in COUNTS} == counts(queued_run)
    assert left_in_redis(redis_server, prefix) == []


def chain_plan(pages: int) -> Any:
    """A search of ``pages`` pages, one recorded study on each."""

    def plan(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        n = 0 if token is None else int(token.removeprefix("p"))
        return [STUDIES[n]], (f"p{n + 1}" if n + 1 < pages else None)

    return plan


def test_a_run_outlives_a_worker_stopped_with_sigterm(
    redis_server: Any, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    env = environment(prefix, tmp_path / "data")
    with PageServer(chain_plan(5), delay=0.5) as server:
        argv = ["--db", db, "crawl", "ctgov", "--base-url", server.base_url, "--delay", "0"]
        queued = cli_run([*argv, "--query", "query.cond=x", "--redis", REDIS_URL], env, monkeypatch)
        assert queued.exit_code == 0, queued.output
        first = start(["--db", db, "worker", "--redis", REDIS_URL], env, tmp_path)
        deadline = time.monotonic() + 60
        while not server.pages() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.pages() == [None], "the first worker fetched nothing"
        first.send_signal(signal.SIGTERM)  # during page 1: it is finished, nothing more taken
        status, stderr = finish(first, timeout=60)
        assert status == 0 and "stopped" in stderr and "Traceback" not in stderr, stderr
        assert server.pages() == [None]
        [run, part] = read(db)["runs"]
        assert run.status == "queued" and (part.status, part.fetched) == ("ok", 1)

        second = start(
            ["--db", db, "worker", "--redis", REDIS_URL, "--idle-exit", "2"], env, tmp_path
        )
        status, stderr = finish(second)
    assert status == 0, stderr
    assert server.pages() == [None, "p1", "p2", "p3", "p4"]  # each once, across the two
    held = read(db)
    run = held["runs"][0]
    assert (run.status, run.fetched, run.new_versions) == ("ok", 5, 5)
    assert held["trials"] == sorted(nct_of(s) for s in STUDIES[:5])
    assert left_in_redis(redis_server, prefix) == []


def test_redis_that_cannot_be_used_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment("twtest-none", tmp_path / "data")
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    refused = "redis://127.0.0.1:1/0"
    said = []
    for args in (
        ["--db", db, "worker", "--redis", refused, "--idle-exit", "1"],
        ["--db", db, "worker", "--redis", "http://127.0.0.1:6379", "--idle-exit", "1"],
        ["--db", db, "crawl", "ctgov", "--nct", "NCT00184067", "--redis", refused],
    ):
        result = cli_run(args, env, monkeypatch)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, (args, result.stderr)
        said.append(lines[0])
    assert said[0].startswith(f"worker: redis {refused}: ") and "refused" in said[0]
    assert said[1].startswith("worker: redis http://127.0.0.1:6379: ") and "scheme" in said[1]
    assert said[2].startswith(f"redis {refused}: ") and "refused" in said[2]
    assert read(db)["runs"] == []  # nothing recorded as queued


def test_requests_are_queued_as_json_and_come_back_whole() -> None:
    from scrapy import Request

    from trialwatch.spiders import redis_queue

    request = Request(
        "http://127.0.0.1/api/v2/studies?pageToken=A",
        headers={"Accept": "application/json"},
        body=b"\x00\xff",
        meta={"tw_kind": "page", "tw_page": 2, "redirect_urls": ["http://a/"], "$odd": b"x"},
        priority=-1,
    )
    data = redis_queue.dumps(request.to_dict())
    assert json.loads(data)  # text, not a pickle
    back = redis_queue.loads(data)
    assert back == request.to_dict()
    with pytest.raises(TypeError, match="cannot hold a object"):
        redis_queue.dumps({"meta": {"x": object()}})


def test_a_scheduled_crawl_is_queued_once_until_a_worker_has_done_it(
    redis_server: Any, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialwatch.scheduler import run_crawl_job

    db = f"sqlite:///{tmp_path / 'tw.db'}"
    env = environment(prefix, tmp_path / "data")
    for name in ("TRIALWATCH_REDIS_PREFIX", "TRIALWATCH_DATA_DIR"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("TRIALWATCH_REDIS_URL", REDIS_URL)
    with ReplayServer(REPLAY) as server:
        job = {"slug": "ctgov", "nct_ids": ["NCT00184067"], "base_url": server.base_url}
        run_crawl_job(db, job_id="job1", **job, delay=0)
        run_crawl_job(db, job_id="job1", **job, delay=0)  # the first is still queued
        [run] = read(db)["runs"]
        assert (run.status, run.job_id) == ("queued", "job1") and server.received == []
        worker = start(
            ["--db", db, "worker", "--redis", REDIS_URL, "--idle-exit", "2"], env, tmp_path
        )
        status, stderr = finish(worker)
    assert status == 0, stderr
    assert "alerts: 0 message(s) composed" in stderr  # a scheduled run's alerts go once done
    assert api_requests(server) == Counter({("/api/v2/studies/NCT00184067", None): 1})
    run = read(db)["runs"][0]
    assert (run.status, run.fetched, run.new_versions, run.job_id) == ("ok", 1, 1, "job1")
    run_crawl_job(db, job_id="job1", **job, delay=0)  # done: the next one is queued
    assert [r.status for r in read(db)["runs"] if r.job_id == "job1"] == ["ok", "queued"]
