"""Shared code for the diffing tests: fixture loading and parsing with the real parsers."""

from __future__ import annotations

import copy
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trialwatch.diffing import Change, compare
from trialwatch.record import TrialRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "diffing"

V2_COMPLEX = "ctgov_v2_NCT04267848_complex_variant.json"
V2_SMALL = "ctgov_v2_NCT03475563.json"


def load_study(name: str) -> dict[str, Any]:
    """A fresh copy of a v2 study fixture, safe to edit."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_bytes()))


def parse_v2(study: dict[str, Any] | bytes) -> TrialRecord:
    from trialwatch.parsers import ctgov

    body = study if isinstance(study, bytes) else json.dumps(study).encode("utf-8")
    return ctgov.parse(body, None)


def parse_fixture(name: str) -> TrialRecord:
    """Parse a fixture file with the parser for its format."""
    body = (FIXTURES / name).read_bytes()
    if name.endswith(".xml"):
        from trialwatch.parsers import ctgov_classic

        return ctgov_classic.parse(body, None)
    return parse_v2(body)


def kinds(changes: list[Change]) -> list[str]:
    return [c.kind for c in changes]


# A continuation line must not start like a list item, or it would read as a new item.
_LOOKS_LIKE_ITEM = re.compile(r"^(?:[-*+•o]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{2,6})[.)])(?:\s|$)")


def _wrap(body: str, first_prefix: str, next_prefix: str, width: int) -> list[str]:
    lines = textwrap.wrap(body, width=width, break_long_words=False, break_on_hyphens=False)
    merged: list[str] = []
    for line in lines:
        if merged and _LOOKS_LIKE_ITEM.match(line):
            merged[-1] += " " + line
        else:
            merged.append(line)
    return [(first_prefix if i == 0 else next_prefix) + line for i, line in enumerate(merged)]


def reformat_markdown_criteria(text: str) -> str:
    """Rewrite API v2 criteria the way another rendering of the same text could look.

    Top-level "* " bullets become "1.", "2.", ... (numbering restarts at each heading),
    nested "* " bullets become "- ", every item is hard-wrapped at 60 columns with indented
    continuation lines, "&", "<", ">" become HTML entities, "18" becomes full-width digits,
    the space before "years" a non-breaking space, and lines end in CRLF.
    """
    out: list[str] = []
    number = 0
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        indent = " " * (len(line) - len(stripped))
        if stripped.startswith("* "):
            body = stripped[2:]
            if not indent:
                number += 1
                marker = f"{number}."
            else:
                marker = "-"
            out += _wrap(body, f"{indent}{marker} ", indent + " " * (len(marker) + 1), 60)
        else:
            if stripped:
                number = 0
            out.append(line)
    rewritten = "\r\n".join(out)
    rewritten = rewritten.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return rewritten.replace("18", "\uff11\uff18").replace(" years", "\u00a0years")


def reformat_study(study: dict[str, Any]) -> dict[str, Any]:
    """A formatting-only rewrite of a whole v2 study: same content, other bytes."""
    new = copy.deepcopy(study)
    ps = new["protocolSection"]
    eligibility = ps["eligibilityModule"]
    eligibility["eligibilityCriteria"] = reformat_markdown_criteria(
        eligibility["eligibilityCriteria"]
    )
    ident = ps["identificationModule"]
    # Double spaces, a non-breaking space and an entity in the title.
    ident["briefTitle"] = "  " + ident["briefTitle"].replace(" ", "\u00a0", 1).replace(" ", "  ", 1)
    ident["officialTitle"] = ident["officialTitle"].replace("'", "&#39;")
    for key in ("secondaryIdInfos",):
        if key in ident:
            ident[key].reverse()
    ps["conditionsModule"]["conditions"].reverse()
    ps["armsInterventionsModule"]["interventions"].reverse()
    outcomes = ps.get("outcomesModule", {})
    for key in ("primaryOutcomes", "secondaryOutcomes"):
        outcomes.get(key, []).reverse()
    sponsors = ps["sponsorCollaboratorsModule"]
    sponsors.get("collaborators", []).reverse()
    locations = ps["contactsLocationsModule"]["locations"]
    locations.reverse()
    for site in locations:
        # Decomposed accents ("i" + combining acute) are the same text after NFKC.
        site["facility"] = site["facility"].replace("\u00ed", "i\u0301").replace("ó", "o\u0301")
        site["city"] = site["city"].replace("\u00f3", "o\u0301") + " "
    return new


GRADE_KEYS = ("grade", "reason", "items")


def ungraded(changes: list[Change]) -> list[Change]:
    """The changes without their grades, for tests about what changed (grades are tested on
    their own)."""
    return [
        Change(
            c.kind, c.before, c.after, {k: v for k, v in c.detail.items() if k not in GRADE_KEYS}
        )
        for c in changes
    ]


Study = dict[str, Any]  # a study's protocolSection, as edited by a test


def set_field(path: str, value: Any) -> Callable[[Study], None]:
    """An edit that sets the dotted ``path`` of a protocolSection (None deletes it)."""

    def edit(ps: Study) -> None:
        *parents, last = path.split(".")
        node = ps
        for name in parents:
            node = node.setdefault(name, {})
        if value is None:
            del node[last]
        else:
            node[last] = value

    return edit


def graded(edit: Callable[[Study], None], fixture: str = V2_SMALL) -> list[Change]:
    """Changes from the real record to the same record with one edit of its raw JSON."""
    study = load_study(fixture)
    old = parse_v2(study)
    edit(study["protocolSection"])
    return compare(old, parse_v2(study))
