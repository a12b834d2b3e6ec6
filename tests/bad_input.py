"""What the bad-input tests share: a database (SQLite or PostgreSQL) with the command line on
it, and real payloads made bad in each of the ways a payload can be."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.cli import cli
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import ParseFailure, TrialVersion

BAD = "NCT00184067"  # every variant of this record below is bad
GOOD = "NCT03934567"
STUDY = fixture_file(f"ctgov_v2_{BAD}.json").read_bytes()
CLASSIC = fixture_file("ctgov_classic_xml_NCT00513591.xml").read_bytes()
COUNT = json.loads(STUDY)["protocolSection"]["designModule"]["enrollmentInfo"]["count"]


class Env:
    """A database (the ``db_url`` one), its snapshot folder, and the command line on it."""

    def __init__(self, url: str, data: Path) -> None:
        self.url = url
        self.data = data
        self.engine: Engine = open_engine(url)

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(
            cli,
            ["--db", self.url, *args],
            env={"TRIALWATCH_DATA_DIR": str(self.data)},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    def failures(self) -> list[ParseFailure]:
        with transaction(self.engine) as session:
            return list(session.exec(select(ParseFailure).order_by(ParseFailure.id)).all())

    def versions(self, nct: str) -> list[TrialVersion]:
        with transaction(self.engine) as session:
            rows = session.exec(select(TrialVersion).where(TrialVersion.nct_id == nct)).all()
            return list(rows)


def count_as(raw: str) -> bytes:
    """The real study with its enrollment count written as raw JSON text."""
    return STUDY.replace(f'"count": {COUNT}'.encode(), f'"count": {raw}'.encode(), 1)


def edited(edit: Callable[[dict[str, Any]], object]) -> bytes:
    study = json.loads(STUDY)
    edit(study["protocolSection"])
    return json.dumps(study).encode()


def title_with(escape: str) -> bytes:
    return STUDY.replace(b'"briefTitle": "', f'"briefTitle": "{escape}'.encode(), 1)


def classic_count(text: str) -> bytes:
    return re.sub(rb"<enrollment([^>]*)>[^<]*<", f"<enrollment\\1>{text}<".encode(), CLASSIC)


# name -> (bytes, what the one line says about it)
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "a_5000_digits.json": (count_as("9" * 5000), "refused: a number of 5000 digits"),
    "b_infinity.json": (count_as("Infinity"), "refused: Infinity is not a number JSON allows"),
    "c_nan.json": (count_as("NaN"), "refused: NaN is not a number JSON allows"),
    "d_surrogate.json": (title_with("\\ud800"), "refused: a lone surrogate (\\ud800) in text at"),
    "e_nul.json": (title_with("\\u0000"), "refused: a NUL character (\\u0000) in text at"),
    "f_title_object.json": (
        edited(lambda ps: ps["identificationModule"].update(briefTitle={"x": 1})),
        "identificationModule.briefTitle is an object, not text",
    ),
    "g_count_1.5.json": (count_as("1.5"), "enrollmentInfo.count is a number (1.5), not a whole"),
    "h_count_-5.json": (count_as("-5"), "enrollmentInfo.count -5 is not a count from 0 to"),
    "i_count_10e30.json": (count_as("1" + "0" * 30), "refused: a number of 31 digits"),
    "j_only_identification.json": (
        edited(lambda ps: [ps.pop(k) for k in list(ps) if k != "identificationModule"]),
        "not a whole registry record: statusModule.overallStatus missing",
    ),
    "k_no_such_day.json": (
        edited(lambda ps: ps["statusModule"]["startDateStruct"].update(date="2019-02-30")),
        "statusModule.startDateStruct.date: date '2019-02-30' is not a date",
    ),
    "l_classic_count.xml": (classic_count("-5"), "enrollment '-5' is not a whole number"),
    "m_classic_nul.xml": (classic_count("&#0;"), "not well-formed XML"),
    "n_cut_short.json": (STUDY[: len(STUDY) // 2], "not JSON: "),
}


def line_about(stderr: str, label: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(f"{label}: ")]
    assert len(lines) == 1, (label, stderr)
    return lines[0]
