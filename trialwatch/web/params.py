"""Query parameters checked one by one; a value that cannot be used is a BadInput whose
message is one line naming the parameter."""

from __future__ import annotations

from datetime import date

from trialwatch.registry.queries import phase_word
from trialwatch.web.words import STATUSES, status_word

MAX_TEXT = 200  # characters of a search or a sponsor; more is not a name
MAX_LIMIT = 500  # changes in one answer


class BadInput(ValueError):
    """A query parameter that cannot be used; its message is one line naming it."""


def shown(value: str | None) -> str:
    text = value or ""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_page(value: str | None) -> int:
    text = (value or "1").strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise BadInput(f"page: {shown(value)} is not a page number (1 or more)")
    if len(text) > 9:
        raise BadInput(f"page: {shown(value)} is past the last page")
    return int(text)


def parse_limit(value: str | None, default: int) -> int:
    text = (value or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadInput(f"limit: {shown(value)} is not a number from 1 to {MAX_LIMIT}")
    return int(text)


def day(name: str, value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name}: {shown(value)} is not a date (YYYY-MM-DD)") from None


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadInput(f"{name}: {shown(value)} is not one of {', '.join(allowed)}")
    return value


def phase(value: str) -> str:
    try:
        return phase_word(value)
    except ValueError as exc:
        raise BadInput(f"phase: {exc}") from None


def status(value: str) -> str:
    """The registry's word for an overall status, as given in words or as the word."""
    word = status_word(value)
    if word is None:
        raise BadInput(f"status: {shown(value)} is not one of {', '.join(STATUSES)}")
    return word


def text(name: str, value: str | None) -> str:
    found = (value or "").strip()
    if len(found) > MAX_TEXT:
        raise BadInput(f"{name}: longer than {MAX_TEXT} characters")
    return found
