"""The inputs of ``trialwatch import`` (trialwatch.inputs): folders and ZIP archives read one
entry at a time, and everything dangerous refused with one line while the rest goes on.

The archives are real ZIP files written with ``zipfile`` into tmp_path around real fixtures.
The malicious ones (absolute and ``..`` names, symbolic links, the encryption flag, declared
sizes that lie, a bad CRC) are built on purpose by writing ZipInfo entries with crafted names
and attributes, or by patching one header field of a written archive: legitimate test input
for the refusals, not a registry payload passed off as real.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from tests.conftest import fixture_file
from trialwatch.inputs import InputRefused, count_inputs, iter_inputs
from trialwatch.inputs.common import MAX_ENTRY_BYTES, MiB

STUDY = "ctgov_v2_NCT03934567.json"


def collect(paths: list[Path]) -> tuple[dict[str, bytes], list[str]]:
    """Every input read (name → bytes) and every refusal line, in the order they came."""
    lines: list[str] = []
    read: dict[str, bytes] = {}
    for item in iter_inputs(paths, refuse=lines.append):
        try:
            read[item.name] = item.read()
        except InputRefused as exc:
            lines.append(str(exc))
    return read, lines


def patch_entry(archive: Path, name: str, **fields: int) -> None:
    """Overwrite header fields of one entry of a written archive: ``flags`` (local and
    central headers), ``crc``, ``size`` (the central directory's declared expanded size)."""
    data = bytearray(archive.read_bytes())
    found = False
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            found = True
            local = struct.unpack_from("<L", data, at + 42)[0]
            if "flags" in fields:
                struct.pack_into("<H", data, at + 8, fields["flags"])
                struct.pack_into("<H", data, local + 6, fields["flags"])
            if "crc" in fields:
                struct.pack_into("<L", data, at + 16, fields["crc"])
            if "size" in fields:
                struct.pack_into("<L", data, at + 24, fields["size"])
        at = data.find(b"PK\x01\x02", at + 4)
    assert found, name
    archive.write_bytes(bytes(data))


def lines_naming(lines: list[str], part: str) -> list[str]:
    return [line for line in lines if part in line]


def test_entries_come_as_zipfile_reads_them(tmp_path: Path) -> None:
    study = fixture_file(STUDY).read_bytes()
    classic = fixture_file("ctgov_classic_xml_NCT00513591.xml").read_bytes()
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("stored/NCT03934567.json", study, compress_type=zipfile.ZIP_STORED)
        zf.writestr("deflated/NCT00513591.xml", classic, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("empty.json", b"", compress_type=zipfile.ZIP_DEFLATED)
        with zf.open("zip64/NCT03934567.json", "w", force_zip64=True) as out:
            out.write(study)
        zf.comment = b"an archive comment"
    # the same archive behind a self-extractor stub, and one written to a stream that cannot
    # seek (sizes in data descriptors after each entry)
    stub = tmp_path / "stub.zip"
    stub.write_bytes(b"#!/bin/sh\nexit 0\n" * 50 + path.read_bytes())
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("streamed/NCT03934567.json", study)
    streamed = tmp_path / "streamed.zip"
    streamed.write_bytes(bytes(sink.data))

    for archive in (path, stub, streamed):
        read, lines = collect([archive])
        assert lines == []
        with zipfile.ZipFile(archive) as zf:
            expected = {f"{archive}!{i.filename}": zf.read(i) for i in zf.infolist()}
        assert read == expected
        assert count_inputs([archive]) == len(expected)


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_an_archive_comment_holding_the_end_signature_is_no_trouble(tmp_path: Path) -> None:
    """CPython's zipfile gives up on this one ("File is not a zip file")."""
    path = tmp_path / "comment.zip"
    study = fixture_file(STUDY).read_bytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("NCT03934567.json", study)
        zf.comment = b"a comment holding PK\x05\x06, the end record's signature"
    assert collect([path]) == ({f"{path}!NCT03934567.json": study}, [])


def test_more_entries_than_the_classic_end_record_holds(tmp_path: Path) -> None:
    """Over 65535 entries (the registry's bulk download has some 500 000) need the Zip64 end
    record, which this reader finds and follows."""
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(66_000):
            zf.writestr(f"ctg-studies/NCT{i:08d}.json", b"{}")
    assert count_inputs([path]) == 66_000
    read, lines = collect([path])
    assert lines == [] and len(read) == 66_000 and set(read.values()) == {b"{}"}


def test_each_dangerous_entry_is_one_line_and_the_good_ones_are_read(tmp_path: Path) -> None:
    study = fixture_file(STUDY).read_bytes()
    path = tmp_path / "bad.zip"
    link = zipfile.ZipInfo("link.json")
    link.create_system = 3  # Unix: the high half of external_attr is st_mode
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("good/NCT03934567.json", study)
        zf.writestr("/etc/cron.d/abs.json", study)
        zf.writestr("C:\\Windows\\drive.json", study)
        zf.writestr("\\\\server\\share\\unc.json", study)
        zf.writestr("../up.json", study)
        zf.writestr("a/../../deep.json", study)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("locked.json", study)
        zf.writestr("inner.zip", b"PK\x05\x06" + bytes(18))
        zf.writestr("disguised.json", _zip_bytes({"x.json": study}))
        zf.writestr("grows.json", study)
        zf.writestr("badcrc.json", study)
        zf.writestr("new\nline\x1b[2J.json", b"{}")
        zf.writestr(".DS_Store", b"\0\0\0\1Bud1")
        zf.writestr("__MACOSX/good/._NCT03934567.json", b"\0\5\26\7")
        zf.writestr("good/", b"")
        zf.writestr(
            "./good/second.xml", fixture_file("ctgov_classic_xml_NCT00513591.xml").read_bytes()
        )
    patch_entry(path, "locked.json", flags=0x1)
    patch_entry(path, "grows.json", size=1000)  # declares 1000 bytes, holds 17 923
    patch_entry(path, "badcrc.json", crc=0x12345678)

    read, lines = collect([path])

    assert sorted(read) == [
        f"{path}!./good/second.xml",
        f"{path}!good/NCT03934567.json",
        f"{path}!new\\nline\\x1b[2J.json",  # shown escaped, never sent to the terminal raw
    ]
    assert read[f"{path}!good/NCT03934567.json"] == study
    expected = {
        "!/etc/cron.d/abs.json": "absolute path",
        "!C:\\Windows\\drive.json": "absolute path",
        "!\\\\server\\share\\unc.json": "absolute path",
        "!../up.json": "'..' path part",
        "!a/../../deep.json": "'..' path part",
        "!link.json": "symbolic link",
        "!locked.json": "encrypted",
        "!inner.zip": "a ZIP inside a ZIP",
        "!disguised.json": "a ZIP inside a ZIP",
        "!grows.json": "expands past its declared size of 1000 bytes (cut off)",
        "!badcrc.json": "bad CRC-32",
    }
    assert len(lines) == len(expected), lines
    for part, reason in expected.items():
        [line] = lines_naming(lines, f"{path}{part}:")
        assert reason in line and "\n" not in line
    assert not lines_naming(lines, "DS_Store") and not lines_naming(lines, "MACOSX")
    assert count_inputs([path]) == len(read) + len(lines)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buffer.getvalue()


def test_a_compression_bomb_is_refused_whole_before_anything_is_read(tmp_path: Path) -> None:
    study = fixture_file(STUDY).read_bytes()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("NCT03934567.json", study)
        with zf.open("zeros.json", "w") as out:  # 80 MiB of zeros deflate to about 80 KB
            for _ in range(80):
                out.write(bytes(MiB))
    assert bomb.stat().st_size < MiB
    read, lines = collect([bomb])
    assert read == {}
    [line] = lines
    assert line.startswith(f"{bomb}: refused whole:") and "expanded" in line and "ratio" in line
    assert count_inputs([bomb]) == 1


def test_an_entry_declaring_more_than_the_cap_refuses_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "huge.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("NCT03934567.json", fixture_file(STUDY).read_bytes())
        zf.writestr("huge.json", b"{}")
    patch_entry(path, "huge.json", size=MAX_ENTRY_BYTES + 1)
    read, lines = collect([path])
    assert read == {}
    [line] = lines
    assert line.startswith(f"{path}: refused whole: huge.json declares 256.0 MiB")


def test_corrupt_archives_give_one_line_each(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        for nct in ("NCT03934567", "NCT04207047"):
            zf.writestr(f"{nct}.json", fixture_file(f"ctgov_v2_{nct}.json").read_bytes())
    whole = good.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole[: len(whole) // 2])
    cut_directory = tmp_path / "cut_directory.zip"  # the end record kept, the directory cut
    end = whole.rfind(b"PK\x05\x06")
    cut_directory.write_bytes(whole[: end - 30] + whole[end:])
    flipped = tmp_path / "flipped.zip"  # one byte of the first entry's deflate data changed
    data = bytearray(whole)
    data[200] ^= 0xFF
    flipped.write_bytes(bytes(data))
    not_zip = tmp_path / "not_zip.zip"
    not_zip.write_text("this is not an archive")

    for path in (truncated, cut_directory, not_zip):
        read, lines = collect([path])
        assert read == {}
        [line] = lines
        assert line.startswith(f"{path}: not a readable ZIP archive:"), line
    read, lines = collect([flipped])
    [line] = lines
    assert line.startswith(f"{flipped}!NCT03934567.json: ") and "corrupt" in line
    assert list(read) == [f"{flipped}!NCT04207047.json"]


def test_a_folder_never_follows_links_and_reads_a_zip_inside_it(tmp_path: Path) -> None:
    study = fixture_file(STUDY).read_bytes()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(study)
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "NCT03934567.json").write_bytes(study)
    (folder / "link.json").symlink_to(outside / "secret.json")
    (folder / "linked_dir").symlink_to(outside, target_is_directory=True)
    (folder / ".hidden.json").write_bytes(study)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "bulk.zip").write_bytes(_zip_bytes({"ctg-studies/NCT04207047.json": b"{}"}))
    (folder / "nested.json").write_bytes(_zip_bytes({"x.json": b"{}"}))  # a ZIP, misnamed
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.json")  # reading it would hang; it is refused instead

    read, lines = collect([folder])

    assert sorted(read) == [
        f"{folder}/bulk.zip!ctg-studies/NCT04207047.json",
        f"{folder}/sub/NCT03934567.json",
    ]
    [link] = lines_naming(lines, "link.json:")
    [linked_dir] = lines_naming(lines, "linked_dir:")
    assert "symbolic link (not followed)" in link and "symbolic link" in linked_dir
    [misnamed] = lines_naming(lines, "nested.json:")
    assert "ZIP archive not named .zip" in misnamed
    if hasattr(os, "mkfifo"):
        [pipe] = lines_naming(lines, "pipe.json:")
        assert "not a regular file" in pipe
    assert not lines_naming(lines, "hidden") and not lines_naming(lines, ".git")
    assert not lines_naming(lines, "secret") and len(lines) == 3 + hasattr(os, "mkfifo")
    assert count_inputs([folder]) == len(read) + len(lines)


def test_a_file_given_directly_is_read_as_before_and_a_zip_is_known_by_its_bytes(
    tmp_path: Path,
) -> None:
    study = fixture_file(STUDY)
    archive = tmp_path / "download"  # no .zip name: the signature tells
    archive.write_bytes(_zip_bytes({"NCT03934567.json": study.read_bytes()}))
    read, lines = collect([study, archive])
    assert lines == []
    assert list(read) == [str(study), f"{archive}!NCT03934567.json"]
    assert count_inputs([study, archive]) == 2


def test_memory_stays_flat_while_a_large_archive_is_read(tmp_path: Path) -> None:
    """Thousands of entries, each a copy of one real v2 study
    (tests/fixtures/ctgov/NCT03934567) with its NCT id rewritten per entry, are read one at a
    time: the peak of traced memory while iterating stays far below what holding all the
    entries would take, and does not grow with the archive."""
    base = fixture_file(STUDY).read_bytes()

    def build(name: str, count: int) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for i in range(count):
                nct = f"NCT{90_000_000 + i:08d}".encode()
                zf.writestr(f"ctg-studies/{nct.decode()}.json", base.replace(b"NCT03934567", nct))
        return path

    def peak_while_reading(path: Path) -> tuple[int, int, int]:
        entries = expanded = 0
        tracemalloc.start()
        try:
            for item in iter_inputs([path], refuse=pytest.fail):
                expanded += len(item.read())
                entries += 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return entries, expanded, peak

    started = time.monotonic()
    small = peak_while_reading(build("small.zip", 500))
    large = peak_while_reading(build("large.zip", 3000))
    entries, expanded, peak = large
    assert entries == 3000 and expanded > 3000 * len(base) - 1
    assert expanded > 50 * MiB
    assert peak < 2 * MiB  # holding every entry would take over 50 MiB
    assert peak < small[2] + 256 * 1024  # six times the entries, (about) the same peak
    print(f"\npeak traced memory: 500 entries {small[2]} B, 3000 entries ({expanded} B) {peak} B")
    assert time.monotonic() - started < 30
