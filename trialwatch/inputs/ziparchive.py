"""A streaming ZIP reader: the central directory is walked one record at a time, never held
whole, and an entry is read with a hard limit, never trusting what its headers say.

``zipfile.ZipFile`` builds a ``ZipInfo`` for every entry when it opens an archive (about
550 bytes each: some 300 MB for the registry's bulk download of half a million studies), so
it is used here only to write test archives. This module reads the format itself
(PKWARE APPNOTE 6.3): the end record (Zip64 too), central directory records, local headers,
stored and deflated data. Every failure is a ``ZipError`` whose text is one line.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Record layouts, as in the format notes (and as CPython's zipfile spells them).
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_LOC64 = struct.Struct("<4sLQL")  # Zip64 end of central directory locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # Zip64 end of central directory record
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header
_EXTRA = struct.Struct("<HH")

EOCD_SIG = b"PK\x05\x06"
LOCAL_SIG = b"PK\x03\x04"
_LOC64_SIG = b"PK\x06\x07"
_EOCD64_SIG = b"PK\x06\x06"
_CENTRAL_SIG = b"PK\x01\x02"

STORED, DEFLATED = 0, 8
_AES = 99  # WinZip AES: encrypted, whatever the flags say
_FLAG_ENCRYPTED = 0x01
_FLAG_STRONG_ENCRYPTION = 0x40
_FLAG_UTF8 = 0x800
_ZIP64_TAG = 0x0001
_MAX_COMMENT = 0xFFFF
_CHUNK = 64 * 1024


class ZipError(Exception):
    """The archive, or one entry of it, cannot be read: corrupt, truncated, tampered with, or
    in a form this reader does not take. The text is one line, without the name."""


@dataclass(frozen=True, slots=True)
class Directory:
    """Where the central directory lies; ``skew`` is how many bytes precede the archive
    proper (a self-extracting stub), added to every offset the records give."""

    start: int
    size: int
    count: int
    skew: int
    file_size: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One central directory record, as declared (nothing here is trusted when reading)."""

    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int  # of the local header, relative to the archive proper
    mode: int  # the Unix st_mode kept in the high half of the external attributes, else 0

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION)) or (
            self.method == _AES
        )


def locate(f: BinaryIO) -> Directory:
    """Find the central directory from the end record (Zip64 when the locator is there)."""
    f.seek(0, 2)
    file_size = f.tell()
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT)
    f.seek(file_size - tail_size)
    tail = f.read(tail_size)
    at = _end_record_at(tail)
    if at < 0:
        raise ZipError("no end-of-central-directory record (not a ZIP archive, or truncated)")
    _sig, disk, dir_disk, here, count, size, offset, _comment = _EOCD.unpack_from(tail, at)
    end_at = file_size - tail_size + at
    directory_end = end_at
    several_disks = bool(disk or dir_disk) or here != count
    if end_at >= _LOC64.size + _EOCD64.size:
        f.seek(end_at - _LOC64.size)
        locator = f.read(_LOC64.size)
        if locator[:4] == _LOC64_SIG:
            _sig, _disk, _where, disks = _LOC64.unpack(locator)
            directory_end = end_at - _LOC64.size - _EOCD64.size
            f.seek(directory_end)
            record = f.read(_EOCD64.size)
            if record[:4] != _EOCD64_SIG:
                raise ZipError("Zip64 end record missing or damaged (corrupt or truncated)")
            fields = _EOCD64.unpack(record)
            disk, dir_disk, here, count, size, offset = fields[4:]
            several_disks = bool(disk or dir_disk) or disks > 1 or here != count
    if several_disks:
        raise ZipError("an archive split over several disks (not supported)")
    start = directory_end - size
    skew = start - offset
    if start < 0 or skew < 0:
        raise ZipError("central directory lies outside the file (corrupt or truncated)")
    return Directory(start=start, size=size, count=count, skew=skew, file_size=file_size)


def _end_record_at(tail: bytes) -> int:
    """Where the end record starts in the file's last bytes: the last signature whose
    comment length reaches exactly the end of the file (a comment may hold the signature
    itself), else the last one with room for a record (trailing junk), else -1."""
    fallback = -1
    at = tail.rfind(EOCD_SIG)
    while at >= 0:
        if at + _EOCD.size <= len(tail):
            comment_len = _EOCD.unpack_from(tail, at)[-1]
            if at + _EOCD.size + comment_len == len(tail):
                return at
            fallback = max(fallback, at)
        at = tail.rfind(EOCD_SIG, 0, at)
    return fallback


def entries(f: BinaryIO, directory: Directory) -> Iterator[Entry]:
    """The central directory's records in order, one at a time. ``f`` must not be moved by
    the caller until the iteration ends (read entries through another file object)."""
    f.seek(directory.start)
    left = directory.size
    for index in range(1, directory.count + 1):
        head = f.read(_CENTRAL.size)
        if len(head) < _CENTRAL.size or left < _CENTRAL.size:
            raise ZipError(f"central directory cut short at record {index} of {directory.count}")
        fields = _CENTRAL.unpack(head)
        if fields[0] != _CENTRAL_SIG:
            raise ZipError(f"central directory record {index} is damaged (corrupt)")
        flags, method = fields[5], fields[6]
        crc, compressed, size = fields[9], fields[10], fields[11]
        name_len, extra_len, comment_len, disk = fields[12], fields[13], fields[14], fields[15]
        attributes, offset = fields[17], fields[18]
        raw_name = f.read(name_len)
        extra = f.read(extra_len)
        skipped = f.read(comment_len)
        left -= _CENTRAL.size + name_len + extra_len + comment_len
        short = (len(raw_name), len(extra), len(skipped)) != (name_len, extra_len, comment_len)
        if left < 0 or short:
            raise ZipError(f"central directory cut short at record {index} of {directory.count}")
        if 0xFFFFFFFF in (compressed, size, offset) or disk == 0xFFFF:
            size, compressed, offset = _zip64_values(extra, size, compressed, offset, disk)
        yield Entry(
            name=raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", errors="replace"),
            raw_name=raw_name,
            flags=flags,
            method=method,
            crc=crc,
            compressed=compressed,
            size=size,
            offset=offset,
            mode=attributes >> 16,
        )


def _zip64_values(
    extra: bytes, size: int, compressed: int, offset: int, disk: int
) -> tuple[int, int, int]:
    """The 64-bit sizes and offset from the Zip64 extra field: present, in this order, only
    for the fields whose 32-bit value is all ones."""
    at = 0
    while at + _EXTRA.size <= len(extra):
        tag, length = _EXTRA.unpack_from(extra, at)
        body = extra[at + _EXTRA.size : at + _EXTRA.size + length]
        at += _EXTRA.size + length
        if tag != _ZIP64_TAG:
            continue
        wanted = [size == 0xFFFFFFFF, compressed == 0xFFFFFFFF, offset == 0xFFFFFFFF]
        values = [size, compressed, offset]
        pos = 0
        for i, needed in enumerate(wanted):
            if needed:
                if pos + 8 > len(body):
                    raise ZipError("Zip64 extra field too short (corrupt)")
                (values[i],) = struct.unpack_from("<Q", body, pos)
                pos += 8
        return values[0], values[1], values[2]
    if disk == 0xFFFF and 0xFFFFFFFF not in (size, compressed, offset):
        return size, compressed, offset
    raise ZipError("a size or offset needs the Zip64 extra field, which is missing (corrupt)")


def read_entry(f: BinaryIO, directory: Directory, entry: Entry) -> bytes:
    """The entry's bytes, read from ``f`` with a limit: at most its declared compressed size
    is read, and expanding past its declared size stops the read at once (refused, never
    buffered further). The CRC-32 is checked."""
    f.seek(entry.offset + directory.skew)
    head = f.read(_LOCAL.size)
    if len(head) < _LOCAL.size or head[:4] != LOCAL_SIG:
        raise ZipError("local header missing or damaged (corrupt or truncated)")
    name_len, extra_len = _LOCAL.unpack(head)[10:]
    if f.read(name_len) != entry.raw_name:
        raise ZipError("local header names another file than the directory (corrupt)")
    data_start = entry.offset + directory.skew + _LOCAL.size + name_len + extra_len
    if data_start + entry.compressed > directory.start:
        raise ZipError("data runs into the central directory (corrupt or truncated)")
    if entry.method == STORED and entry.compressed != entry.size:
        raise ZipError("stored entry whose sizes disagree (corrupt)")
    f.seek(data_start)
    return _inflate(f, entry)


def _inflate(f: BinaryIO, entry: Entry) -> bytes:
    """Read at most ``entry.compressed`` bytes and expand them to at most one byte past the
    declared size; that byte, if it comes, refuses the entry."""
    limit = entry.size
    inflater = zlib.decompressobj(-15) if entry.method == DEFLATED else None
    out = bytearray()
    crc = 0
    unread = entry.compressed
    pending = b""
    while True:
        if not pending:
            if not unread:
                break
            pending = f.read(min(_CHUNK, unread))
            if not pending:
                raise ZipError("data cut short (truncated)")
            unread -= len(pending)
        room = limit + 1 - len(out)
        if inflater is None:
            piece, pending = pending[:room], pending[room:]
        else:
            try:
                piece = inflater.decompress(pending, room)
            except zlib.error as exc:
                raise ZipError(f"deflate data damaged (corrupt): {exc}") from None
            pending = inflater.unconsumed_tail
        out += piece
        crc = zlib.crc32(piece, crc)
        if len(out) > limit:
            raise ZipError(f"refused: expands past its declared size of {limit} bytes (cut off)")
        if inflater is not None and inflater.eof:
            break
    if inflater is not None and not inflater.eof:
        raise ZipError("deflate data ends early (corrupt or truncated)")
    if len(out) != limit:
        raise ZipError(f"expands to {len(out)} bytes, not the {limit} declared (corrupt)")
    if crc != entry.crc:
        raise ZipError("bad CRC-32 (corrupt)")
    return bytes(out)
