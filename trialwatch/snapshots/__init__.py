"""Content-addressed store of raw payloads: each body written once, gzip-compressed, atomically."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
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


class SnapshotDamaged(OSError):
    """A stored payload that cannot be read back whole: not gzip, cut short, or bytes that no
    longer hash to its name. The text is one line."""


class SnapshotStore:
    """Files live at ``<root>/ab/cd/<sha256>.gz``; the database keeps only the hash."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        # The digest is ours, but guard anyway: it becomes a path.
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / f"{digest}.gz"

    @staticmethod
    def digest(body: bytes) -> str:
        """The name ``body`` is stored under."""
        return hashlib.sha256(body).hexdigest()

    def put(self, body: bytes) -> str:
        digest = self.digest(body)
        path = self.path_for(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Level 6: within a few per cent of level 9's size at a fraction of its time.
            write_atomic(path, gzip.compress(body, compresslevel=6, mtime=0))
        return digest

    def get(self, digest: str) -> bytes:
        """The payload stored under ``digest``, checked against it; a damaged file raises
        SnapshotDamaged (an OSError), a missing one FileNotFoundError."""
        path = self.path_for(digest)
        try:
            with gzip.open(path, "rb") as fh:
                body = fh.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise SnapshotDamaged(
                f"raw payload {digest} is damaged ({exc or 'cut short'})"
            ) from None
        if hashlib.sha256(body).hexdigest() != digest:
            raise SnapshotDamaged(f"raw payload {digest} is damaged (its bytes no longer match)")
        return body

    def __contains__(self, digest: str) -> bool:
        return self.path_for(digest).exists()
