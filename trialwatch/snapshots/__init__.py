"""Content-addressed store of raw payloads: each body written once, gzip-compressed, atomically."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path

_HEX = frozenset("0123456789abcdef")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SnapshotStore:
    """Files live at ``<root>/ab/cd/<sha256>.gz``; the database keeps only the hash."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        # The digest is ours, but guard anyway: it becomes a path.
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / f"{digest}.gz"

    def put(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        path = self.path_for(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, gzip.compress(body, mtime=0))
        return digest

    def get(self, digest: str) -> bytes:
        with gzip.open(self.path_for(digest), "rb") as fh:
            return fh.read()

    def __contains__(self, digest: str) -> bool:
        return self.path_for(digest).exists()
