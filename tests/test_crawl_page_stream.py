"""A search page split into studies one study at a time (``study_bytes.page_studies`` over
``page_stream.read_page``) gives exactly what splitting the page decoded whole gives
(``split_page``, then ``orjson.dumps`` of each study), on the recorded API v2 pages in
tests/fixtures (their SOURCES.md) and on those pages rewritten: the token before or after the
studies, other whitespace, escaped quotes and brackets inside strings, unicode; and the same
None for what is not a studies page."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import FIXTURES
from trialwatch.ingest.page_stream import NotStreamable, read_page
from trialwatch.ingest.study_bytes import nct_of, page_studies, split_page

PAGES = sorted(
    path
    for path in FIXTURES.rglob("*.json")
    if b'"studies"' in (raw := path.read_bytes()) and isinstance(json.loads(raw), dict)
)
TEN = FIXTURES / "ctgov" / "studies_page_10studies_martinadep"
STUDIES: list[dict[str, Any]] = json.loads(
    (TEN / "ctgov_v2_studies_page_10studies_martinadep.json").read_bytes()
)["studies"]


def expected(body: bytes) -> list[tuple[bytes, str | None]] | None:
    whole = split_page(body)
    return None if whole is None else [(orjson.dumps(s), nct_of(s)) for s in whole]


def streamed(body: bytes) -> bool:
    """Whether the page is walked study by study (not handed to the whole-page reader)."""
    try:
        read_page(body, lambda study: None)
    except NotStreamable:
        return False
    return True


def test_the_recorded_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert "ctgov_v2_studies_page_10studies_martinadep.json" in names
    assert "replay_empty_page.json" in names
    assert len(PAGES) >= 8


@pytest.mark.parametrize("path", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_recorded_page_splits_as_when_decoded_whole(path: Path) -> None:
    body = path.read_bytes()
    assert page_studies(body) == expected(body)
    assert expected(body) is not None
    assert streamed(body)


def _pretty(page: dict[str, Any]) -> bytes:
    return json.dumps(page, indent=2, ensure_ascii=False).encode()


def _spaced(page: dict[str, Any]) -> bytes:
    text = json.dumps(page, separators=(" ,\r\n\t", " :\t"), ensure_ascii=False)
    return b" \n\t" + text.encode() + b"\r\n "


def _ascii(page: dict[str, Any]) -> bytes:
    # An astral character escapes to a surrogate pair, which sends a page to the strict
    # reader (json_strict.strict_only): one from the BMP instead.
    return json.dumps(page, ensure_ascii=True).replace("\\ud83d\\ude00", "\\u263a").encode()


LAYOUTS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "compact": orjson.dumps,
    "pretty": _pretty,
    "spaced": _spaced,
    "ascii-escaped": _ascii,
}

TRICKY_TEXT = (
    'a "quoted" }, {"protocolSection": {"x": 1}}, ] }] ]} \\ \\" — Ünïcödé 漢字 😀 \u2028 \t end'
)


def _tricky(studies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The studies with text that looks like JSON structure (a study's end, the next one's
    first key, the array's end) in their free text and in a key."""
    out = json.loads(json.dumps(studies))
    for i, study in enumerate(out):
        ident = study["protocolSection"]["identificationModule"]
        ident["briefTitle"] = f"{TRICKY_TEXT} {i}"
        ident['odd "key" }]'] = "}]"
    out[-1]["protocolSection"]["identificationModule"]["officialTitle"] = '}]"}]'
    return out


def _pages() -> dict[str, dict[str, Any]]:
    return {
        "token-after": {"studies": STUDIES, "nextPageToken": "NF0g5JGBlw"},
        "token-before": {"nextPageToken": "NF0g5JGBlw", "studies": STUDIES},
        "no-token": {"studies": STUDIES[:3]},
        "count-and-token": {"totalCount": 12, "studies": STUDIES[:4], "nextPageToken": "a]}b"},
        "one-study": {"studies": STUDIES[:1], "nextPageToken": "x"},
        "empty": {"studies": []},
        "tricky-text": {"studies": _tricky(STUDIES), "nextPageToken": "t"},
        "tricky-text-token-first": {"nextPageToken": "}]", "studies": _tricky(STUDIES)},
        "object-member": {"meta": {"a": [1, {"b": "}],"}], "c": None}, "studies": STUDIES[:2]},
    }


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", sorted(_pages()))
def test_rewritten_pages_split_as_when_decoded_whole(name: str, layout: str) -> None:
    body = LAYOUTS[layout](_pages()[name])
    got = page_studies(body)
    assert got == expected(body)
    assert got is not None and len(got) == len(_pages()[name]["studies"])
    assert streamed(body)


def test_escaped_keys_are_read_as_their_names() -> None:
    body = b'{"stud\\u0069es": [' + orjson.dumps(STUDIES[0]) + b'], "next\\u0050ageToken": "x"}'
    assert page_studies(body) == expected(body) is not None
    assert streamed(body)


def _deep(levels: int) -> bytes:
    """A one-study page whose study holds a value nested `levels` deep."""
    study = orjson.dumps(STUDIES[0])[:-1] + b',"deep":' + b"[" * levels + b"]" * levels + b"}"
    return b'{"studies":[' + study + b"]}"


def test_a_deep_study_splits_as_when_decoded_whole() -> None:
    body = _deep(250)
    assert page_studies(body) == expected(body) is not None
    assert streamed(body)


@pytest.mark.parametrize("levels", [254, 1021, 1022, 1023])
def test_a_study_too_deep_for_orjson_takes_the_one_payload_path(levels: int) -> None:
    # Past 253 orjson cannot write the study back (its limit is 255 levels: this used to
    # raise in Batch.add); past 1,021 the page, 1,025 deep, cannot be read by orjson at all,
    # though the study alone could: the page's levels are counted.
    body = _deep(levels)
    assert page_studies(body) is None
    assert (split_page(body) is None) == (levels >= 1022)


STUDY = orjson.dumps(STUDIES[0])
OTHER = orjson.dumps(STUDIES[1])
NOT_WALKED = {
    "truncated": b'{"studies":[' + STUDY + b"," + OTHER[:-20],
    "trailing-garbage": b'{"studies":[' + STUDY + b"]} x",
    "two-objects": b'{"studies":[' + STUDY + b']} {"studies":[]}',
    "repeated-studies": b'{"studies":[' + STUDY + b'],"studies":[' + OTHER + b"]}",
    "studies-not-a-list": b'{"studies":{"a":' + STUDY + b"}}",
    "a-study-not-an-object": b'{"studies":[' + STUDY + b',1,"x"]}',
    "another-first-key": b'{"studies":[' + STUDY + b',{"derivedSection":{},"hasResults":false}]}',
    "study-version": b'{"studies":[' + STUDY + b'],"studyVersion":"1"}',
    "top-level-array": b"[" + STUDY + b"]",
    "bad-utf8": b'{"studies":[' + STUDY[:-1] + b',"x":"\xff"}]}',
    "nul-escape": b'{"studies":[' + STUDY[:-1] + b',"x":"\\u0000"}]}',
    "long-number": b'{"studies":[' + STUDY[:-1] + b',"x":123456789012345678901234}]}',
    "leading-bom": b"\xef\xbb\xbf" + b'{"studies":[' + STUDY + b"]}",
    "missing-comma": b'{"studies":[' + STUDY + OTHER + b"]}",
    "no-studies": b'{"nextPageToken":"x","totalCount":0}',
    "empty-object": b"{}",
}


@pytest.mark.parametrize("name", sorted(NOT_WALKED))
def test_odd_and_broken_pages_answer_as_when_decoded_whole(name: str) -> None:
    body = NOT_WALKED[name]
    assert page_studies(body) == expected(body)


def test_a_large_page_is_never_decoded_whole() -> None:
    # 400 studies (~4.6 MB): split study by study, the page costs about its compact copies,
    # where decoded whole it is many times its size in objects.
    studies = [STUDIES[i % len(STUDIES)] for i in range(400)]
    body = orjson.dumps({"studies": studies, "nextPageToken": "t"})
    tracemalloc.start()
    try:
        got = page_studies(body)
        _, streamed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        whole = split_page(body)
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert whole is not None and got is not None and len(got) == len(whole) == 400
    peaks = (streamed_peak, whole_peak, len(body))
    assert streamed_peak < 1.5 * len(body) < 5 * len(body) < whole_peak, peaks


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":"versionHolder","versionHolder" : "x","b":{"versionHolder":"2026"}}',
        b'"versionHolder"',
        b"",
        b'"versionHolder":"',
        b'x"versionHolder":"a""versionHolder":"b"',
        *[p.read_bytes() for p in sorted(FIXTURES.glob("ctgov/*/ctgov_v2_*.json"))],
    ],
)
def test_raw_hash_leaves_out_every_version_holder_as_the_regex_did(raw: bytes) -> None:
    from trialwatch.ingest.study_bytes import _HOLDER, raw_hash

    assert raw_hash(raw) == hashlib.sha256(_HOLDER.sub(b"", raw)).hexdigest()
