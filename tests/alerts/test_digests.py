"""Digests: everything a watch matched since its last digest, as one message per channel,
once its time (a local time in a zone, weekly on a day) has passed; once per period."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.alerts.digests import check_at, check_tz, check_weekday, next_end, period_end
from trialwatch.alerts.outbox import send_pending
from trialwatch.alerts.secrets import seal
from trialwatch.alerts.watches import Target, add_watch
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage
from trialwatch.snapshots import SnapshotStore

from .receivers import receiving
from .smtp_server import Recorder, plain_settings, smtp_server

MONDAY = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # 07:00 in Paris
EDITORIAL, MINOR, MAJOR = "NCT03934567", "NCT04267848", "NCT04431453"


def test_periods_end_at_the_local_time_across_a_clock_change():
    # Paris moves to summer time on 2026-03-29: 07:00 is 06:00 UTC before, 05:00 UTC after.
    options = {"at": "07:00", "tz": "Europe/Paris", "weekday": None}
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert period_end("daily", before, **options) == datetime(2026, 3, 28, 6, 0, tzinfo=UTC)
    after = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert period_end("daily", after, **options) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert next_end("daily", before, **options) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    weekly = {"at": "07:00", "tz": "Europe/Paris", "weekday": 0}
    sunday = datetime(2026, 1, 11, 23, 0, tzinfo=UTC)
    assert period_end("weekly", sunday, **weekly) == MONDAY
    assert next_end("weekly", sunday, **weekly) == MONDAY + timedelta(days=7)
    assert period_end("immediate", sunday, **weekly) is None


@pytest.mark.parametrize(
    ("check", "value"),
    [(check_at, "7"), (check_at, "24:00"), (check_tz, "Mars/Olympus"), (check_weekday, "mo")],
)
def test_digest_options_are_checked(check, value):
    with pytest.raises(ValueError, match=repr(value)):
        check(value)


def _ingest(pipeline: Pipeline, data: dict, when: datetime) -> None:
    tally = Tally()
    pipeline.ingest_body(json.dumps(data).encode(), name="p", observed_at=when, tally=tally)


def _edited(nct_id: str) -> dict:
    """A real record, and an edit of each grade: a criterion's case (editorial), a criterion
    clarified (minor), the status (major)."""
    data = json.loads(fixture_file(f"ctgov_v2_{nct_id}.json").read_bytes())
    edited = copy.deepcopy(data)
    eligibility = edited["protocolSection"]["eligibilityModule"]
    text = eligibility["eligibilityCriteria"]
    if nct_id == EDITORIAL:
        eligibility["eligibilityCriteria"] = text.replace("Life expectancy", "Life Expectancy")
    elif nct_id == MINOR:
        eligibility["eligibilityCriteria"] = text.replace(
            "bilateral oophorectomy", "bilateral oophorectomy (surgical removal of both ovaries)"
        )
    else:
        edited["protocolSection"]["statusModule"]["overallStatus"] = "TERMINATED"
    return {"before": data, "after": edited}


def test_a_weekly_digest_of_two_days_is_one_message_per_channel_ordered_by_grade(db_url, tmp_path):
    engine = open_engine(db_url)
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
    edits = {nct: _edited(nct) for nct in (EDITORIAL, MINOR, MAJOR)}
    for pair in edits.values():
        _ingest(pipeline, pair["before"], MONDAY - timedelta(days=1))
    handler = Recorder()
    with receiving() as hook, smtp_server(handler) as port:
        with transaction(engine) as session:
            add_watch(
                session,
                email="team@x.test",
                notify=[Target("apprise", hook.url(), "json://127.0.0.1/h...k")],
                seal=seal,
                created_at=MONDAY - timedelta(days=1),
                nct_ids=list(edits),
                kinds=["status", "eligibility_criteria"],
                min_grade="editorial",
                digest="weekly",
                digest_at="07:00",
                digest_tz="Europe/Paris",
                digest_weekday=0,
            )
        # Tuesday: the editorial edit; Wednesday: the minor one, then the major one.
        _ingest(pipeline, edits[EDITORIAL]["after"], MONDAY + timedelta(days=1, hours=1))
        _ingest(pipeline, edits[MINOR]["after"], MONDAY + timedelta(days=2, hours=3))
        _ingest(pipeline, edits[MAJOR]["after"], MONDAY + timedelta(days=2, hours=6))
        settings = plain_settings(port)
        for day in (1, 3, 6):  # during the week: nothing goes
            tally = send_pending(engine, settings, now=lambda d=day: MONDAY + timedelta(days=d))
            assert (tally.composed, tally.sent) == (0, 0)
        due = MONDAY + timedelta(days=7, minutes=1)
        tallies = []

        def send() -> None:
            tallies.append(send_pending(engine, settings, now=lambda: due))

        senders = [threading.Thread(target=send) for _ in range(3)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=60)
        restarted = send_pending(engine, settings, now=lambda: due + timedelta(hours=1))
        empty_week = send_pending(engine, settings, now=lambda: due + timedelta(days=7))
        hooked = [r.json() for r in hook.accepted]
    with transaction(engine) as session:
        stored = list(session.exec(select(AlertMessage).order_by(AlertMessage.id)))
    engine.dispose()
    assert sum(t.composed for t in tallies) == 2 and sum(t.sent for t in tallies) == 2
    assert (restarted.composed, restarted.sent, empty_week.composed) == (0, 0, 0)
    assert len(stored) == 2 and {m.period for m in stored} == {"2026-01-12T06:00Z"}
    assert len(handler.received) == 1
    [webhook] = hooked
    email_text = next(m.text for m in stored if m.recipient == "team@x.test")
    for text in (email_text, webhook["message"]):
        order = [text.index(f"== {nct}") for nct in (MAJOR, MINOR, EDITORIAL)]
        assert order == sorted(order), text
        assert "3 changes to 3 trials" in text
    assert webhook["title"].startswith("3 trials changed: NCT04431453")
