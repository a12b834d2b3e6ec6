"""The manifest's frames on the pipe (trialwatch/spiders/framing.py): written and read back,
and what a reader does with output that is not frames: a truncated frame, a garbage header.
Then the same through `trialwatch crawl`, with a stand-in child that writes such output: one
error line, no traceback, the frames before it ingested."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.spiders import child, runner
from trialwatch.spiders.components import MANIFEST_FIELDS
from trialwatch.spiders.fetched import Fetched
from trialwatch.spiders.framing import MAX_HEADER, FrameError, read_frames, write_frame

STUDY = (FIXTURES / "ctgov_spider" / "ctgov_v2_NCT03934567.json").read_bytes()
WHEN = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def fetched(body: bytes | None, **fields: Any) -> Fetched:
    url = "http://127.0.0.1:1/api/v2/studies/NCT03934567"
    base: dict[str, Any] = {
        "url": url,
        "status": 200,
        "fetched_at": WHEN,
        "outcome": "ok",
        "snapshot": None,
        "requested_url": url,
        "requested_nct": "NCT03934567",
        "reason": None,
        "kind": "study",
    }
    return Fetched(**{**base, **fields}, body=body)


def frames(*rows: Fetched) -> bytes:
    out = io.BytesIO()
    for row in rows:
        write_frame(out, row.header(), row.body)
    return out.getvalue()


def read(data: bytes) -> list[Fetched]:
    return [Fetched.from_frame(h, b) for h, b in read_frames(io.BytesIO(data))]


def test_frames_carry_raw_bodies_and_every_field() -> None:
    # Bodies with newlines, JSON-looking bytes and bytes that are not UTF-8 come back as sent.
    odd = b'\n{"url": "x", "body_bytes": 3}\n\xff\x00' + STUDY
    rows = [fetched(STUDY), fetched(None, status=404, outcome="not_found"), fetched(odd)]
    data = frames(*rows)
    assert STUDY in data  # as itself, not base64
    assert read(data) == rows
    assert set(rows[0].header()) | {"body"} == set(MANIFEST_FIELDS)


def test_a_frame_without_a_body_is_one_json_line() -> None:
    [line] = frames(fetched(None)).splitlines()
    assert json.loads(line)["body_bytes"] is None


def test_an_empty_body_is_not_none() -> None:
    assert read(frames(fetched(b""))) == [fetched(b"")]


def test_older_manifest_lines_with_a_base64_body_still_read() -> None:
    row = fetched(STUDY)
    assert read(row.to_json().encode() + b"\n") == [row]


def test_blank_lines_between_frames_are_skipped() -> None:
    row = fetched(STUDY)
    assert read(b"\n\r\n" + frames(row) + b"\n\n" + frames(row)) == [row, row]


BROKEN = {
    "garbage header": (b"Traceback (most recent call last):\n", "not a manifest header"),
    "header not an object": (b"[1, 2]\n", "not a manifest header"),
    "header cut off": (b'{"url": "http://x", "body_b', "ends inside a manifest header"),
    "body cut off": (b'{"url": "http://x", "body_bytes": 100}\nabc', "ends inside a body"),
    "negative length": (b'{"url": "x", "body_bytes": -1}\n', "bad body_bytes"),
    "length as text": (b'{"url": "x", "body_bytes": "12"}\n', "bad body_bytes"),
    "length as bool": (b'{"url": "x", "body_bytes": true}\n', "bad body_bytes"),
    "endless header": (b"x" * (MAX_HEADER + 10), "longer than"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_output_that_is_not_frames_raises_one_line_after_the_good_frames(name: str) -> None:
    tail, said = BROKEN[name]
    good = fetched(STUDY)
    seen: list[Fetched] = []
    with pytest.raises(FrameError) as caught:
        for head, body in read_frames(io.BytesIO(frames(good) + tail)):
            seen.append(Fetched.from_frame(head, body))
    assert seen == [good]
    assert said in str(caught.value) and "\n" not in str(caught.value)
    assert len(str(caught.value)) < 300


# -- through `trialwatch crawl`, with a stand-in for the spider's process ------------------

SAYS = {
    "garbage": b"hello from a stray print\n",
    "cut-off": b'{"url": "http://x", "body_bytes": 1000000}\n' + b"x" * 1000,
}


def stand_in(output: bytes, tmp_path: Path) -> Any:
    """A start_child that runs a child writing one good frame of a study, then `output`."""
    row = fetched(STUDY)
    data = tmp_path / "frames.bin"
    data.write_bytes(frames(row) + output)
    code = (
        "import sys, shutil; sys.stdin.read(); "
        f"shutil.copyfileobj(open({str(data)!r}, 'rb'), sys.stdout.buffer)"
    )

    def start(_argv: list[str]) -> subprocess.Popen[bytes]:
        return child.start_child([sys.executable, "-c", code])

    return start


@pytest.mark.parametrize("name", sorted(SAYS))
def test_the_crawl_command_says_broken_output_in_one_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "start_child", stand_in(SAYS[name], tmp_path))
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    argv = [
        "--db",
        db,
        "crawl",
        "ctgov",
        "--nct",
        "NCT03934567",
        "--base-url",
        "http://127.0.0.1:1",
    ]
    done = CliRunner().invoke(cli, argv)
    assert done.exit_code == 1, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert "Traceback" not in done.stderr
    said = "crawl ctgov failed: the crawl process's output is broken: "
    errors = [line for line in done.stderr.splitlines() if said in line]
    assert len(errors) == 1, done.stderr
    # The study framed before the broken output was stored.
    shown = CliRunner().invoke(cli, ["--db", db, "show", "NCT03934567", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["nct_id"] == "NCT03934567"
