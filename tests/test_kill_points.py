"""SIGKILL a real `trialwatch import`, `crawl` and `alerts send` at 20 random points each,
then let it run to the end: what is stored must be what one uninterrupted run stores, and
`trialwatch check` must pass. The points are seeded (see tests/kill_points.py), so a failure
repeats.

The import runs on SQLite and PostgreSQL; the crawl and the alert run, which spend most of
their time outside the database (a fetching child process, SMTP), on SQLite only, to keep
the whole series near two minutes.
"""

from __future__ import annotations

import email
import email.policy
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.alerts.smtp_server import HOST, Recorder, smtp_server
from tests.conftest import FIXTURES, fixture_file
from tests.kill_points import (
    Target,
    another_database,
    copy_sqlite,
    count_sent,
    count_versions,
    final_state,
    kill_series,
    run_to_end,
)
from tests.reliability import Recorder as Reliability
from trialwatch.alerts.watches import add_watch
from trialwatch.cli import cli
from trialwatch.demo import build_rounds
from trialwatch.demo.replay import ReplayServer
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage, utcnow

KILLS = 20
OBSERVED = "2026-01-05T12:00:00Z"  # the payloads' fetch time: equal in every run
# Real payloads: two downloads of two trials (older first, so the later one is news and
# queues alerts) and three search pages of 13 trials.
PAYLOADS = {
    "1-NCT00513591.xml": "ctgov_classic_xml_NCT00513591_redownloaded.xml",
    "1-NCT04267848.json": "ctgov_v2_NCT04267848_complex_variant.json",
    "2-NCT00513591.xml": "ctgov_classic_xml_NCT00513591.xml",
    "2-NCT04267848.json": "ctgov_v2_NCT04267848.json",
}
PAGES = sorted((FIXTURES / "ctgov_spider").glob("ctgov_v2_studies_page_*.json"))
WATCHED = ("NCT00513591", "NCT04267848")
KINDS = ("status", "enrollment", "completion_date", "primary_completion_date", "locations")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _watch(target: Target, emails: list[str], ncts: tuple[str, ...] = WATCHED) -> None:
    """One watch per address and trial (so an address gets one message per trial)."""
    engine = open_engine(target.db)
    try:
        with transaction(engine) as session:
            for address in emails:
                for nct in ncts:
                    add_watch(
                        session, email=address, created_at=utcnow(), nct_ids=[nct], kinds=KINDS
                    )
    finally:
        engine.dispose()


def _in_process(target: Target, *args: str) -> None:
    """A set-up step, run here rather than in the process under test."""
    done = CliRunner().invoke(
        cli,
        ["--db", target.db, *args],
        env={"TRIALWATCH_DATA_DIR": str(target.data)},
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output


def _check_passes(target: Target) -> None:
    done = CliRunner().invoke(
        cli, ["--db", target.db, "check"], env={"TRIALWATCH_DATA_DIR": str(target.data)}
    )
    assert done.exit_code == 0, done.output
    assert done.stderr.strip().startswith("check: ok"), done.stderr


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, fixture in PAYLOADS.items():
        shutil.copyfile(fixture_file(fixture), folder / name)
    for page in PAGES:
        shutil.copyfile(page, folder / f"3-{page.name}")
    return folder


@pytest.fixture
def pair(db_url: str, tmp_path: Path) -> Iterator[tuple[Target, Target]]:
    """The database under test, and another of the same kind for the uninterrupted run."""
    with another_database(db_url, tmp_path) as other:
        yield Target(db_url, tmp_path / "killed-data"), Target(other, tmp_path / "whole-data")


@pytest.mark.reliability
def test_import_killed_at_random_points(
    pair: tuple[Target, Target], inputs: Path, reliability: Reliability
) -> None:
    killed, whole = pair
    args = ("import", str(inputs), "--observed-at", OBSERVED)
    for target in pair:
        _watch(target, ["team@example.org"])
    once = run_to_end(whole, *args)
    assert once.returncode == 0, once.stderr
    expected = final_state(whole.db)
    assert len(expected["versions"]) == 17 and len(expected["deliveries"]) == 4

    total = len(expected["versions"])
    series = kill_series(killed, args, once.seconds, KILLS, progress=count_versions, total=total)
    last = run_to_end(killed, *args)
    assert last.returncode == 0, last.stderr
    assert final_state(killed.db) == expected, series.describe()
    _check_passes(killed)
    reliability.tried(
        "database",
        "SIGKILL at 20 random points of an import",
        KILLS,
        "final state identical; check passes",
    )
    print(f"import: {once.seconds:.2f} s, {series.killed} kills landed: {series.landed()}")


@pytest.fixture
def rounds(tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """Two loopback servers replaying recorded registry answers: a first crawl, then a
    second in which trials changed (see trialwatch/demo/data/edits.json)."""
    first, second, ids = build_rounds(tmp_path / "replay")
    with ReplayServer(first) as one, ReplayServer(second) as two:
        yield one.base_url, two.base_url, ids


@sqlite_only
@pytest.mark.reliability
def test_crawl_killed_at_random_points(
    pair: tuple[Target, Target],
    rounds: tuple[str, str, list[str]],
    reliability: Reliability,
) -> None:
    killed, whole = pair
    first, second, ids = rounds
    served = tuple(ids[:-1])  # the last id is not served: a 404 on every run
    nct_args = tuple(arg for nct in ids for arg in ("--nct", nct))
    _watch(whole, ["team@example.org"], served)
    _in_process(whole, "crawl", "ctgov", "--base-url", first, "--delay", "0", *nct_args)
    copy_sqlite(whole, killed)
    args = ("crawl", "ctgov", "--base-url", second, "--delay", "0", *nct_args)
    before = count_versions(whole.db)
    once = run_to_end(whole, *args)
    assert once.returncode == 0, once.stderr
    expected = final_state(whole.db)
    assert len(expected["changes"]) >= 3 and len(expected["deliveries"]) >= 1

    total = len(expected["versions"])
    series = kill_series(killed, args, once.seconds, KILLS, progress=count_versions, total=total)
    last = run_to_end(killed, *args)
    assert last.returncode == 0, last.stderr
    assert final_state(killed.db) == expected, series.describe()
    _check_passes(killed)
    reliability.tried(
        "crawl",
        "SIGKILL at 20 random points of a crawl (and its fetching child)",
        KILLS,
        "final state identical; check passes",
    )
    print(
        f"crawl: {once.seconds:.2f} s, {total - before} new versions, "
        f"{series.killed} kills landed: {series.landed()}"
    )


def _received(handler: Recorder) -> dict[str, list[str]]:
    """Message-IDs received, per recipient, one entry per copy."""
    got: dict[str, list[str]] = {}
    for item in handler.received:
        parsed = email.message_from_bytes(item["content"], policy=email.policy.default)
        for rcpt in item["rcpt_tos"]:
            got.setdefault(rcpt, []).append(str(parsed["Message-ID"]))
    return got


def _messages(db: str) -> dict[str, list[tuple[str, str, bool]]]:
    """(Message-ID, status, whether sent_at is set) of each stored message, per recipient."""
    engine = open_engine(db)
    try:
        with transaction(engine) as session:
            found: dict[str, list[tuple[str, str, bool]]] = {}
            for m in session.exec(select(AlertMessage)).all():
                found.setdefault(m.recipient, []).append(
                    (m.message_id, m.status, m.sent_at is not None)
                )
            return found
    finally:
        engine.dispose()


@sqlite_only
@pytest.mark.reliability
def test_alert_send_killed_at_random_points(
    pair: tuple[Target, Target], inputs: Path, reliability: Reliability
) -> None:
    killed, whole = pair
    people = [f"reader{n}@example.org" for n in range(6)]
    _watch(whole, people)  # 6 people x 2 trials: 12 messages
    _in_process(whole, "import", str(inputs), "--observed-at", OBSERVED)
    copy_sqlite(whole, killed)
    whole_mail, killed_mail = Recorder(), Recorder()
    with smtp_server(whole_mail) as whole_port, smtp_server(killed_mail) as killed_port:
        for target, port in ((whole, whole_port), (killed, killed_port)):
            target.extra_env = {
                "TRIALWATCH_SMTP_HOST": HOST,
                "TRIALWATCH_SMTP_PORT": str(port),
                "TRIALWATCH_SMTP_FROM": "alerts@trialwatch.test",
                "TRIALWATCH_SMTP_SECURITY": "none",
            }
        once = run_to_end(whole, "alerts", "send")
        assert once.returncode == 0, once.stderr
        series = kill_series(
            killed, ("alerts", "send"), once.seconds, KILLS, progress=count_sent, total=12
        )
        last = run_to_end(killed, "alerts", "send")
    stored, expected = _messages(killed.db), _messages(whole.db)
    assert sum(map(len, expected.values())) == 12
    # one message per watch, as without kills; each one sent, and saying when
    assert {r: len(m) for r, m in stored.items()} == {r: len(m) for r, m in expected.items()}
    unsent = [m for ms in stored.values() for m in ms if m[1] != "sent" or not m[2]]
    assert not unsent, f"{len(unsent)} message(s) not sent after the final run: {last.stderr}"
    got = _received(killed_mail)
    # every message arrived at least once, and every copy carries its message's one id
    assert {r: sorted(set(ids)) for r, ids in got.items()} == {
        r: sorted(m[0] for m in ms) for r, ms in stored.items()
    }, series.describe()
    copies = sum(map(len, got.values())) - sum(map(len, stored.values()))
    _check_passes(killed)
    reliability.tried(
        "alerts",
        "SIGKILL at 20 random points of an alert run, 12 messages",
        KILLS,
        "every message sent at least once, one Message-ID per message; check passes",
    )
    print(
        f"alerts: {once.seconds:.2f} s, {series.killed} kills landed: {series.landed()}, "
        f"{copies} copies sent twice"
    )
