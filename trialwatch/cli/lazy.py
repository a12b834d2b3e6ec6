"""A click group whose commands are imported only when one runs (click's lazy-group pattern).

Most command modules pull in SQLAlchemy, the parsers or Scrapy; importing them all made
`trialwatch --help` and every command start ~0.5 s late. The group lists its commands, with
their short help, from a table, and imports a command's module the first time it is asked
for that command (to run it, or to show its own --help). tests/test_lazy_cli.py checks the
table against the commands themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from gettext import gettext as _  # as click words its own headings
from typing import Any, NamedTuple

import click


class Lazy(NamedTuple):
    """Where a command is, and what the group's help says of it before it is imported."""

    module: str  # under trialwatch.cli
    attribute: str  # the click command in that module
    short_help: str  # the first sentence of its help, as click shortens it in a listing


class LazyGroup(click.Group):
    """A group whose commands are given as ``lazy={name: Lazy(...)}``, imported on demand."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, Lazy] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.commands[cmd_name] = load(self.lazy[cmd_name])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command listing, as click writes it, from the table for commands not loaded:
        the group's --help imports none of them."""
        commands = [(name, self.listed(name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in commands if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        rows = [(name, command.get_short_help_str(limit)) for name, command in shown]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def listed(self, name: str) -> click.Command:
        """The command if it is loaded, else a stand-in with its short help: click shortens
        that first sentence to any width exactly as it shortens the whole help."""
        loaded = self.commands.get(name)
        if loaded is not None:
            return loaded
        return click.Command(name, help=self.lazy[name].short_help)


def load(lazy: Lazy) -> click.Command:
    """Import the command's module and return the command."""
    module = importlib.import_module(f"trialwatch.cli.{lazy.module}")
    command = getattr(module, lazy.attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"trialwatch.cli.{lazy.module}.{lazy.attribute} is not a click command")
    return command
