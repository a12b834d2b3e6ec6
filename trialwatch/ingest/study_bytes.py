"""A study's bytes before it is parsed: is it a page, which trial is it, what is its raw hash,
and could orjson read it otherwise than the strict reader. Cheap checks on bytes, so that an
unchanged study is never parsed."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from trialwatch.parsers.json_strict import loads_large, strict_only
from trialwatch.record import NCT_RE

_HOLDER = re.compile(rb'"versionHolder"\s*:\s*"[^"]*"')
_NCT = re.compile(rb'"nctId"\s*:\s*"(NCT[0-9]{8})"')
FORMATS = (None, "ctgov")  # the sources whose payloads may be API v2 studies


def split_page(body: bytes) -> list[Any] | None:
    """The studies of an API v2 search page, else None."""
    if strict_only(body):
        return None
    try:
        data = loads_large(body)
    except orjson.JSONDecodeError:
        return None  # the strict reader says what is wrong with it
    studies = data.get("studies") if isinstance(data, dict) else None
    return studies if isinstance(studies, list) and "studyVersion" not in data else None


def nct_of(study: Any) -> str | None:
    try:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return nct if isinstance(nct, str) and NCT_RE.match(nct) else None


def nct_in(body: bytes) -> str | None:
    # Only a lookup key: a wrong guess finds no equal raw hash, and the study is parsed.
    found = _NCT.search(body)
    return found[1].decode("ascii") if found else None


def raw_hash(raw: bytes) -> str:
    """The hash of a study's bytes without its versionHolder."""
    return hashlib.sha256(_HOLDER.sub(b"", raw)).hexdigest()
