"""One line for a database or disk that cannot be written: which one, and what is wrong
(read-only, full, locked by another writer). Such a failure ends any command with exit
status 1; what was committed before it stays (the transaction under way is rolled back)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from trialwatch.registry.db import DatabaseError, shown_url
from trialwatch.registry.locks import fault

_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM)


def fault_line(exc: BaseException, url: str) -> str | None:
    """The line for a database fault, or for a file that could not be written (a full disk,
    a read-only file system, permission refused); None when ``exc`` is neither."""
    if isinstance(exc, DatabaseError):
        return _cannot_open(exc, url) or str(exc)
    if isinstance(exc, DBAPIError):
        what = fault(exc)
        return f"{shown_url(url)}: {what}" if what is not None else None
    if isinstance(exc, OSError):
        return disk_line(exc, None)
    return None


def disk_line(exc: OSError, writing_to: Path | str | None) -> str | None:
    """A file that could not be written, named by the error or else by ``writing_to`` (what
    the caller was writing): a full disk or a read-only file system. Permission refused is
    taken only with the file's own name (it may have been a read)."""
    where = exc.filename if exc.filename is not None else writing_to
    said = f" ({exc.strerror})" if exc.strerror else ""
    if where is None:
        where = "trialwatch"
    if exc.errno in _FULL:
        return f"{where}: cannot write: the disk is full{said}"
    if exc.errno == errno.EROFS:
        return f"{where}: cannot write: the file system is read-only{said}"
    if exc.errno in _DENIED and exc.filename is not None:
        return f"{where}: permission refused{said}"
    return None


def _cannot_open(exc: DatabaseError, url: str) -> str | None:
    """A SQLite file that could not be opened because it, or its folder, cannot be written
    (in WAL mode SQLite keeps its -wal and -shm files beside it, even to read)."""
    cause = exc.__context__
    if not isinstance(cause, DBAPIError):
        return None
    if not str(getattr(cause.orig, "sqlite_errorname", "")).startswith("SQLITE_CANTOPEN"):
        return None
    try:
        name = make_url(url).database
    except ArgumentError:
        return None
    if not name or name == ":memory:":
        return None
    path = Path(name)
    if not os.access(path.parent, os.W_OK):
        why = f"its folder {path.parent} cannot be written, and SQLite keeps its -wal and -shm "
        why += "files there"
    elif path.exists() and not os.access(path, os.W_OK):
        why = "the file cannot be written"
    else:
        return None
    return f"{shown_url(url)}: the database is read-only ({why})"
