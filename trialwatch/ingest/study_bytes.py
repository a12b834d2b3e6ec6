"""A study's bytes before it is parsed: is it a page, which trial is it, what is its raw hash,
and could orjson read it otherwise than the strict reader. Cheap checks on bytes, so that an
unchanged study is never parsed."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from trialwatch.ingest.page_stream import NotStreamable, read_page
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


def page_studies(body: bytes) -> list[tuple[bytes, str | None]] | None:
    """``split_page``'s studies, each as compact JSON (``orjson.dumps``, as the raw hashes of
    stored versions were taken) with its NCT id; else None, exactly when split_page says None.

    The page is read one study at a time (``page_stream``), never decoded whole: a page of
    1,000 studies costs its bytes and their compact copies, not ~10x that in objects. A page
    that reader does not walk is read whole, as before. A study too deep for orjson to write
    makes the page take the one-payload path (it made Batch.add raise before)."""
    if strict_only(body):
        return None
    try:
        try:
            members, studies = read_page(body, _compact)
        except NotStreamable:
            whole = split_page(body)
            return None if whole is None else [_compact(study) for study in whole]
    except orjson.JSONEncodeError:  # nested past what orjson writes (255): the strict path
        return None
    return studies if studies is not None and "studyVersion" not in members else None


def _compact(study: Any) -> tuple[bytes, str | None]:
    # Copied to its own size: orjson's output keeps up to ~3x its length allocated, and a
    # page's studies wait together in the batch.
    return memoryview(orjson.dumps(study)).tobytes(), nct_of(study)


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
    # Found with bytes.find (memchr speed) and hashed around, the bytes never copied; the
    # regex is asked only where the name is, and for a second one (not in registry records).
    digest = hashlib.sha256()
    done = 0
    at = raw.find(b'"versionHolder"')
    while at >= 0:
        found = _HOLDER.match(raw, at)
        if found is not None:
            digest.update(memoryview(raw)[done:at])
            done = found.end()
        at = raw.find(b'"versionHolder"', at + 1)
    digest.update(memoryview(raw)[done:])
    return digest.hexdigest()
