"""Text normalisation shared by the parsers and the canonical form.

Formatting is never a change (DESIGN.md): entities, Unicode compatibility forms, Markdown
escapes and runs of whitespace are all spellings of the same words.
"""

from __future__ import annotations

import html
import re
import unicodedata

_SPACE = re.compile(r"\s+")
# A Markdown escape: backslash before ASCII punctuation ("\>=", "\[RNA\]", "mm\^3").
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Zero-width space/joiners, word joiner, BOM, soft hyphen: invisible, never wording.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def md_unescape(text: str) -> str:
    """Drop Markdown backslash escapes (API v2 free text), so v2 reads like classic text."""
    return _MD_ESCAPE.sub(r"\1", text)


def clean_text(value: object) -> str | None:
    """Unescape HTML entities, apply NFKC, collapse whitespace, strip; "" -> None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", html.unescape(str(value)))
    text = _SPACE.sub(" ", text).strip()
    return text or None


def norm_text(value: str | None) -> str | None:
    """The canonical spelling of a text: clean_text, plus double-escaped entities, Markdown
    escapes and invisible characters resolved. Case and punctuation are kept: they are wording."""
    if value is None:
        return None
    text = value
    for _ in range(3):  # double-escaped entities ("&amp;gt;") need more than one pass
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return clean_text(md_unescape(text))
