"""The root group: a database that cannot be used, or a disk that cannot be written, ends any
command with one line and exit status 1 instead of a traceback.

Kept free of SQLAlchemy: the error classes are looked up only once something was raised, and
only in the modules already imported (an exception of a class never imported cannot occur).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from trialwatch.cli.lazy import LazyGroup

# (module, class) of the database errors that get one line, besides OSError
_DATABASE_ERRORS = (("trialwatch.registry.db", "DatabaseError"), ("sqlalchemy.exc", "DBAPIError"))


class DatabaseUnusable(click.ClickException):
    """A DatabaseError as click shows it: its line alone on stderr, exit status 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=True)


class OneLineDatabaseErrors(LazyGroup):
    """The root group: a database that cannot be opened (unreachable, no driver, a schema
    behind or ahead) or written (read-only, its disk full, locked by another writer past the
    wait), or a full disk, ends any command with its one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not isinstance(exc, OSError) and not _is_database_error(exc):
                raise
            from trialwatch.cli.faults import fault_line
            from trialwatch.cli.util import Context

            url = ctx.obj.url if isinstance(ctx.obj, Context) else ""
            line = fault_line(exc, url)
            if line is None:
                raise
            raise DatabaseUnusable(line) from None


def _is_database_error(exc: Exception) -> bool:
    for module_name, name in _DATABASE_ERRORS:
        module = sys.modules.get(module_name)
        kind = getattr(module, name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return False
