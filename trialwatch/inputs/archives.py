"""ZIP archives as inputs: which entries are read, skipped or refused, and why.

An archive is surveyed first (one pass over its central directory, nothing held): if its
entries together would expand far beyond its size, or one declares more than the cap, it is
refused whole. Then its entries are given one at a time, each read with a limit. Nothing
from an archive is written anywhere: the names are only shown, never used as paths.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from trialwatch.inputs.common import (
    EXPANDED_FLOOR_BYTES,
    MAX_ENTRY_BYTES,
    MAX_RATIO,
    Input,
    InputRefused,
    Refuse,
    mib,
    shown,
)
from trialwatch.inputs.ziparchive import (
    DEFLATED,
    LOCAL_SIG,
    STORED,
    Directory,
    Entry,
    ZipError,
    entries,
    locate,
    read_entry,
)

SKIP = "skip"  # a directory, or a hidden file (.DS_Store, __MACOSX/...): passed over silently
_DRIVE = re.compile(r"^[A-Za-z]:")


def entry_problem(entry: Entry) -> str | None:
    """Why an entry is refused, ``SKIP`` when it is passed over silently, else None."""
    name = entry.name
    if "\x00" in name:
        return "refused: a NUL byte in the name"
    path = name.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        return "refused: an absolute path"
    parts = path.split("/")
    if ".." in parts:
        return "refused: a '..' path part"
    if any(p == "__MACOSX" or (p.startswith(".") and p != ".") for p in parts):
        return SKIP
    kind = stat.S_IFMT(entry.mode)
    if path.endswith("/") or kind == stat.S_IFDIR:
        return SKIP
    if kind == stat.S_IFLNK:
        return "refused: a symbolic link"
    if kind and kind != stat.S_IFREG:
        return "refused: not a regular file"
    if entry.encrypted:
        return "refused: encrypted"
    if path.lower().endswith(".zip"):
        return "refused: a ZIP inside a ZIP (only one level is read)"
    if entry.method not in (STORED, DEFLATED):
        return f"refused: compression method {entry.method} (only stored and deflate are read)"
    if entry.size > MAX_ENTRY_BYTES:  # refused whole by the survey; kept for a changed file
        return f"refused: declares {mib(entry.size)}, above the cap of {mib(MAX_ENTRY_BYTES)}"
    return None


@dataclass
class Survey:
    """One pass over the central directory: how many entries are read or refused one by
    one (``inputs``), and the reason to refuse the whole archive, if there is one."""

    inputs: int = 0
    problem: str | None = None


def survey(f: BinaryIO, directory: Directory, label: str) -> Survey:
    result = Survey()
    expanded = 0
    for entry in entries(f, directory):
        expanded += entry.size
        problem = entry_problem(entry)
        if problem == SKIP:
            continue
        result.inputs += 1
        if entry.size > MAX_ENTRY_BYTES and result.problem is None:
            result.problem = (
                f"{label}: refused whole: {shown(entry.name)} declares {mib(entry.size)}, "
                f"above the cap of {mib(MAX_ENTRY_BYTES)} per entry"
            )
    packed = max(directory.file_size, 1)
    if expanded > EXPANDED_FLOOR_BYTES and expanded > MAX_RATIO * packed and not result.problem:
        result.problem = (
            f"{label}: refused whole: {mib(expanded)} expanded from {mib(packed)} "
            f"(ratio {expanded / packed:.0f}; at most {MAX_RATIO} above "
            f"{mib(EXPANDED_FLOOR_BYTES)}): a compression bomb?"
        )
    return result


def count_archive(path: Path) -> int:
    """The entries an import of this archive reads or refuses one by one (1 when the
    archive is refused whole), from its central directory alone."""
    label = shown(str(path))
    try:
        with path.open("rb") as f:
            result = survey(f, locate(f), label)
    except (OSError, ZipError):
        return 1
    return 1 if result.problem else result.inputs


def iter_archive(path: Path, refuse: Refuse) -> Iterator[Input]:
    """The archive's entries to import, one at a time, each refusal reported through
    ``refuse`` (one line); an archive that cannot be read, or is refused whole, gives one line
    and no inputs."""
    label = shown(str(path))
    try:
        with path.open("rb") as listing, path.open("rb") as data:
            directory = locate(listing)
            checked = survey(listing, directory, label)
            if checked.problem:
                refuse(checked.problem)
                return
            for entry in entries(listing, directory):
                problem = entry_problem(entry)
                if problem == SKIP:
                    continue
                name = f"{label}!{shown(entry.name)}"
                if problem:
                    refuse(f"{name}: {problem}")
                    continue
                yield Input(name, entry.size, partial(_read, data, directory, entry, name))
    except OSError as exc:
        refuse(f"{label}: cannot read: {exc.strerror or exc}")
    except ZipError as exc:
        refuse(f"{label}: not a readable ZIP archive: {exc}")


def _read(f: BinaryIO, directory: Directory, entry: Entry, name: str) -> bytes:
    try:
        body = read_entry(f, directory, entry)
    except ZipError as exc:
        raise InputRefused(f"{name}: {exc}") from None
    except OSError as exc:
        raise InputRefused(f"{name}: cannot read: {exc.strerror or exc}") from None
    if body[:4] == LOCAL_SIG:
        raise InputRefused(f"{name}: refused: a ZIP inside a ZIP (only one level is read)")
    return body
