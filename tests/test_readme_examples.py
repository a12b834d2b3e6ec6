"""The README's examples of the analyst commands, run as written (only the database is this
test's: the analyst database as ./trialwatch.db, the default a user gets); and its crawl
examples, each run as written against a loopback server that throttles (the recorded
responses of tests/fixtures, routed by tests.registry_server; the 429s are this test's)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.analyst_data import analyst_template  # noqa: F401
from tests.conftest import FIXTURES
from tests.registry_server import ROOT, TOO_MANY, throttled
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.spiders.search_url import translate

README = Path(__file__).parents[1] / "README.md"
ANALYST = ("export", "changes", "stats")


def examples(*commands: str) -> list[list[str]]:
    """The README's `trialwatch ...` lines for these commands, comments cut, as argv."""
    found = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith(tuple(f"trialwatch {c} " for c in commands)):
            continue
        words = shlex.split(line, comments=True)
        if len(words) > 1 and words[0] == "trialwatch" and words[1] in commands:
            found.append(words[1:])
    return found


def everyday(command: str) -> list[list[str]]:
    """The `trialwatch COMMAND ...` lines of the README's "Everyday use" block, as argv."""
    text = README.read_text(encoding="utf-8").split("## Everyday use", 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    starts = f"trialwatch {command} "
    return [
        shlex.split(line, comments=True)[1:]
        for line in block.splitlines()
        if line.startswith(starts)
    ]


@pytest.fixture
def here(tmp_path: Path, analyst_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    shutil.copytree(analyst_template, tmp_path / "work")
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv("TRIALWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRIALWATCH_DATA_DIR", raising=False)
    return tmp_path / "work"


def test_every_analyst_example_runs_as_written(here: Path) -> None:
    argvs = examples(*ANALYST)
    assert {argv[0] for argv in argvs} == set(ANALYST), argvs
    for argv in argvs:
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code == 0, (argv, result.output)
        assert "Traceback" not in result.output
        if argv[0] == "export" and "-o" in argv and argv[argv.index("-o") + 1] != "-":
            out = here / argv[argv.index("-o") + 1]
            assert out.stat().st_size > 0, argv
            if out.suffix == ".parquet":
                pq.read_table(out)  # a whole, readable file
        if argv[0] == "export" and argv[-1] == "-":
            lines = result.stdout.splitlines()
            assert lines and all(json.loads(line)["version_id"] for line in lines)


def test_the_search_url_example_asks_the_api_what_the_website_searched(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [argv] = [a for a in examples("crawl") if "--search-url" in a]
    url = argv[argv.index("--search-url") + 1]
    with ReplayServer(FIXTURES / "ctgov_spider") as server:
        monkeypatch.setenv("TRIALWATCH_CTGOV_URL", server.base_url)
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        asked = server.requests_to("/api/v2/studies")
    assert result.exit_code == 0, result.output
    params = dict(translate(url).params)
    assert params and all(asked[0].param(k) == v for k, v in params.items()), asked[0].query


def test_every_crawl_example_runs_as_written_through_throttling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each in a folder of its own (its own ./trialwatch.db), with a server of its own whose
    # every path (robots.txt too) first answers 429 + Retry-After: 1; all at once, for time.
    argvs = [a for a in everyday("crawl") if a[1] == "ctgov" and "--search-url" not in a]
    assert len(argvs) >= 5 and any("--http-cache" in a for a in argvs), argvs
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALWATCH_")}
    env.update(PYTHONPATH=str(ROOT))
    folders = [tmp_path / f"example{n}" for n in range(len(argvs))]
    with ExitStack() as servers, ThreadPoolExecutor(len(argvs)) as pool:
        runs = []
        for folder, argv in zip(folders, argvs, strict=True):
            routes = throttled(folder / "srv", [TOO_MANY])
            server = servers.enter_context(ReplayServer(folder / "srv", routes))
            (folder / "my-trials.txt").write_text("NCT04267848\nNCT03934567\n")
            command = [sys.executable, "-m", "trialwatch.cli", *argv]
            runs.append(
                pool.submit(
                    subprocess.run,
                    command,
                    cwd=folder,
                    env={**env, "TRIALWATCH_CTGOV_URL": server.base_url},
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
            )
        done = [r.result() for r in runs]
    monkeypatch.delenv("TRIALWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRIALWATCH_DATA_DIR", raising=False)
    for folder, argv, process in zip(folders, argvs, done, strict=True):
        assert process.returncode == 0, (argv, process.stderr)
        assert "Traceback" not in process.stderr and "HTTP 429 from" in process.stderr
        monkeypatch.chdir(folder)
        result = CliRunner().invoke(cli, ["runs", "--json"], catch_exceptions=False)
        [run] = json.loads(result.stdout)
        assert (run["status"], run["not_found"], run["errors"]) == ("ok", 0, []), (argv, run)
        assert run["new_versions"] > 0, (argv, run)
