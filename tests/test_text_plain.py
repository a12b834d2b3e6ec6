"""The plain-ASCII shortcut of the text cleaners gives what the full steps give."""

from __future__ import annotations

import random

import orjson
import pytest

from tests.conftest import FIXTURES
from trialwatch import text

PIECES = [
    "a",
    "Z",
    "1",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "&",
    "&amp;",
    "&gt;",
    "\\",
    "\\>",
    "*",
    "é",
    "\u00a0",
    "\u200b",
    "x" * 250,
]


def _slow_clean(value: str) -> str | None:
    import html
    import unicodedata

    cleaned = unicodedata.normalize("NFKC", html.unescape(value))
    return text._SPACE.sub(" ", cleaned).strip() or None


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [t for v in items for t in _texts(v)]


def _strings() -> list[str]:
    rng = random.Random(7)
    made = ["", " ", "a", "a b", " a", "a ", "x" * 300, "x " * 150]
    made += ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for path in sorted(FIXTURES.glob("ctgov/*/*.json")):
        made += list(_texts(orjson.loads(path.read_bytes())))
    return made


STRINGS = _strings()


def test_the_shortcut_is_taken_and_agrees() -> None:
    taken = 0
    for value in STRINGS:
        taken += text._plain(value)
        assert text._clean(value) == _slow_clean(value), repr(value)
        slow = value
        for _ in range(3):
            import html

            if html.unescape(slow) == slow:
                break
            slow = html.unescape(slow)
        import unicodedata

        slow = text._INVISIBLE.sub("", unicodedata.normalize("NFKC", slow))
        assert text._norm(value) == _slow_clean(text.md_unescape(slow)), repr(value)
    assert taken > len(STRINGS) // 10


@pytest.mark.parametrize("value", ["a\u2028b", "a\x85b", "a\u00a0b", "ﬁ", "x\x1cy"])
def test_non_ascii_or_odd_spaces_take_the_full_steps(value: str) -> None:
    assert not text._plain(value)
