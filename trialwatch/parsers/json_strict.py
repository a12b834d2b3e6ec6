"""JSON read strictly: only what a registry record can hold, or ParseError naming what is not.

``json.loads`` alone accepts NaN and Infinity (not JSON), turns 1e400 into infinity, raises
ValueError on an integer of more than 4,300 digits, and hands back strings holding a lone
UTF-16 surrogate (``"\\ud800"``) or a NUL character (``"\\u0000"``), which no database column
can store (PostgreSQL text refuses NUL; UTF-8 has no surrogates). Here each of these refuses
the payload with one line saying what and where, before anything is parsed or stored.

A NUL character is refused rather than stripped: registry text never holds one, so its
presence means the bytes are damaged, and content read from damaged bytes should not become
a version. Refusing also keeps SQLite and PostgreSQL alike (SQLite could store it).
"""

from __future__ import annotations

import gc
import json
import math
import re
from typing import Any

import orjson

from trialwatch.parsers import ParseError

# No number in a registry record is wider than 64 bits (20 digits); a longer one is junk.
MAX_INT_DIGITS = 20

# Only an escape can put a NUL or a lone surrogate into a decoded string (strict UTF-8 and
# the JSON grammar refuse them raw): when none is in the text, no string needs checking.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")


# What orjson reads differently from the strict reader (a NUL or lone surrogate escape, a
# number past 64 bits, which orjson reads as a float): such a payload takes the strict,
# one-payload path. Digits are found by translating them all to "0" (a regex is 30x slower).
_RISKY_BYTES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_DIGITS = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))  # digits to "0", rest to " "
_LONG_NUMBER = b"0" * 20


def strict_only(body: bytes) -> bool:
    """Whether orjson could read ``body`` differently from the strict reader."""
    if b"\\u" in body and _RISKY_BYTES.search(body):
        return True
    return body.translate(_DIGITS).find(_LONG_NUMBER) >= 0


def loads_large(body: bytes) -> Any:
    """orjson.loads for a large payload (a search page of 1,000 studies), with the cyclic
    garbage collector paused: the millions of new objects would otherwise set off full
    collections over everything the process holds, doubling the time or worse."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(body)
    finally:
        if paused:
            gc.enable()


def loads_bytes(body: bytes, text: str) -> Any:
    """``loads(text)`` for ``text`` decoded from ``body``: by orjson, ten times faster, where
    it reads the same; else (and for every error's wording) by the strict reader."""
    if not strict_only(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return loads(text)


def loads(text: str) -> Any:
    """Decode JSON text; anything a record cannot hold raises ParseError (one line)."""
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ParseError("not JSON: nested too deeply") from None
    if _RISKY_ESCAPE.search(text):
        _check_strings(data)
    return data


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ParseError(
            f"refused: a number of {digits} digits (at most {MAX_INT_DIGITS} are read)"
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise ParseError(f"refused: the number {shown} is too large to hold")
    return value


def _constant(name: str) -> float:
    raise ParseError(f"refused: {name} is not a number JSON allows")


def _check_strings(data: Any) -> None:
    """Every key and string value, walked without recursion (the nesting is the input's)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                _check_text(key, path or "(top level)", "a key")
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path or "(top level)", "text")


def _check_text(text: str, where: str, what: str) -> None:
    if "\x00" in text:
        raise ParseError(f"refused: a NUL character (\\u0000) in {what} at {where}")
    if found := _SURROGATE.search(text):
        code = f"\\u{ord(found.group()):04x}"
        raise ParseError(f"refused: a lone surrogate ({code}) in {what} at {where}")
