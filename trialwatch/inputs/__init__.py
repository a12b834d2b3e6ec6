"""The inputs of ``trialwatch import``: files, folders and ZIP archives, streamed.

A path is a file, a folder (every file below it) or a ZIP archive (the registry's bulk
download: one ``NCTxxxxxxxx.json`` per study, possibly in sub-folders; a ``.zip`` inside a
folder is read as an archive, a ZIP inside a ZIP is refused). Inputs come one at a time and
each is read into memory only when asked, so memory stays flat however large the archive.

Refused, with one line each, and the rest goes on: a folder's symbolic links (never followed)
and special files; an archive's entries with an absolute path, a ``..`` part, a symbolic link,
encryption, or data that expands past its declared size; a whole archive that would expand
too far (see ``common.MAX_RATIO``) or that is not readable ZIP. Hidden files (``.DS_Store``,
``__MACOSX/``) are skipped silently. Nothing is ever extracted or written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from trialwatch.inputs.archives import count_archive, iter_archive
from trialwatch.inputs.common import (
    MAX_ENTRY_BYTES,
    Input,
    InputRefused,
    Refuse,
    mib,
    shown,
)
from trialwatch.inputs.ziparchive import EOCD_SIG, LOCAL_SIG

__all__ = ["Input", "InputRefused", "count_inputs", "iter_inputs"]

_FILE, _GIVEN, _ARCHIVE, _REFUSED = "file", "given", "archive", "refused"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hang the import


def count_inputs(paths: Iterable[Path]) -> int:
    """How many inputs ``iter_inputs`` gives or refuses: a folder walk and each archive's
    central directory, nothing read. An archive refused whole counts once."""
    total = 0
    for kind, value in _expand(paths):
        total += count_archive(Path(value)) if kind == _ARCHIVE else 1
    return total


def iter_inputs(paths: Iterable[Path], *, refuse: Refuse) -> Iterator[Input]:
    """Each input in turn; whatever is refused is reported through ``refuse`` (one line,
    naming it and the reason) and the iteration goes on."""
    for kind, value in _expand(paths):
        if kind == _REFUSED:
            refuse(value)
        elif kind == _ARCHIVE:
            yield from iter_archive(Path(value), refuse)
        else:
            yield _file_input(value, given=kind == _GIVEN)


def _expand(paths: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """(kind, path or refusal line) for each file, archive or refusal, in order."""
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        elif _is_archive(path, sniff=True):
            yield _ARCHIVE, str(path)
        else:
            yield _GIVEN, str(path)


def _walk(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file below a folder, in name order, a folder's files before its sub-folders.
    Symbolic links are refused, never followed (one could lead out of the folder). Paths are
    kept as text: a walk of 100,000 files should not cost a second of path objects."""
    stack = [str(folder)]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as found:
                items = sorted(found, key=lambda e: e.name)
        except OSError as exc:
            yield _REFUSED, f"{shown(here)}: cannot read folder: {exc.strerror or exc}"
            continue
        folders = []
        for item in items:
            if _hidden(item.name):
                continue
            path = os.path.join(here, item.name)
            try:
                if item.is_symlink():
                    yield _REFUSED, f"{shown(path)}: refused: a symbolic link (not followed)"
                elif item.is_dir(follow_symlinks=False):
                    folders.append(path)
                elif not item.is_file(follow_symlinks=False):
                    yield _REFUSED, f"{shown(path)}: refused: not a regular file"
                elif item.name.lower().endswith(".zip"):  # see _is_archive
                    yield _ARCHIVE, path
                else:
                    yield _FILE, path
            except OSError as exc:
                yield _REFUSED, f"{shown(path)}: cannot read: {exc.strerror or exc}"
        stack.extend(reversed(folders))


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_archive(path: Path, *, sniff: bool) -> bool:
    """A ``.zip`` name; for a path given on the command line, also a ZIP signature."""
    if path.name.lower().endswith(".zip"):
        return True
    if not sniff:
        return False
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return False
        with path.open("rb") as f:
            return f.read(4) in (LOCAL_SIG, EOCD_SIG)
    except OSError:
        return False


def _file_input(path: str, *, given: bool) -> Input:
    label = shown(path)
    try:
        size: int | None = os.stat(path).st_size
    except OSError:
        size = None
    return Input(label, size, partial(_read_file, Path(path), label, given))


def _read_file(path: Path, label: str, given: bool) -> bytes:
    """A file's bytes, at most the cap. A file met in a folder walk is opened without
    following a link (it may have been swapped for one since the walk); a path given on the
    command line is the user's choice and is followed."""
    try:
        fd = os.open(path, os.O_RDONLY | _BINARY | _NONBLOCK | (0 if given else _NOFOLLOW))
    except OSError as exc:
        reason = "a symbolic link (not followed)" if path.is_symlink() else exc.strerror
        raise InputRefused(f"{label}: cannot read: {reason or exc}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(f"{label}: refused: not a regular file")
        try:
            # Asked for its size (a read of the cap would allocate the cap for every file);
            # a file that grew since is read on, up to the cap.
            body = f.read(min(info.st_size, MAX_ENTRY_BYTES) + 1)
            if len(body) > info.st_size:
                body += f.read(MAX_ENTRY_BYTES + 1 - len(body))
        except OSError as exc:
            raise InputRefused(f"{label}: cannot read: {exc.strerror or exc}") from None
    if len(body) > MAX_ENTRY_BYTES:
        raise InputRefused(f"{label}: refused: larger than the cap of {mib(MAX_ENTRY_BYTES)}")
    if not given and body[:4] == LOCAL_SIG:
        raise InputRefused(
            f"{label}: refused: a ZIP archive not named .zip (rename it, or give it directly)"
        )
    return body
