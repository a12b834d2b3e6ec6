"""An API v2 search page read one study at a time, never decoded whole.

A page of 1,000 studies is ~18 MB of JSON; decoded at once it is several hundred MB of
Python objects. Here the top-level object is walked on the bytes and each study's own slice
is decoded by orjson alone, so the page costs its bytes plus one study.

Finding where a study ends without a byte-by-byte scan in Python: a slice that starts at an
object's ``{`` and decodes as one JSON value *is* that object (a JSON reader reads the same
tokens from the start whatever follows, and an object closes exactly once), so the end can be
guessed and the guess checked by the decode that is needed anyway. The guesses are cheap
regex hits: a ``}`` followed by the next study's first key (the first study's), or, for the
last study, the page's last ``}]`` (or one of the few before it). Anything this reader does
not expect (another first key, a study that is not an object, a repeated top-level key, too
many wrong guesses) raises ``NotStreamable`` and the caller reads the page whole, as before:
never a different answer.

Each slice is decoded as deep inside brackets as the page puts it, so orjson's nesting
limit falls where it would for the whole page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice
from typing import Any, TypeVar

import orjson

T = TypeVar("T")

_WS = rb"[ \t\n\r]*"  # JSON's whitespace, no more (re's \s has \v and \f)
_SPACE = re.compile(_WS)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_SCALAR = re.compile(rb"-?[0-9][0-9.eE+-]*|true|false|null")  # orjson checks it after
_FIRST_KEY = re.compile(rb"\{" + _WS + rb'"[^"\\]*(?:\\.[^"\\]*)*"' + _WS + rb":", re.DOTALL)
_CONTAINER_END = re.compile(rb"[}\]]" + _WS + rb"[,}]")
MAX_GUESSES = 8  # wrong guesses for one value before the page is read whole


class NotStreamable(ValueError):
    """The page is not one this reader walks: read it whole instead."""


def read_page(body: bytes, each: Callable[[Any], T]) -> tuple[dict[str, Any], list[T] | None]:
    """The top-level members of a JSON object page but its ``studies`` (decoded), and
    ``each(study)`` for every study in order (None when there is no ``studies`` key).

    Only a page that is valid JSON as a whole returns (orjson's view of valid); anything else
    raises NotStreamable, including a valid page this reader does not walk."""
    pos = _space(body, 0)
    if body[pos : pos + 1] != b"{":
        raise NotStreamable("not a JSON object")
    members: dict[str, Any] = {}
    studies: list[T] | None = None
    seen: set[str] = set()
    pos = _space(body, pos + 1)
    if body[pos : pos + 1] == b"}":
        return _end(body, pos + 1, members, studies)
    while True:
        key, pos = _key(body, pos)
        if key in seen:  # orjson keeps the last; not worth following here
            raise NotStreamable(f"top-level key {key!r} repeated")
        seen.add(key)
        if key == "studies":
            studies, pos = _studies(body, pos, each)
        else:
            members[key], pos = _value(body, pos)
        pos = _space(body, pos)
        mark = body[pos : pos + 1]
        if mark == b"}":
            return _end(body, pos + 1, members, studies)
        if mark != b",":
            raise NotStreamable(f"expected , or }} at byte {pos}")
        pos = _space(body, pos + 1)


def _end(
    body: bytes, pos: int, members: dict[str, Any], studies: list[T] | None
) -> tuple[dict[str, Any], list[T] | None]:
    if _space(body, pos) != len(body):
        raise NotStreamable(f"more after the page's object at byte {pos}")
    return members, studies


def _space(body: bytes, pos: int) -> int:
    found = _SPACE.match(body, pos)
    return found.end() if found else pos


def _key(body: bytes, pos: int) -> tuple[str, int]:
    found = _STRING.match(body, pos)
    if found is None:
        raise NotStreamable(f"expected a key at byte {pos}")
    ok, key = _decode(body, pos, found.end(), 0)
    if not ok or not isinstance(key, str):
        raise NotStreamable(f"bad key at byte {pos}")
    pos = _space(body, found.end())
    if body[pos : pos + 1] != b":":
        raise NotStreamable(f"expected : at byte {pos}")
    return key, _space(body, pos + 1)


def _decode(body: bytes, start: int, end: int, depth: int) -> tuple[bool, Any]:
    """Whether body[start:end] is one JSON value ``depth`` levels down, and its value.

    Wrapped as the value of an object, so orjson's nesting limit counts the page's levels too,
    and a guess past the end fails right after the first value instead of decoding more."""
    chunk = b"".join((_OPEN[depth], memoryview(body)[start:end], _CLOSE[depth]))
    try:
        value = orjson.loads(chunk)
    except orjson.JSONDecodeError:
        return False, None
    if depth == 2:
        value = value[0]
    return True, value[""] if depth else value


_OPEN = {0: b"", 1: b'{"":', 2: b'[{"":'}
_CLOSE = {0: b"", 1: b"}", 2: b"}]"}


def _value(body: bytes, pos: int) -> tuple[Any, int]:
    """A top-level member's value (nextPageToken, totalCount, ...) and where it ends."""
    first = body[pos : pos + 1]
    if first == b'"':
        found = _STRING.match(body, pos)
        ends = [found.end()] if found else []
    elif first in (b"{", b"["):
        ends = [m.start() + 1 for m in islice(_CONTAINER_END.finditer(body, pos), MAX_GUESSES)]
    else:
        found = _SCALAR.match(body, pos)
        ends = [found.end()] if found else []
    for end in ends:
        ok, value = _decode(body, pos, end, 1)
        if ok:
            return value, end
    raise NotStreamable(f"value at byte {pos} not read")


def _studies(body: bytes, pos: int, each: Callable[[Any], T]) -> tuple[list[T], int]:
    if body[pos : pos + 1] != b"[":
        raise NotStreamable("studies is not an array")
    out: list[T] = []
    pos = _space(body, pos + 1)
    if body[pos : pos + 1] == b"]":
        return out, pos + 1
    head = _FIRST_KEY.match(body, pos)
    if head is None:
        raise NotStreamable("the first study is not an object with a key")
    # Where one study ends and the next begins: "}", a comma, then the first study's first key.
    boundary = re.compile(rb"\}" + _WS + rb"," + _WS + re.escape(head.group()))
    while True:
        if body[pos : pos + 1] != b"{":
            raise NotStreamable(f"study {len(out)} is not an object")
        end, study = _study_end(body, pos, boundary)
        out.append(each(study))
        del study  # only `each`'s result is kept: one study's objects at a time
        pos = _space(body, end)
        mark = body[pos : pos + 1]
        if mark == b"]":
            return out, pos + 1
        if mark != b",":
            raise NotStreamable(f"expected , or ] at byte {pos}")
        pos = _space(body, pos + 1)


def _study_end(body: bytes, pos: int, boundary: re.Pattern[bytes]) -> tuple[int, Any]:
    """Where the study object starting at ``pos`` ends, and its value."""
    for hit in islice(boundary.finditer(body, pos), MAX_GUESSES):
        ok, study = _decode(body, pos, hit.start() + 1, 2)
        if ok:
            return hit.start() + 1, study
    # The last study (no next one to find) ends at a "}]": tried from the page's end back,
    # where a guess past its end fails right after it (see _decode).
    close = len(body)
    for _ in range(MAX_GUESSES):
        close = body.rfind(b"]", pos, close)
        end = close
        while end > pos and body[end - 1] in b" \t\n\r":
            end -= 1
        if end <= pos:
            break
        if body[end - 1 : end] == b"}":
            ok, study = _decode(body, pos, end, 2)
            if ok:
                return end, study
    raise NotStreamable(f"the end of the study at byte {pos} not found")
