"""Cleaners for the words republishing sites use: status phrases, age ranges, volunteer
answers, sponsor names, counts, typed interventions, date-type labels and list markers."""

from __future__ import annotations

import re

from trialwatch.parsers.clean import (
    clean_text,
    date_type,
    intervention_type_word,
    status_word,
    yes_no,
)
from trialwatch.record import DateType

_STATUS_ONLY_ON_SITES = re.compile(r"^(?:non|not)[\s-]?recruiting$|^closed$", re.IGNORECASE)


def is_status_phrase(value: object) -> bool:
    """True for a status chip: a registry status word or a site's vaguer one."""
    text = clean_text(value)
    if text is None:
        return False
    return status_word(text) is not None or bool(_STATUS_ONLY_ON_SITES.match(text))


_AGE_UNIT = r"(years?|yrs?|months?|weeks?|days?)"
_AGE_RANGE = re.compile(
    rf"^(?:ages?\s*:?\s*)?(\d{{1,3}})\s*{_AGE_UNIT}?\s*(?:-|–|to)\s*(\d{{1,3}})\s*{_AGE_UNIT}?"
    r"(?:\s+old)?$",
    re.IGNORECASE,
)
_AGE_MIN = re.compile(
    rf"^(?:ages?\s*:?\s*)?(?:≥|>=)\s*(\d{{1,3}})\s*{_AGE_UNIT}?(?:\s+old)?$"
    rf"|^(?:ages?\s*:?\s*)?(\d{{1,3}})\s*{_AGE_UNIT}?\s*(?:\+|and\s+(?:older|over|above)|or\s+older)$",
    re.IGNORECASE,
)
_AGE_MAX = re.compile(
    rf"^(?:ages?\s*:?\s*)?(?:≤|<=|up\s+to)\s*(\d{{1,3}})\s*{_AGE_UNIT}?(?:\s+old)?$",
    re.IGNORECASE,
)


def _age(number: str, unit: str | None) -> str:
    """The registry's spelling: "18 Years", "6 Months", "1 Year"."""
    word = (unit or "years").lower().rstrip("s")
    word = {"yr": "year"}.get(word, word).capitalize()
    return f"{int(number)} {word}" if int(number) == 1 else f"{int(number)} {word}s"


def age_range(value: object) -> tuple[str | None, str | None]:
    """(minimum_age, maximum_age) from a site's age text; (None, None) when not an age.

    "18-60 years" -> ("18 Years", "60 Years"); "18 to 80 years old" -> the same form;
    "Age ≥18" -> ("18 Years", None). A strict ">18" is not read: the registry's minimum
    would be a guess.
    """
    text = clean_text(value)
    if text is None:
        return None, None
    text = re.sub(r"^(\d{1,3})\s*\+\s*", r"≥\1 ", text)  # "18+ years" -> "≥18 years"
    if m := _AGE_RANGE.match(text):
        unit = m[4] or m[2]
        return _age(m[1], m[2] or unit), _age(m[3], unit)
    if m := _AGE_MIN.match(text):
        return (_age(m[1], m[2]) if m[1] else _age(m[3], m[4])), None
    if m := _AGE_MAX.match(text):
        return None, _age(m[1], m[2])
    return None, None


_HEALTHY = {
    "accepts healthy volunteers": True,
    "healthy volunteers accepted": True,
    "accepting healthy volunteers": True,
    "no healthy volunteers": False,
    "does not accept healthy volunteers": False,
}


def healthy_volunteers_word(value: object) -> bool | None:
    """yes_no, plus the sites' phrases ("No Healthy Volunteers")."""
    text = clean_text(value)
    if text is None:
        return None
    return _HEALTHY.get(text.lower().rstrip("."), yes_no(text))


# The registry's sponsor class, which some sites print after the name.
_SPONSOR_CLASS = re.compile(
    r"\s*\((?:other|industry|nih|u\.?s\.? fed|fed|other gov|network|individual|unknown|ambig)\)$",
    re.IGNORECASE,
)


def sponsor_name(value: object) -> str | None:
    """ "Zhejiang University (Other)" -> "Zhejiang University"; "(none)" -> None."""
    text = clean_text(value)
    if text is None or text.lower() in {"(none)", "none", "n/a"}:
        return None
    return clean_text(_SPONSOR_CLASS.sub("", text))


_COUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\s+[A-Za-z ]+)?$")


def count_in(value: object) -> int | None:
    """A leading count: "15 patients" -> 15, "1,200 participants" -> 1200; other text -> None."""
    text = clean_text(value)
    m = _COUNT.match(text) if text else None
    return int(m[1].replace(",", "")) if m else None


_INTERVENTION_TYPES = frozenset(
    "DRUG DEVICE BIOLOGICAL PROCEDURE RADIATION BEHAVIORAL GENETIC DIETARY_SUPPLEMENT"
    " COMBINATION_PRODUCT DIAGNOSTIC_TEST OTHER".split()
)
_TYPED_NAME = re.compile(r"^([A-Za-z][A-Za-z /]{1,30}?)\s*:\s*(\S.*)$")


def typed_intervention(value: object) -> tuple[str, str] | None:
    """ "Biological: Autologous mesenchymal stem cells" -> ("BIOLOGICAL", "Autologous ...").

    None when the text before the colon is not a registry intervention type.
    """
    text = clean_text(value)
    m = _TYPED_NAME.match(text) if text else None
    if m is None:
        return None
    kind = intervention_type_word(m[1])
    return (kind, m[2]) if kind in _INTERVENTION_TYPES else None


def date_type_in(label: object) -> DateType | None:
    """The date type a label names: "Anticipated Study Start Date" -> ESTIMATED."""
    text = clean_text(label)
    for word in re.findall(r"[A-Za-z]+", text or ""):
        if kind := date_type(word):
            return kind
    return None


# List markers a page renders as text: "•", "‣", "⁃", "- ", "* ".
_MARKER = re.compile(r"^(?:[•‣⁃◦▪▫●○■□►▸➢➤]\s*|[-*+–—](?:\s+|$))")


def strip_marker(value: str) -> tuple[bool, str]:
    """(True, text without its list marker) for a list item line, else (False, text)."""
    m = _MARKER.match(value)
    return (True, value[m.end() :].strip()) if m else (False, value)


# Page chrome: lines made only of a site's own links and notices, never the trial's data.
# "end" phrases open a footer (what follows them is not the record); "skip" phrases are
# widgets (share buttons, sign-ups, a cookie banner's buttons) that only end a section.
_END_PHRASES = (
    r"privacy(?:\s+(?:policy|notice|statement|settings|choices|centre|center))?",
    r"your\s+privacy\s+choices",
    r"do\s+not\s+sell\s+(?:or\s+share\s+)?my\s+personal\s+information",
    r"cookies?(?:\s+(?:settings|preferences|policy|notice|statement))?",
    r"manage\s+(?:cookies|cookie\s+preferences|consent)",
    r"terms(?:\s+(?:of\s+(?:use|service)|(?:and|&)\s+conditions))?",
    r"accessibility(?:\s+statement)?",
    r"site\s*map",
    r"(?:©|\(c\)|copyright\b).*",
    r"all\s+rights\s+reserved\.?",
)
_SKIP_PHRASES = (
    r"share(?:\s+(?:this|on)\s+[\w.]+)?",
    r"print(?:\s+this\s+page)?",
    r"email\s+this\s+(?:trial|study|page)",
    r"subscribe(?:\s+to\s+(?:our|the)\s+newsletter)?(?:\s+now)?",
    r"(?:sign\s+up\s+(?:for|to)\s+(?:our|the)\s+)?newsletter(?:\s+sign[\s-]?up)?",
    r"sign\s+up\s+for\s+(?:updates|alerts|our\s+newsletter)",
    r"(?:accept|allow|reject|decline)(?:\s+all)?(?:\s+cookies)?",
    r"(?:we|this\s+(?:web)?site)\s+uses?\s+cookies\b.*",
    r"back\s+to\s+top",
    r"skip\s+to\s+(?:main\s+)?content",
    r"follow\s+us(?:\s+on\s+\w+)?",
    r"contact\s+us",
    r"about\s+us",
    r"(?:log|sign)\s+in",
)
_SEPARATOR = re.compile(r"[\s|·•/,–—-]*")


class _PhraseRun:
    """Whether a whole line is these phrases with separators around them: what the regex
    `^sep(?:(?:phrase|phrase|...)sep)+$` matches.

    Read from the places where a phrase may start, each tried once. The regex itself, on a
    line that is almost such a run, tries every way of cutting it into phrases ("accept
    cookies" is one phrase or two) before it fails: time exponential in the line's length.
    """

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.any = re.compile("|".join(phrases), re.IGNORECASE)
        self.each = [re.compile(phrase, re.IGNORECASE) for phrase in phrases]

    def matches(self, text: str) -> bool:
        starts, tried = [_after_separator(text, 0)], set()
        while starts:
            at = starts.pop()
            if at in tried:
                continue
            tried.add(at)
            if not self.any.match(text, at):
                continue
            for phrase in self.each:
                longest = phrase.match(text, at)  # optional parts are greedy: the longest
                if longest is None:
                    continue
                # "accept" of "accept cookies" is a phrase too: every shorter end as well
                for end in range(longest.end(), at, -1):
                    if end == longest.end() or phrase.fullmatch(text, at, end):
                        after = _after_separator(text, end)
                        if after == len(text):
                            return True
                        starts.append(after)
        return False


def _after_separator(text: str, at: int) -> int:
    found = _SEPARATOR.match(text, at)
    return found.end() if found else at


_ANY_CHROME = _PhraseRun(_END_PHRASES + _SKIP_PHRASES)
_SKIP_ONLY = _PhraseRun(_SKIP_PHRASES)


def chrome_kind(text: str) -> str | None:
    """ "end" for a footer line ("Cookie settings | Privacy policy", "© 2026 ..."), "skip"
    for a widget line ("Share", "Subscribe to our newsletter"), None for page content."""
    if len(text) > 300 or not _ANY_CHROME.matches(text):
        return None
    return "skip" if _SKIP_ONLY.matches(text) else "end"
