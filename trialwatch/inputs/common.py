"""What the input readers share: the ``Input`` an import is given, the refusal, the limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MiB = 1024 * 1024

# One entry (or one file) is read into memory whole, so it has a cap. The largest real
# single-study response in the fixtures is 0.5 MB; a registry record of 256 MiB is not one.
MAX_ENTRY_BYTES = 256 * MiB

# A ZIP archive whose entries together declare more than EXPANDED_FLOOR_BYTES and more than
# MAX_RATIO times the archive's size on disk is refused whole before anything is read: a
# compression bomb (or entries that overlap to expand the same data many times). Study JSON
# and XML deflate about 5 to 15 times, so 100 leaves room; below 64 MiB expanded the ratio
# does not matter (that much fits in memory, one entry at a time, anyway).
MAX_RATIO = 100
EXPANDED_FLOOR_BYTES = 64 * MiB

Refuse = Callable[[str], None]


class InputRefused(Exception):
    """An input set aside while being read; the text is one line, naming it and the reason."""


@dataclass(frozen=True)
class Input:
    """One payload to import: a file, or an entry of a ZIP archive (``archive.zip!inner``).

    ``size`` is what the file system or the archive declares (not trusted: ``read`` enforces
    the limits). ``read`` returns the bytes or raises ``InputRefused``; call it before taking
    the next input, while the archive it comes from is still open.
    """

    name: str
    size: int | None
    read: Callable[[], bytes]


def shown(name: str) -> str:
    """A name fit for one line of a message: control characters (a newline, an escape
    sequence) in a file or entry name are written as escapes, never passed to the terminal."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB"
