"""A broken environment made real for the fault tests: a small file system that fills up, a
folder mounted read-only, an immutable file, and distinct studies made from one real
payload. Each is skipped, with the reason, where this machine cannot arrange it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def write_copies(source: Path, folder: Path, count: int, *, start: int = 0) -> list[str]:
    """``count`` distinct studies from one real API v2 study: each a copy whose one edit is
    its NCT id (identificationModule.nctId, the one place the id is written), numbered
    NCT9xxxxxxx from ``start`` as benchmarks/generate.py numbers its trials. Their ids."""
    body = source.read_bytes()
    nct = json.loads(body)["protocolSection"]["identificationModule"]["nctId"].encode()
    assert body.count(nct) == 1, f"{source}: its NCT id is written more than once"
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for number in range(start, start + count):
        new = f"NCT9{number:07d}"
        (folder / f"{new}.json").write_bytes(body.replace(nct, new.encode()))
        ids.append(new)
    return ids


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def _said(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


@contextmanager
def small_disk(where: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB mounted at ``where`` (needs root), unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({_said(done)})")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


@contextmanager
def read_only_view(folder: Path, where: Path) -> Iterator[Path]:
    """``folder`` seen read-only at ``where`` (a read-only bind mount: root cannot write
    there either), unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "--bind", str(folder), str(where))
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount a folder ({_said(done)})")
    try:
        done = _run("mount", "-o", "remount,bind,ro", str(where))
        if done.returncode != 0:
            pytest.skip(f"cannot remount a bind mount read-only ({_said(done)})")
        probe = where / ".write-probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip(f"{where}: still writable after a read-only remount")
        yield where
    finally:
        _run("umount", "-l", str(where))


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``paths`` made immutable (chattr +i: no one, root included, may change them)."""
    done = _run("chattr", "+i", *map(str, paths))
    if done.returncode != 0:
        _run("chattr", "-i", *map(str, paths))
        pytest.skip(f"cannot make a file immutable with chattr +i ({_said(done)})")
    try:
        yield
    finally:
        _run("chattr", "-i", *map(str, paths))
