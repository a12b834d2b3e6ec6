"""Content-addressed stores of raw payloads: each body kept once, compressed, under the sha256
of its bytes. ``SnapshotStore`` keeps files; a database keeps them in a table
(``trialwatch.registry.rawstore``). Both answer to ``PayloadStore``.

Payloads are written as zstd (level 3: gzip 6's size at a sixth of its time, which a first
load pays for every study); those written as gzip before stay as they are and are read as
gzip, told apart by their first bytes."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import zstandard

_HEX = frozenset("0123456789abcdef")
LEVEL = 3  # zstd level
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_SUFFIXES = (".zst", ".gz")  # what a file is named for its contents: new first
Packed = tuple[str, int, bytes]  # (sha256 of the payload, its length, compress(payload))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    _fill_then_move(fd, tmp, str(path), data)


def _write_new(path: str, data: bytes) -> None:
    """``write_atomic`` for a file named by its contents' hash: the temporary name needs only
    to be this thread's own."""
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    _fill_then_move(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), tmp, path, data)


def _fill_then_move(fd: int, tmp: str, path: str, data: bytes) -> None:
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


def digest_of(body: bytes) -> str:
    """The name ``body`` is stored under."""
    return hashlib.sha256(body).hexdigest()


def is_digest(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


_LOCAL = threading.local()  # a compressor is reused (a third of its cost is making one),
# but not shared between threads


def compress(body: bytes) -> bytes:
    """A payload as it is stored: a zstd frame that names its size."""
    made = getattr(_LOCAL, "compressor", None)
    if made is None:
        made = _LOCAL.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return made.compress(body)


def decompress(packed: bytes) -> bytes:
    """A stored payload's bytes, zstd or (stored before zstd) gzip; ValueError, EOFError or
    OSError when they are neither, or cut short."""
    if packed[:4] == _ZSTD:
        try:
            return zstandard.ZstdDecompressor().decompress(packed)
        except zstandard.ZstdError as exc:
            raise ValueError(f"not whole zstd: {exc}") from None
    if packed[:2] != _GZIP:
        raise ValueError("neither zstd nor gzip")
    return gzip.decompress(packed)


def unpacked(digest: str, packed: bytes) -> bytes:
    """The payload kept as ``packed``, checked against ``digest``; SnapshotDamaged if it is
    neither zstd nor gzip, is cut short or no longer hashes to its name."""
    try:
        body = decompress(packed)
    except (gzip.BadGzipFile, EOFError, zlib.error, ValueError) as exc:
        raise SnapshotDamaged(f"raw payload {digest} is damaged ({exc or 'cut short'})") from None
    if digest_of(body) != digest:
        raise SnapshotDamaged(f"raw payload {digest} is damaged (its bytes no longer match)")
    return body


def verified(digest: str, read: Any) -> tuple[str | None, str]:
    """(a `trialwatch check` problem code or None, its detail) for the payload ``read()``
    returns (its stored bytes; FileNotFoundError when there is none)."""
    if not is_digest(digest):
        return "snapshot-missing", "not a sha256 digest, so not a name in the store"
    try:
        unpacked(digest, read())
    except FileNotFoundError as exc:
        return "snapshot-missing", str(exc)
    except SnapshotDamaged as exc:
        code = "snapshot-mismatch" if "no longer match" in str(exc) else "snapshot-unreadable"
        return code, str(exc)
    except OSError as exc:
        return "snapshot-unreadable", f"{exc.strerror or exc}"
    return None, ""


class PayloadStore(Protocol):
    """Where a database's raw payloads are kept. ``session``: the caller's unit of work,
    so that a payload and the row naming it are written together (the file store writes at
    once, before the commit that names the file)."""

    @property
    def where(self) -> str:
        """The store, as a message names it."""
        ...

    def digest(self, body: bytes) -> str: ...

    def put(self, body: bytes, *, session: Any = None) -> str: ...

    def put_packed(self, payloads: Sequence[Packed], *, session: Any = None) -> None: ...

    def get(self, digest: str, *, session: Any = None) -> bytes: ...

    def __contains__(self, digest: str) -> bool: ...

    def verify(self, digest: str) -> tuple[str | None, str]: ...


class SnapshotStore:
    """Files live at ``<root>/ab/cd/<sha256>.zst`` (``.gz`` when written before zstd); the
    database keeps only the hash."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._folders: set[str] = set()  # made (or found) by this store

    @property
    def where(self) -> str:
        return str(self.root)

    def path_for(self, digest: str) -> Path:
        """The file that holds ``digest``: the one there is, else where a new one goes."""
        # The digest is ours, but guard anyway: it becomes a path.
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        stem = self.root / digest[:2] / digest[2:4] / digest
        for suffix in _SUFFIXES:
            path = stem.with_suffix(suffix)
            if path.exists():
                return path
        return stem.with_suffix(_SUFFIXES[0])

    @staticmethod
    def digest(body: bytes) -> str:
        return digest_of(body)

    def put(self, body: bytes, *, session: Any = None) -> str:
        digest = digest_of(body)
        path = self.path_for(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, compress(body))
        return digest

    def put_packed(self, payloads: Sequence[Packed], *, session: Any = None) -> None:
        """Keep payloads already compressed: (digest, size, compressed bytes) each. A first
        load writes thousands: plain string paths, each folder made once, a temporary name
        of our own (mkstemp's random names cost more than the write)."""
        root = str(self.root)
        for digest, _size, packed in payloads:
            if not is_digest(digest):
                raise ValueError(f"not a sha256 hex digest: {digest!r}")
            folder = os.path.join(root, digest[:2], digest[2:4])
            stem = os.path.join(folder, digest)
            if os.path.exists(stem + ".zst") or os.path.exists(stem + ".gz"):
                continue
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            _write_new(stem + ".zst", packed)

    def packed(self, digest: str) -> bytes:
        """The payload's stored (compressed) bytes; FileNotFoundError when there is none."""
        path = self.path_for(digest)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {path}") from None

    def get(self, digest: str, *, session: Any = None) -> bytes:
        """The payload stored under ``digest``, checked against it; a damaged file raises
        SnapshotDamaged (an OSError), a missing one FileNotFoundError."""
        return unpacked(digest, self.packed(digest))

    def __contains__(self, digest: str) -> bool:
        return self.path_for(digest).exists()

    def verify(self, digest: str) -> tuple[str | None, str]:
        code, detail = verified(digest, lambda: self.packed(digest))
        if code is not None and code != "snapshot-missing" and is_digest(digest):
            detail = f"{self.path_for(digest)}: {detail}"
        return code, detail
