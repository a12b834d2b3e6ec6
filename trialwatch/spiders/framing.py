"""The manifest on the pipe from a crawl's child to its parent: one frame per fetch.

A frame is one JSON header line (the fetch's manifest fields, and ``body_bytes``: the length of
the body that follows, or null) and then exactly that many raw bytes. A 1,000-study search
page (~18 MB) so crosses the pipe as itself: no base64 (a third more), no 25 MB JSON line for
the parent to decode whole. A frame without a body is a plain JSON line, as the manifest was.

Once a header cannot be read, where the next frame starts is unknown: the reader stops with
one FrameError line. No Scrapy here: the parent imports this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import IO, Any

import orjson

BODY_BYTES = "body_bytes"  # the header key giving the body's length
MAX_HEADER = 1 << 20  # a header is a few hundred bytes: a longer line is not one


class FrameError(ValueError):
    """The child's output is not a sequence of frames (one line, for the crawl's error)."""


def write_frame(stream: IO[bytes], header: Mapping[str, Any], body: bytes | None) -> None:
    """Write one frame and flush it (the parent ingests as each fetch arrives)."""
    head = {**header, BODY_BYTES: None if body is None else len(body)}
    stream.write(json.dumps(head, sort_keys=True).encode("ascii") + b"\n")
    if body:
        stream.write(body)  # the response's own bytes: no copy on the way
    stream.flush()


def read_frames(stream: IO[bytes]) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    """Each frame's header (without ``body_bytes``) and body, until the stream ends; a
    header that is not one, or output that ends inside a frame, raises FrameError."""
    while True:
        line = stream.readline(MAX_HEADER + 1)
        if not line:
            return
        if not line.endswith(b"\n"):
            if len(line) > MAX_HEADER:
                raise FrameError(f"a manifest header longer than {MAX_HEADER:,} bytes")
            raise FrameError(f"the output ends inside a manifest header: {_shown(line)}")
        if not line.strip():
            continue
        try:
            head = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise FrameError(f"not a manifest header: {_shown(line)}") from None
        if not isinstance(head, dict):
            raise FrameError(f"not a manifest header: {_shown(line)}")
        size = head.pop(BODY_BYTES, None)
        if size is None:
            yield head, None
            continue
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise FrameError(f"a manifest header with a bad {BODY_BYTES}: {size!r:.40}")
        body = stream.read(size)  # a buffered read returns all `size` bytes, or all up to EOF
        if len(body) != size:
            raise FrameError(
                f"the output ends inside a body: {len(body):,} of {size:,} bytes "
                f"(for {head.get('url')!r:.120})"
            )
        yield head, body
        del body  # not held while the next one is read


def _shown(line: bytes) -> str:
    text = line.strip().decode("utf-8", errors="replace")
    return repr(text if len(text) <= 80 else text[:79] + "…")
