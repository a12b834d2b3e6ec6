"""Text normalisation shared by the parsers and the canonical form.

Formatting is never a change (DESIGN.md): entities, Unicode compatibility forms, Markdown
escapes and runs of whitespace are all spellings of the same words.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"\s+")
# A Markdown escape: backslash before ASCII punctuation ("\>=", "\[RNA\]", "mm\^3").
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Zero-width space/joiners, word joiner, BOM, soft hyphen: invisible, never wording.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def md_unescape(text: str) -> str:
    """Drop Markdown backslash escapes (API v2 free text), so v2 reads like classic text."""
    return _MD_ESCAPE.sub(r"\1", text)


# The same short texts (cities, countries, statuses, roles) come back in every record: the
# functions below are pure, so their answers for texts up to this length are remembered.
_CACHED_LENGTH = 200


def clean_text(value: object) -> str | None:
    """Unescape HTML entities, apply NFKC, collapse whitespace, strip; "" -> None."""
    if value is None:
        return None
    text = str(value)
    return _clean_cached(text) if len(text) <= _CACHED_LENGTH else _clean(text)


def _plain(text: str) -> bool:
    """ASCII without entities, escapes or any whitespace but single inner spaces: a text
    every step below leaves as it is (NFKC is the identity on ASCII); most of a record's
    long texts are such, and this test is a few C-speed passes."""
    return (
        text.isascii() and "&" not in text and "\\" not in text and " ".join(text.split()) == text
    )


def _clean(text: str) -> str | None:
    if _plain(text):
        return text or None
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _SPACE.sub(" ", text).strip()
    return text or None


_clean_cached = lru_cache(maxsize=1 << 16)(_clean)


def norm_text(value: str | None) -> str | None:
    """The canonical spelling of a text: clean_text, plus double-escaped entities, Markdown
    escapes and invisible characters resolved. Case and punctuation are kept: they are wording."""
    if value is None:
        return None
    return _norm_cached(value) if len(value) <= _CACHED_LENGTH else _norm(value)


def _norm(value: str) -> str | None:
    if _plain(value):
        return value or None
    text = value
    for _ in range(3):  # double-escaped entities ("&amp;gt;") need more than one pass
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return clean_text(md_unescape(text))


_norm_cached = lru_cache(maxsize=1 << 16)(_norm)
