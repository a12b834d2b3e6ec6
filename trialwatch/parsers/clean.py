"""Shared cleaners: text, dates, status words, phases and enum words.

Every parser goes through these so that the same fact spelled differently by two
sources (or two eras of one source) comes out as the same value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import cache, lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel

from trialwatch.parsers import ParseError, json_kind, json_strict
from trialwatch.record import MAX_ENROLLMENT, NCT_RE, STATUSES, DateType, TrialDate
from trialwatch.text import clean_text, md_unescape

# Short texts (enum and status words) are the same in every record: the answers of pure
# functions for texts up to this length are remembered (as trialwatch.text does).
_CACHED_LENGTH = 200


def storable(*texts: str | None) -> bool:
    """Whether record.Text takes each text (None: an absent value): a str with no NUL
    character and no lone surrogate. A model of such texts built unchecked
    (`model_construct`) equals the validated one, at a fraction of the cost."""
    for text in texts:
        if text is None:
            continue
        if type(text) is not str or "\x00" in text:
            return False
        if not text.isascii():
            try:  # a lone surrogate has no UTF-8 form (found faster than by a regex)
                text.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


_Model = TypeVar("_Model", bound=BaseModel)
_set = object.__setattr__


@cache
def _plain(model: type[BaseModel]) -> tuple[str, ...] | None:
    """The fields of a model model_construct() fills from its arguments alone (no aliases,
    no post-init, no extra fields kept), in their order; None for another model."""
    fields = model.__pydantic_fields__
    aliased = any(f.alias is not None or f.validation_alias is not None for f in fields.values())
    extra = model.model_config.get("extra") == "allow"
    if aliased or extra or model.__pydantic_post_init__ or model.__pydantic_root_model__:
        return None
    return tuple(fields)


def unchecked(model: type[_Model], values: dict[str, Any]) -> _Model:
    """`model.model_construct(**values)` with every field in `values` (in the model's
    order), without model_construct's per-field alias lookups: criteria and sites come by
    the thousand. For storable texts only (see storable)."""
    if tuple(values) != _plain(model):
        return model.model_construct(**values)
    built = model.__new__(model)
    _set(built, "__dict__", values)
    _set(built, "__pydantic_fields_set__", set(values))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


def clean_markdown(value: object) -> str | None:
    """clean_text for API v2 markdown fields (descriptions, outcome text)."""
    if type(value) is str and len(value) > _CACHED_LENGTH and value.isascii():
        if "&" not in value and "\\" not in value:
            # A long text clean_text does not remember: in ASCII with no entity and no
            # escape, its work is whitespace alone.
            return " ".join(value.split()) or None
    return clean_text(md_unescape(value)) if isinstance(value, str) else clean_text(value)


def clean_list(values: Iterable[object] | None) -> list[str] | None:
    """Clean each value, drop empties and repeats (keeping order); [] -> None."""
    out: list[str] = []
    seen: set[str] = set()  # a list's `in` would make thousands of values quadratic
    for value in values or ():
        text = clean_text(value)
        if text is not None and text not in seen:
            seen.add(text)
            out.append(text)
    return out or None


# --- identifiers -----------------------------------------------------------


def check_nct_id(value: object) -> str:
    """Return the NCT id, or raise ParseError naming what is wrong with it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ParseError("record has no NCT id")
    nct = str(value).strip().upper()
    if not NCT_RE.match(nct):
        raise ParseError(f"NCT id {str(value)!r} is not of the form NCT + 8 digits")
    return nct


_DIGITS = re.compile(r"[0-9]{1,20}\Z", re.ASCII)


def whole_count(value: object, where: str) -> int:
    """A count (enrollment): a JSON integer or a text of ASCII digits, from 0 to
    MAX_ENROLLMENT; anything else (1.5, -5, 10**30, "٣", true) raises ParseError naming it."""
    if isinstance(value, str):
        text = value.strip()
        if not _DIGITS.match(text):
            shown = text if len(text) <= 24 else text[:20] + "..."
            raise ParseError(f"{where} {shown!r} is not a whole number")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(f"{where} is {json_kind(value)} ({value!r}), not a whole number")
    if not 0 <= value <= MAX_ENROLLMENT:
        shown = str(value) if len(str(value)) <= 24 else f"a number of {len(str(value))} digits"
        raise ParseError(f"{where} {shown} is not a count from 0 to {MAX_ENROLLMENT:,}")
    return value


# --- JSON bodies -----------------------------------------------------------


def decode_body(body: bytes) -> str:
    """Bytes -> text. Empty or non-UTF-8 input raises ParseError."""
    if not isinstance(body, bytes | bytearray):
        raise ParseError(f"body must be bytes, not {type(body).__name__}")
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8: bad byte at offset {exc.start}") from None
    if not text.strip():
        raise ParseError("empty file")
    return text


def load_json(body: bytes) -> Any:
    """Bytes -> JSON, read strictly (see parsers.json_strict)."""
    return json_strict.loads(decode_body(body))


# --- dates -----------------------------------------------------------------

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_MONTH_YEAR = re.compile(r"^([A-Za-z]+)\.?\s+(\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")

# Classic XML says Actual/Anticipated/Estimate; API v2 says ACTUAL/ESTIMATED.
_DATE_TYPES: dict[str, DateType] = {
    "ACTUAL": "ACTUAL",
    "ESTIMATED": "ESTIMATED",
    "ESTIMATE": "ESTIMATED",
    "ANTICIPATED": "ESTIMATED",
    "EXPECTED": "ESTIMATED",
}


def date_type(word: object) -> DateType | None:
    text = clean_text(word)
    return _DATE_TYPES.get(text.upper()) if text else None


def parse_date(value: object, type_word: object = None) -> TrialDate | None:
    """A registry date at its own precision; None when absent.

    Text that is not a date raises ParseError: it means the registry changed its format,
    and a silently dropped date would read as a change to the trial.
    """
    if value is not None and not isinstance(value, str):
        raise ParseError(f"date {value!r} is not text")
    text = clean_text(value)
    if text is None:
        return None
    parts = _date_parts(text)
    if parts is not None:
        try:  # validates the calendar (no 2019-02-30)
            date(parts[0], parts[1] or 1, parts[2] or 1)
        except ValueError:
            parts = None
    if parts is None:
        raise ParseError(f"date {text!r} is not a date")
    year, month, day = parts
    if month is None:
        return TrialDate(date=f"{year:04d}", precision="year", type=date_type(type_word))
    if day is None:
        iso = f"{year:04d}-{month:02d}"
        return TrialDate(date=iso, precision="month", type=date_type(type_word))
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    return TrialDate(date=iso, precision="day", type=date_type(type_word))


def _date_parts(text: str) -> tuple[int, int | None, int | None] | None:
    if m := _ISO.match(text):
        return int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    if m := _MONTH_DAY_YEAR.match(text):
        month = _MONTHS.get(m[1].lower())
        return (int(m[3]), month, int(m[2])) if month else None
    if m := _MONTH_YEAR.match(text):
        month = _MONTHS.get(m[1].lower())
        return (int(m[2]), month, None) if month else None
    if m := _DAY_MONTH_YEAR.match(text):
        month = _MONTHS.get(m[2].lower())
        return (int(m[3]), month, int(m[1])) if month else None
    return None


def iso_day(value: object) -> str | None:
    """A day-precision date as ISO text ("June 16, 2017" -> "2017-06-16")."""
    parsed = parse_date(value)
    if parsed is not None and parsed.precision != "day":
        raise ParseError(f"date {value!r} is not a full date")
    return parsed.date if parsed is not None else None


# --- vocabularies ----------------------------------------------------------


_NOT_ENUM = re.compile(r"[^A-Z0-9]+")


def enum_word(value: object) -> str | None:
    """Registry enum spelling: "Dietary Supplement" -> "DIETARY_SUPPLEMENT"."""
    text = clean_text(value)
    if text is None:
        return None
    return _enum_cached(text) if len(text) <= _CACHED_LENGTH else _enum(text)


def _enum(text: str) -> str | None:
    return _NOT_ENUM.sub("_", text.upper()).strip("_") or None


_enum_cached = lru_cache(maxsize=4096)(_enum)


# Classic words whose v2 spelling is not just the upper-cased word.
_STATUS_ALIASES = {
    "UNKNOWN_STATUS": "UNKNOWN",
    "AVAILABLE_FOR_EXPANDED_ACCESS": "AVAILABLE",
}


def status_word(value: object) -> str | None:
    """A status word in the registry vocabulary, or None when it maps to no single value.

    Also reads schema.org's spellings ("ActiveNotRecruiting", "https://schema.org/Completed").
    """
    if isinstance(value, str) and len(value) <= _CACHED_LENGTH:
        return _status_cached(value)
    return _status(value)


def _status(value: object) -> str | None:
    text = clean_text(value)
    if text is not None:
        text = _SCHEMA_ORG.sub("", text)
        text = text if " " in text else _CAMEL.sub(" ", text)
    word = enum_word(text)
    if word is None:
        return None
    word = _STATUS_ALIASES.get(word, word)
    return word if word in STATUSES else None


_status_cached = lru_cache(maxsize=4096)(_status)


_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}


def phases(values: object) -> list[str] | None:
    """["PHASE1", "PHASE2"] from "Phase 1/Phase 2", ["PHASE2"], "N/A", ..."""
    if values is None:
        return None
    raw = [values] if isinstance(values, str) else list(values)  # type: ignore[call-overload]
    out: list[str] = []
    for value in raw:
        text = clean_text(value)
        if text is None:
            continue
        # "N/A" must not be split on its slash.
        pieces = ["NA"] if text.upper() in {"N/A", "NA"} else re.split(r"[/,&]|\band\b", text)
        for piece in pieces:
            phase = _phase(piece)
            if phase and phase not in out:
                out.append(phase)
    return out or None


def _phase(piece: str) -> str | None:
    word = enum_word(piece)
    if word is None:
        return None
    m = re.fullmatch(r"(EARLY_)?(?:PHASE_?)?([1-4]|I{1,3}|IV)", word)
    if m:
        number = _ROMAN.get(m[2], m[2])
        return f"{m[1] or ''}PHASE{number}"
    return "NA" if word in {"N_A", "NA"} else word


_SEX = {"ALL": "ALL", "BOTH": "ALL", "FEMALE": "FEMALE", "MALE": "MALE"}


def sex_word(value: object) -> str | None:
    word = enum_word(value)
    return _SEX.get(word, word) if word else None


def study_type_word(value: object) -> str | None:
    """ "Observational [Patient Registry]" -> "OBSERVATIONAL"; "N/A" -> None."""
    text = clean_text(value)
    if text is None:
        return None
    word = enum_word(_without_brackets(text))
    return None if word in {None, "N_A", "NA"} else word


def _without_brackets(text: str) -> str:
    """The text without each "[", the first "]" after it and what is between, as a lazy
    regex from "[" to "]" gives it (the text is cleaned: it holds no line break); the regex
    takes time quadratic in a run of "[" that no "]" closes."""
    out: list[str] = []
    done = 0
    while (start := text.find("[", done)) >= 0 and (end := text.find("]", start)) >= 0:
        out.append(text[done:start])
        done = end + 1
    out.append(text[done:])
    return "".join(out)


def intervention_type_word(value: object) -> str | None:
    """Classic "Procedure/Surgery" was renamed PROCEDURE in API v2."""
    word = enum_word(value)
    return "PROCEDURE" if word == "PROCEDURE_SURGERY" else word


def age_text(value: object) -> str | None:
    """Keep the registry's own text ("18 Years"); "N/A" means no limit -> None."""
    text = clean_text(value)
    return None if text is None or text.upper() in {"N/A", "NA", "NONE"} else text


def yes_no(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = clean_text(value)
    if text is None:
        return None
    word = text.lower()
    if word in {"yes", "true", "accepts healthy volunteers"}:
        return True
    if word in {"no", "false"}:
        return False
    return None


# --- site pages (aggregators that republish registry records) ----------------

# "8 July 2022", "20 August 2025": the day-first form of UK and EU sites.
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})$")
_SCHEMA_ORG = re.compile(r"^https?://schema\.org/", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Site words that say "not recruiting" without saying which registry status it is.
