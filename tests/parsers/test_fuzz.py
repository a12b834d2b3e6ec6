"""Fuzzing the registry parsers with mutated real payloads (Hypothesis).

Every saved registry response under tests/fixtures/ (API v2 studies and pages, a record-history
version, classic XML) is mutated: bytes flipped, cut or inserted; at random JSON paths a value
replaced by a huge or non-finite number, a lone surrogate, a NUL character, a value of
another type or random text, or a member or whole module deleted; classic elements given
junk text. Whatever comes out, a parser either returns records that keep every rule of
TrialRecord or raises ParseError with one printable line; never any other exception.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import Recorder
from trialwatch.parsers import (
    MAX_MESSAGE,
    ParseError,
    ctgov,
    ctgov_classic,
    ctgov_history,
    parse_payload,
)
from trialwatch.record import TrialRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Bounded so the suite stays fast; no example database is written into the tree.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _saved(slug: str, suffix: str) -> list[Path]:
    return sorted(
        p
        for p in (FIXTURES / slug).glob(f"*/*{suffix}")
        if p.name != "expected.json" and "not_" not in p.parent.name
    )


JSON_FILES = _saved("ctgov", ".json") + _saved("ctgov_history", ".json")
XML_FILES = _saved("ctgov_classic", ".xml")
ALL_FILES = JSON_FILES + XML_FILES
SLUG_PARSERS: dict[str, Callable[[bytes, str | None], Any]] = {
    "ctgov": lambda body, url: (
        ctgov.parse_page(body, url) if b'"studies"' in body[:200] else ctgov.parse(body, url)
    ),
    "ctgov_history": ctgov_history.parse,
    "ctgov_classic": ctgov_classic.parse,
}

# Raw JSON text put in place of a value: what json.dumps would never write.
RAW_TOKENS = [
    "9" * 5000,
    "-" + "9" * 25,
    "1" + "0" * 20,
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e999",
    '"\\ud800"',
    '"x\\udfff"',
    '"\\u0000"',
    '"NCT\\u0000"',
    '"\\udbff\\udbff"',
]
# Values of another type or of an absurd size, put in place of a value.
VALUES: list[Any] = [
    {},
    [],
    "",
    " ",
    {"x": 1},
    [1, "a", None],
    1.5,
    -5,
    0,
    10**12,
    10**19,
    True,
    False,
    None,
    "NCT\u0660\u0660\u0661\u0668\u0664\u0660\u0666\u0667",
    "2019-02-30",
    "9" * 40,
    "\u202e\x1b[31m",
    "a" * 5000,
]
# Any text, and text made of what list and markup readers react to (criteria are read as
# markdown or HTML).
TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="*-+#>|0123456789.)( \n\t\\:[]<>/&;abiu", max_size=400),
)
XML_JUNK = [
    "1.5",
    "-5",
    "1e30",
    "\u0663",
    "9" * 5000,
    "February 30, 2019",
    "&#0;",
    "&#xD800;",
    "&undefined;",
    "<",
    "]]>",
    "\x01",
    "<x>",
]


@dataclass(frozen=True)
class Payload:
    path: Path
    body: bytes
    data: Any  # the decoded JSON, or None for XML
    paths: tuple[tuple[str | int, ...], ...]  # every JSON member's path (protocol parts first)

    @property
    def slug(self) -> str:
        return self.path.parent.parent.name


def _paths(data: Any) -> tuple[tuple[str | int, ...], ...]:
    found: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        where, value = stack.pop()
        if where:
            found.append(where)
        if isinstance(value, dict):
            stack.extend(((*where, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*where, i), v) for i, v in enumerate(value))
    # Members the parsers read first: a random pick would mostly land in long site lists.
    found.sort(key=lambda p: ("protocolSection" not in p, len(p)))
    return tuple(found)


def _load(path: Path) -> Payload:
    body = path.read_bytes()
    data = json.loads(body) if path.suffix == ".json" else None
    return Payload(path, body, data, _paths(data) if data is not None else ())


PAYLOADS = [_load(p) for p in ALL_FILES]
JSON_PAYLOADS = [p for p in PAYLOADS if p.data is not None]
XML_PAYLOADS = [p for p in PAYLOADS if p.data is None]


def check_outcome(call: Callable[[], Any]) -> str:
    """Run a parser: records that keep every rule, or one clean ParseError; returns which."""
    try:
        result = call()
    except ParseError as exc:
        message = str(exc)
        assert message and message.isprintable() and len(message) <= MAX_MESSAGE, message
        return "refused"
    records = result if isinstance(result, list) else [result]
    for record in records:
        assert isinstance(record, TrialRecord)
        # Re-check every rule (ranges, text, dates), as for a record just built.
        again = TrialRecord.model_validate(record.model_dump(), context={})
        assert again == record
        json.dumps(record.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    return "parsed"


def check_every_parser(payload: Payload, body: bytes) -> str:
    outcome = check_outcome(lambda: parse_payload(body, complete=True))
    check_outcome(lambda: parse_payload(body, problems=[]))
    check_outcome(lambda: SLUG_PARSERS[payload.slug](body, None))
    return outcome


# --- mutations -----------------------------------------------------------------------------


@st.composite
def byte_mutations(draw: st.DrawFn) -> tuple[Payload, bytes]:
    payload = draw(st.sampled_from(PAYLOADS))
    body = bytearray(payload.body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if kind == "flip" and body:
            body[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del body[at:]
        elif kind == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del body[at : at + draw(st.integers(1, 64))]
    return payload, bytes(body)


def _set(data: Any, where: tuple[str | int, ...], value: Any) -> None:
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value


def _delete(data: Any, where: tuple[str | int, ...]) -> None:
    node = data
    for key in where[:-1]:
        node = node[key]
    del node[where[-1]]


@st.composite
def json_mutations(draw: st.DrawFn) -> tuple[Payload, bytes]:
    payload = draw(st.sampled_from(JSON_PAYLOADS))
    data = json.loads(payload.body)
    raw: dict[str, str] = {}
    for number in range(draw(st.integers(1, 3))):
        # Earlier paths are the protocol section's: favour them.
        limit = draw(st.sampled_from([40, 400, len(payload.paths)]))
        where = payload.paths[draw(st.integers(0, min(limit, len(payload.paths)) - 1))]
        kind = draw(st.sampled_from(["raw", "value", "text", "delete", "module"]))
        try:
            if kind == "raw":
                marker = f"@@raw{number}@@"
                raw[json.dumps(marker)] = draw(st.sampled_from(RAW_TOKENS))
                _set(data, where, marker)
            elif kind == "value":
                _set(data, where, copy.deepcopy(draw(st.sampled_from(VALUES))))
            elif kind == "text":
                _set(data, where, draw(TEXT))
            elif kind == "delete":
                _delete(data, where)
            else:
                ps = data.get("protocolSection") or data.get("study", {}).get("protocolSection")
                if isinstance(ps, dict) and ps:
                    del ps[draw(st.sampled_from(sorted(ps)))]
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier mutation removed or replaced that path
    text = json.dumps(data)
    for marker, token in raw.items():
        text = text.replace(marker, token)
    return payload, text.encode()


@st.composite
def xml_mutations(draw: st.DrawFn) -> tuple[Payload, bytes]:
    payload = draw(st.sampled_from(XML_PAYLOADS))
    text = payload.body.decode("utf-8")
    elements = list(re.finditer(r"<([a-z_]+)( [^>]*)?>([^<]*)</\1>", text))
    for _ in range(draw(st.integers(1, 3))):
        found = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["junk", "delete", "empty"]))
        start, end = found.span(3) if kind != "delete" else found.span()
        junk = draw(st.sampled_from(XML_JUNK)) if kind == "junk" else ""
        text = text[:start] + junk + text[end:]
        elements = list(re.finditer(r"<([a-z_]+)( [^>]*)?>([^<]*)</\1>", text))
        if not elements:
            break
    return payload, text.encode("utf-8")


# --- the suites ----------------------------------------------------------------------------


def _run(strategy: st.SearchStrategy[tuple[Payload, bytes]]) -> dict[str, int]:
    seen = {"parsed": 0, "refused": 0}

    @FUZZ
    @given(case=strategy)
    def run(case: tuple[Payload, bytes]) -> None:
        payload, body = case
        seen[check_every_parser(payload, body)] += 1

    run()
    return seen


def test_the_fixture_sets_are_all_here() -> None:
    assert len(JSON_PAYLOADS) >= 20 and len(XML_PAYLOADS) >= 10
    for payload in PAYLOADS:  # unmutated, each real payload parses
        assert check_every_parser(payload, payload.body) in ("parsed", "refused")


@pytest.mark.reliability
def test_bytes_flipped_cut_or_inserted(reliability: Recorder) -> None:
    seen = _run(byte_mutations())
    assert seen["refused"] > 0
    reliability.tried(
        "input",
        "real payloads with bytes flipped, cut, inserted or deleted (Hypothesis)",
        sum(seen.values()),
        "each parsed into records that keep every rule, or refused with one line; no other "
        "exception",
    )


@pytest.mark.reliability
def test_json_values_replaced_or_deleted(reliability: Recorder) -> None:
    seen = _run(json_mutations())
    assert seen["refused"] > 0 and seen["parsed"] > 0
    reliability.tried(
        "input",
        "real JSON payloads with huge or non-finite numbers, lone surrogates, NUL, wrong "
        "types or deleted members and modules at random paths (Hypothesis)",
        sum(seen.values()),
        "each parsed into records that keep every rule, or refused with one line naming the "
        "problem; no other exception",
    )


@pytest.mark.reliability
def test_classic_xml_elements_given_junk(reliability: Recorder) -> None:
    seen = _run(xml_mutations())
    assert seen["refused"] > 0
    reliability.tried(
        "input",
        "real classic XML with element text replaced by junk (bad counts and dates, "
        "&#0;, surrogate references, stray markup) or elements deleted (Hypothesis)",
        sum(seen.values()),
        "each parsed into records that keep every rule, or refused with one line; no other "
        "exception",
    )
