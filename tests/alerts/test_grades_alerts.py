"""Grades in alerts: a change reaches a watch only at or above the watch's least grade
(minor unless told), and the email shows each change's grade and reason, escaped in HTML.

The changes are real rows between two real versions, written with chosen grades (grading
itself is tested with the comparison); the watches are added through the command line and the
mail goes through a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from tests.conftest import fixture_file
from trialwatch.alerts.outbox import send_pending
from trialwatch.alerts.render import AlertItem, render_message
from trialwatch.alerts.watches import enqueue
from trialwatch.cli import cli
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import Change, Delivery, TrialVersion, Watch
from trialwatch.snapshots import SnapshotStore

from .smtp_server import Recorder, plain_settings, smtp_server

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
NCT = "NCT03934567"
REASON = "case only: <i>Tazemetostat</i> & co"


@pytest.fixture
def world(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALWATCH_DATA_DIR", str(tmp_path / "data"))
    engine = open_engine(db_url)
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    for when, status in ((T0, None), (T0 + timedelta(hours=1), "COMPLETED")):
        if status:
            data["protocolSection"]["statusModule"]["overallStatus"] = status
        body = json.dumps(data).encode()
        pipeline.ingest_body(body, name="payload", observed_at=when, tally=Tally())
    yield engine, db_url
    engine.dispose()


def _add_watch(url: str, address: str, *flags: str) -> None:
    args = ["--db", url, "watch", "add", "--email", address, "--nct", NCT, "--kind", "title"]
    result = CliRunner().invoke(cli, [*args, *flags], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _title_change(engine, grade: str | None, after: str, reason: str | None) -> int:
    """A title change between the trial's two versions, stored and queued as ingest does."""
    with transaction(engine) as session:
        first, second = session.exec(select(TrialVersion).order_by(col(TrialVersion.id))).all()
        assert first.id is not None and second.id is not None
        detail = {"field": "brief_title", **({"reason": reason} if reason else {})}
        row = Change(
            trial_id=second.trial_id,
            nct_id=NCT,
            source="ctgov",
            kind="title",
            before="A Study of Tazemetostat",
            after=after,
            detail=detail,
            grade=grade,
            from_version_id=first.id,
            to_version_id=second.id,
            observed_at=second.first_seen_at,
        )
        session.add(row)
        session.flush()
        enqueue(session, [row], created_at=second.first_seen_at)
        assert row.id is not None
        return row.id


def _send(engine, when: datetime) -> dict[str, email.message.EmailMessage]:
    handler = Recorder()
    with smtp_server(handler) as port:
        send_pending(engine, plain_settings(port), now=lambda: when)
    received = {}
    for got in handler.received:
        message = email.message_from_bytes(got["content"], policy=email.policy.default)
        [to] = got["rcpt_tos"]
        received[to] = message
    return received


def test_a_watch_hears_only_grades_at_or_above_its_least_grade(world):
    engine, url = world
    _add_watch(url, "ann@x.test")  # no --min-grade: minor and up
    _add_watch(url, "bob@x.test", "--min-grade", "editorial")
    _add_watch(url, "cy@x.test", "--min-grade", "major")
    with transaction(engine) as session:
        grades = {w.email: w.min_grade for w in session.exec(select(Watch))}
    assert grades == {"ann@x.test": "minor", "bob@x.test": "editorial", "cy@x.test": "major"}

    # an editorial edit alone: only the watch that asked for every grade hears of it
    editorial = _title_change(engine, "editorial", "A study of tazemetostat", REASON)
    with transaction(engine) as session:
        queued = [(d.watch_id, d.change_id) for d in session.exec(select(Delivery))]
    assert len(queued) == 1 and queued[0][1] == editorial
    first = _send(engine, T0 + timedelta(hours=2))
    assert sorted(first) == ["bob@x.test"]
    text = first["bob@x.test"].get_body(("plain",)).get_content()
    html = first["bob@x.test"].get_body(("html",)).get_content()
    assert "[editorial] title" in text and f"why editorial: {REASON}" in text
    assert "[editorial]</span> title" in html
    assert "case only: &lt;i&gt;Tazemetostat&lt;/i&gt; &amp; co" in html and "<i>" not in html

    # a minor edit reaches ann and bob; one not graded yet (NULL) counts as major: all three
    _title_change(engine, "minor", "A Study of Tazemetostat (EZH2 inhibitor)", "detail added")
    _title_change(engine, None, "A Study of Something Else", None)
    second = _send(engine, T0 + timedelta(hours=3))
    assert sorted(second) == ["ann@x.test", "bob@x.test", "cy@x.test"]
    ann = second["ann@x.test"].get_body(("plain",)).get_content()
    assert "[minor] title" in ann and "why minor: detail added" in ann
    assert "[major] title" in ann and "why major" not in ann  # no reason stored: none shown
    assert "[editorial]" not in ann
    cy = second["cy@x.test"].get_body(("plain",)).get_content()
    assert "[major] title" in cy and "[minor]" not in cy


def test_the_email_shows_grades_and_keeps_scraped_text_escaped():
    seen = datetime(2026, 11, 22, 4, 6, tzinfo=UTC)
    criteria = AlertItem(
        NCT,
        "<b>Tazemetostat</b>",
        "eligibility_criteria",
        {"inclusion": ["Age <18"], "exclusion": []},
        {"inclusion": ["Age <21"], "exclusion": []},
        {
            "inclusion": {"added": [], "removed": [], "changed": [["Age <18", "Age <21"]]},
            "exclusion": {"added": [], "removed": [], "changed": []},
            "reason": "age limit <18 \u2192 <21\r\nBcc: x@y",
        },
        "ctgov",
        seen,
        grade="major",
    )
    ungraded = AlertItem(NCT, None, "status", "RECRUITING", "COMPLETED", {}, "ctgov", seen)
    message = render_message([criteria, ungraded], recipient="a@x.test", watch_label="watch 3")
    assert "* [major] status: RECRUITING \u2192 COMPLETED" in message.text
    assert "* [major] eligibility_criteria" in message.text
    # the reason is one line, whatever the stored detail held
    assert "why major: age limit <18 \u2192 <21 Bcc: x@y\n" in message.text
    assert "why major: age limit &lt;18 \u2192 &lt;21 Bcc: x@y" in message.html
    assert "<b>Tazemetostat" not in message.html and "&lt;b&gt;Tazemetostat" in message.html
    assert message.html.count("[major]</span>") == 2
