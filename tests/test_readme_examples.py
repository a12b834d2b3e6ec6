"""The README's examples of the analyst commands, run as written (only the database is this
test's: the analyst database as ./trialwatch.db, the default a user gets)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.analyst_data import analyst_template  # noqa: F401
from tests.conftest import FIXTURES
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
