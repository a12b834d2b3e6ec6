"""Members of a registry JSON record read as the type they must have: an object, a list, text.
A value of another type is a format change, never data: ParseError names where it is."""

from __future__ import annotations

from typing import Any

from trialwatch.parsers import ParseError, json_kind

Section = dict[str, Any]


def member(value: Any, where: str) -> Section:
    """An object member; absent (or null) reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"{where} is {json_kind(value)}, not an object")
    return value


def module(ps: Section, name: str) -> Section:
    return member(ps.get(name), name)


def items(value: Any, what: str) -> list[Any]:
    """A list member of the study; a value of another shape is a format change, not data."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{what} is {json_kind(value)}, not a list")
    return value


def objects(value: Any, what: str) -> list[tuple[str, Section]]:
    """A list of objects, each with its path for messages."""
    return [
        (f"{what}[{i}]", member(item, f"{what}[{i}]")) for i, item in enumerate(items(value, what))
    ]


def text(obj: Section, key: str, where: str) -> str | None:
    """A text member: a string or absent; a number, boolean, object or list is refused."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ParseError(f"{where}.{key} is {json_kind(value)}, not text")


def texts(value: Any, what: str) -> list[str]:
    found = items(value, what)
    for index, item in enumerate(found):
        if not isinstance(item, str):
            raise ParseError(f"{what}[{index}] is {json_kind(item)}, not text")
    return found
