"""The command line loads a command's module only when that command runs: `trialwatch --help`
imports neither SQLAlchemy, alembic, Scrapy nor the parsers, and the table it lists the
commands from says exactly what the commands themselves say."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import trialwatch.cli
from trialwatch.cli import COMMANDS, cli
from trialwatch.cli.lazy import LazyGroup, load
from trialwatch.registry.db import MIGRATIONS, alembic_config, open_engine, read_revisions

# Modules `trialwatch --help` must not import (each a prefix of module names).
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "scrapy",
    "twisted",
    "apscheduler",
    "jinja2",
    "markdown_it",
    "lxml",
    "bs4",
    "pydantic",
    "pyarrow",
    "fastapi",
    "trialwatch.parsers",
    "trialwatch.registry",
    "trialwatch.ingest",
    "trialwatch.spiders",
)

_MODULES_AFTER = """
import json, sys
from trialwatch.cli import main
sys.argv = ["trialwatch", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(*args: str) -> set[str]:
    """The modules imported by a fresh interpreter that ran `trialwatch ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["--version"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules = _modules_after(*args)
    assert "trialwatch.cli" in modules
    assert _heavy(modules) == []
    assert not any(m.startswith("trialwatch.cli.") for m in modules - _light_cli_modules())


def _light_cli_modules() -> set[str]:
    return {"trialwatch.cli.errors", "trialwatch.cli.lazy"}


def test_help_with_importtime_shows_no_heavy_import() -> None:
    """The same, as `python -X importtime` reports it for the module form."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "trialwatch.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Commands:" in done.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "click" in imported
    assert _heavy(imported) == []


def test_a_command_loads_only_its_own_module() -> None:
    """`trialwatch demo --help` imports the demo command's module, not the others'."""
    modules = _modules_after("demo", "--help")
    assert "trialwatch.cli.demo" in modules
    for other in ("ingest", "export", "alerts", "schedule", "stats", "serve", "records"):
        assert f"trialwatch.cli.{other}" not in modules
    assert not any(m == "alembic" or m.startswith("alembic.") for m in modules)


# Ends trialwatch when it first opens a file under the folder it imports, printing the modules
# imported by then as JSON on stderr.
_MODULES_AT_FIRST_FILE = """
import json, os, sys
folder = sys.argv[1]
def at_first_file(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(folder):
        os.write(2, json.dumps(sorted(sys.modules)).encode())
        os._exit(0)
sys.addaudithook(at_first_file)
sys.argv = ["trialwatch", *sys.argv[2:]]
from trialwatch.cli import main
main()
"""


def test_daily_import_reaches_its_first_file_without_what_it_does_not_need(
    tmp_path: Path,
) -> None:
    """`trialwatch import DIR` on a current SQLite database: no alembic (the schema is read,
    not migrated), no other command's module, no crawler, scheduler, alert outbox or
    PostgreSQL dialect before it opens its first file."""
    url = f"sqlite:///{tmp_path / 'daily.db'}"
    open_engine(url).dispose()  # created at head: the daily path only checks it
    folder = tmp_path / "day"
    folder.mkdir()
    (folder / "NCT00000000.json").write_bytes(b"{}")
    argv = [str(folder), "--db", url, "import", str(folder)]
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AT_FIRST_FILE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stderr))
    assert "trialwatch.cli.ingest" in modules and "trialwatch.ingest.pipeline" in modules
    unneeded = ("alembic", "scrapy", "twisted", "apscheduler", "jinja2", "fastapi", "pyarrow")
    unneeded += ("sqlalchemy.dialects.postgresql", "trialwatch.alerts.outbox")
    unneeded += ("trialwatch.spiders.runner", "trialwatch.scheduler", "trialwatch.web")
    assert sorted(m for m in modules if m.startswith(unneeded)) == []
    others = {f"trialwatch.cli.{entry.module}" for entry in COMMANDS.values()}
    assert sorted(others & modules) == ["trialwatch.cli.ingest"]


def _cli_modules() -> Iterator[str]:
    for info in pkgutil.iter_modules(trialwatch.cli.__path__):
        if info.name != "__main__":
            yield info.name


def _real_commands() -> dict[str, tuple[str, str, click.Command]]:
    """Every top-level command defined in trialwatch/cli/: name -> (module, attribute,
    command). A command that is another group's subcommand is not top-level."""
    found: dict[str, tuple[str, str, click.Command]] = {}
    nested: set[int] = set()
    for module_name in _cli_modules():
        module = importlib.import_module(f"trialwatch.cli.{module_name}")
        for attribute, value in vars(module).items():
            if not isinstance(value, click.Command) or value is cli:
                continue
            if getattr(value.callback, "__module__", None) == module.__name__:  # not imported
                found[f"{module_name}.{attribute}"] = (module_name, attribute, value)
                if isinstance(value, click.Group):
                    nested.update(id(sub) for sub in value.commands.values())
    top: dict[str, tuple[str, str, click.Command]] = {}
    for module_name, attribute, command in found.values():
        if id(command) not in nested:
            assert command.name is not None
            top[command.name] = (module_name, attribute, command)
    return top


def test_table_names_every_command_and_only_those() -> None:
    real = _real_commands()
    assert sorted(COMMANDS) == sorted(real)
    for name, (module_name, attribute, command) in real.items():
        entry = COMMANDS[name]
        assert (entry.module, entry.attribute) == (module_name, attribute), name
        assert load(entry) is command


@pytest.mark.parametrize("limit", [20, 30, 45, 54, 60, 80, 120, 1000])
def test_table_short_help_is_the_commands_own(limit: int) -> None:
    """The listing's stand-in gives the command's own short help at any width."""
    group = LazyGroup(lazy=COMMANDS)
    for name, (_, _, command) in _real_commands().items():
        stand_in = group.listed(name)
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name
        assert stand_in.hidden == command.hidden


def _eager_root() -> click.Group:
    """The root group as it was before it was lazy: every command object added up front."""
    root = click.Group(
        name=cli.name,
        params=cli.params,
        callback=cli.callback,
        help=cli.help,
        context_settings=cli.context_settings,
    )
    for name, (_, _, command) in _real_commands().items():
        root.add_command(command, name)
    return root


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _paths(command, (*prefix, name))


@pytest.mark.parametrize("width", [80, 120])
def test_every_help_is_as_click_builds_it_from_the_commands(width: int) -> None:
    """`trialwatch [CMD [SUB]] --help` from the lazy group, for every command and subcommand,
    is the text click builds from the real command objects."""
    eager = _eager_root()
    paths = [(), *_paths(eager)]
    assert len(paths) > len(COMMANDS)
    for path in paths:
        outputs = []
        for root in (eager, _fresh_lazy_root()):
            result = CliRunner().invoke(
                root, [*path, "--help"], prog_name="trialwatch", terminal_width=width
            )
            assert result.exit_code == 0, (path, result.output)
            outputs.append(result.output)
        assert outputs[0] == outputs[1], path


def _fresh_lazy_root() -> click.Group:
    """The real root group with nothing loaded yet (another test may have loaded some)."""
    fresh = type(cli)(
        name=cli.name,
        lazy=COMMANDS,
        params=cli.params,
        callback=cli.callback,
        help=cli.help,
        context_settings=cli.context_settings,
    )
    assert isinstance(fresh, LazyGroup) and not fresh.commands
    return fresh


def test_unknown_command_is_refused_as_before() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"], prog_name="trialwatch")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_schema_heads_read_without_alembic_match_alembic() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = frozenset(script.get_heads())
    every = frozenset(r.revision for r in script.walk_revisions())
    assert read_revisions(MIGRATIONS / "versions") == (heads, every)


def test_revisions_not_a_plain_chain_are_left_to_alembic(tmp_path: Path) -> None:
    def version(name: str, body: str) -> None:
        (tmp_path / name).write_text(body, encoding="utf-8")

    version("0001_a.py", 'revision: str = "0001"\ndown_revision = None\n')
    version("0002_b.py", 'revision = "0002"\ndown_revision = "0001"\n')
    version("__init__.py", 'revision = "ignored"\n')
    assert read_revisions(tmp_path) == (frozenset({"0002"}), frozenset({"0001", "0002"}))
    version("0003_c.py", 'revision = "0003"\ndown_revision = ("0001", "0002")\n')
    assert read_revisions(tmp_path) == (frozenset({"0003"}), frozenset({"0001", "0002", "0003"}))
    version("0004_d.py", 'revision = "0004"\ndown_revision = "0003"\ndepends_on = "0001"\n')
    assert read_revisions(tmp_path) is None
    version("0004_d.py", 'revision = make_id()\ndown_revision = "0003"\n')
    assert read_revisions(tmp_path) is None
    version("0004_d.py", 'revision = "0004"\ndown_revision = "0009"\n')
    assert read_revisions(tmp_path) is None
