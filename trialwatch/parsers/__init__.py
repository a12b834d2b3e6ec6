"""Parsers: raw registry payloads -> TrialRecord. Pure functions, no I/O.

`parse_payload` recognises the kind of payload and hands it to the parser for it:

- API v2 single study `{"protocolSection": ...}`            -> parsers.ctgov.parse
- API v2 studies page `{"studies": [...], ...}`             -> parsers.ctgov.parse_page
- record-history version `{"studyVersion": n, "study": ...}` -> parsers.ctgov_history
- classic XML `<clinical_study>`                            -> parsers.ctgov_classic
- a page of a republishing site (HTML, or its visible text)  -> the site's parser, chosen
  by `source` (veeva, centerwatch, clinicaltrialexchange, trialpage) or, when no source
  is given, by the address's host (see SITE_HOSTS); `trialpage` is never guessed

Any input that is not one of these raises ParseError, whose message is one line
naming what is wrong: JSON is read strictly (see json_strict), a field of the wrong type
is named rather than coerced, and every record obeys TrialRecord's rules. With
``complete=True`` a registry record must also carry what every registry record has (see
``ctgov.check_complete``); that is how payloads are read before they become versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import ValidationError

if TYPE_CHECKING:
    from trialwatch.record import TrialRecord

__all__ = [
    "KNOWN_SOURCES",
    "PARSER_VERSION",
    "REGISTRY_SOURCES",
    "SITE_HOSTS",
    "SITE_SOURCES",
    "ParseError",
    "parse_payload",
]

# Stored with every version; raise it whenever any parser's output changes, so stored
# versions are re-read from their raw payloads (`trialwatch reparse`, or the next ingest of
# the trial) before anything is compared with them.
PARSER_VERSION = "7"  # 7: registration and results-posted dates

# Slugs of the registry's payload formats and of the site-page parsers (parsers/<slug>.py).
REGISTRY_SOURCES = ("ctgov", "ctgov_history", "ctgov_classic")
SITE_SOURCES = ("veeva", "centerwatch", "clinicaltrialexchange", "trialpage")
KNOWN_SOURCES = REGISTRY_SOURCES + SITE_SOURCES
# Hosts whose pages have a parser of their own; a subdomain ("www.") counts as its host.
SITE_HOSTS = {
    "ctv.veeva.com": "veeva",
    "centerwatch.com": "centerwatch",
    "clinicaltrialexchange.com": "clinicaltrialexchange",
}


# A message quotes the input; past this length the rest of the quote says nothing more.
MAX_MESSAGE = 300


class ParseError(ValueError):
    """A payload that is not a trial record we can read; the message says why, in one line."""

    def __init__(self, message: str) -> None:
        # Messages quote the input (lxml errors can span lines, scraped text may hold control
        # characters or lone surrogates): keep logs one printable line per error.
        text = " ".join(str(message).split())
        if not text.isprintable():
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 3] + "..."
        super().__init__(text)


def json_kind(value: object) -> str:
    """How a JSON value is named in a message: "an object", "an array", "a number"..."""
    if isinstance(value, dict):
        return "an object"
    return _JSON_KINDS.get(type(value), f"a {type(value).__name__}")


def invalid(exc: ValidationError) -> ParseError:
    """A record that breaks the record's own rules, as one line naming the field."""
    errors = exc.errors()
    if not errors:
        return ParseError("the record breaks the record's rules")
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ParseError(f"{where}: {message}{more}")


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
_CLASSIC_ROOT = re.compile(r"<clinical_study\b")
_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S)


def parse_payload(
    body: bytes,
    url: str | None = None,
    source: str | None = None,
    problems: list[str] | None = None,
    *,
    complete: bool = False,
    warnings: list[str] | None = None,
) -> list[TrialRecord]:
    """Detect the payload's kind and parse it; `source` overrides each record's source.

    With `problems`, a bad study inside a studies page is noted there and the page's other
    studies are still returned; with `warnings`, a site page read without a status, phase or
    criteria its site shows is noted there (its record still returned); a payload that is
    wholly unreadable always raises. With
    `complete`, a registry record that lacks what every registry record has is refused.
    """
    # Imported here: the parser modules import ParseError from this package.
    from trialwatch.parsers import ctgov_classic, json_strict
    from trialwatch.parsers.clean import decode_body
    from trialwatch.record import TrialRecord

    text = decode_body(body)
    head = text.lstrip()[:1]
    site = _site_source(source, url)
    # A registry payload stays with the registry parsers even under a site's slug.
    registry_payload = head in ("{", "[") or _CLASSIC_ROOT.search(text[:5000]) is not None
    if site is not None and not registry_payload:
        try:
            record = _site_parser(site)(body, url, warnings)
            # Checked again: a value set with model_copy (an id from the address) skips them.
            TrialRecord.model_validate(record.model_dump(), context={})
        except ValidationError as exc:  # a page whose values break the record's rules
            raise invalid(exc) from None
        records = [record]
    elif head == "<":
        if _HTML_START.match(text[:2000]):
            raise ParseError(
                "HTML page, not a ClinicalTrials.gov record (give --source SLUG for a site page)"
            )
        records = [ctgov_classic.parse(body, url, complete=complete)]
    else:
        records = _from_json(json_strict.loads_bytes(body, text), url, problems, complete)
    if source is not None:
        records = [record.model_copy(update={"source": source}) for record in records]
    return records


def _site_source(source: str | None, url: str | None) -> str | None:
    """The site-page parser to use: the given slug, else the one for the URL's host."""
    if source is not None:
        return source if source in SITE_SOURCES else None
    host = urlsplit(url or "").hostname or ""
    for known, slug in SITE_HOSTS.items():
        if host == known or host.endswith("." + known):
            return slug
    return None


def _site_parser(slug: str) -> Callable[[bytes, str | None, list[str] | None], TrialRecord]:
    from trialwatch.parsers import centerwatch, clinicaltrialexchange, trialpage, veeva

    modules = {
        "veeva": veeva,
        "centerwatch": centerwatch,
        "clinicaltrialexchange": clinicaltrialexchange,
        "trialpage": trialpage,
    }
    return modules[slug].parse


def _from_json(
    data: object, url: str | None, problems: list[str] | None, complete: bool
) -> list[TrialRecord]:
    from trialwatch.parsers import ctgov, ctgov_history

    if not isinstance(data, dict):
        raise ParseError(f"JSON is {json_kind(data)}, not a study")
    if "studyVersion" in data:
        return [ctgov_history.record_from_version(data, url, complete=complete)]
    if "studies" in data:
        return ctgov.records_from_page(data, problems, complete=complete)
    if "protocolSection" in data:
        return [ctgov.record_from_study(data, url, complete=complete)]
    if "FullStudiesResponse" in data:
        raise ParseError("JSON is a classic API v1 FullStudiesResponse, which is not supported")
    raise ParseError("JSON is not a ClinicalTrials.gov study (no protocolSection)")
