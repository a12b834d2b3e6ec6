"""The migration scripts' revisions read from their files, without importing alembic: every
command checks a database's schema against them, and alembic costs ~0.1 s to import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

# `revision: str = "0008"` and the like, at the start of a line of a version file
_ASSIGNED = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)[ \t]*(?::[^=\n]*)?=[ \t]*(.+?)[ \t]*$",
    re.MULTILINE,
)


def read_revisions(versions: Path) -> tuple[frozenset[str], frozenset[str]] | None:
    """(heads, every revision) of the version files in ``versions``, as alembic finds them
    (each ``*.py`` but ``__init__``), without importing alembic. None when the files are not
    a plain chain (or merge) of literal revisions: branch labels, dependencies, a value
    computed or given twice; alembic must read those."""
    known: set[str] = set()
    below: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith(("__init__", ".#")):
            continue
        pairs = _ASSIGNED.findall(path.read_text(encoding="utf-8"))
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            return None
        try:
            values = {name: ast.literal_eval(value) for name, value in pairs}
        except (ValueError, SyntaxError):
            return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or values.get("branch_labels") or values.get("depends_on"):
            return None
        downs = [down] if isinstance(down, str) else down if down is not None else []
        if not isinstance(downs, list | tuple) or not all(isinstance(d, str) for d in downs):
            return None
        known.add(revision)
        below.update(downs)
    if not known or not below <= known:
        return None
    return frozenset(known - below), frozenset(known)
