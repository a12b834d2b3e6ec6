"""Watches → outbox → SMTP, exactly once, on a real database and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.conftest import fixture_file
from trialwatch.alerts.outbox import compose, send_pending
from trialwatch.alerts.smtp import build_email, send_email
from trialwatch.alerts.watches import add_watch, query_key
from trialwatch.ingest.pipeline import Pipeline, Tally
from trialwatch.registry.db import open_engine, transaction
from trialwatch.registry.models import AlertMessage, Delivery, Watch
from trialwatch.snapshots import SnapshotStore

from .smtp_server import Recorder, free_port, plain_settings, smtp_server

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
NCT = "NCT03934567"
SEARCH = {"query.cond": "follicular lymphoma"}


def _body(mutate=None) -> bytes:
    data = json.loads(fixture_file("ctgov_v2_NCT03934567.json").read_bytes())
    if mutate:
        mutate(data)
    return json.dumps(data).encode()


def _completed(data):
    data["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(db_url, tmp_path):
    engine = open_engine(db_url)
    pipeline = Pipeline(engine, SnapshotStore(tmp_path / "snapshots"))
    yield engine, pipeline
    engine.dispose()


def _watch(engine, **kw) -> int:
    with transaction(engine) as session:
        return add_watch(session, created_at=T0, **kw).id


def _ingest(pipeline, body, when, search=None) -> Tally:
    tally = Tally()
    pipeline.ingest_body(body, name="payload", observed_at=when, tally=tally, search_key=search)
    return tally


def _recipients(handler: Recorder) -> list[str]:
    return sorted(r for got in handler.received for r in got["rcpt_tos"])


def _parsed(handler: Recorder) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(g["content"], policy=email.policy.default)
        for g in handler.received
    ]


def test_a_status_change_reaches_exactly_the_watches_that_asked(world):
    engine, pipeline = world
    asked = {
        _watch(engine, email="a@x.test", nct_ids=[NCT], kinds=["status"]),
        _watch(engine, email="d@x.test", source="ctgov"),
        _watch(engine, email="f@x.test", query=SEARCH),
    }
    _watch(engine, email="b@x.test", nct_ids=[NCT], kinds=["enrollment"])
    _watch(engine, email="c@x.test", nct_ids=["NCT06171568"], kinds=["status"])
    _watch(engine, email="e@x.test", source="veeva")
    _watch(engine, email="g@x.test", query={"query.cond": "something else"})
    removed = _watch(engine, email="h@x.test", nct_ids=[NCT], kinds=["status"])
    with transaction(engine) as session:
        session.get(Watch, removed).active = False

    _ingest(pipeline, _body(), T0, search=query_key(SEARCH))
    tally = _ingest(pipeline, _body(_completed), T0 + timedelta(days=1))
    assert tally.deliveries == 3
    with transaction(engine) as session:
        assert {d.watch_id for d in session.exec(select(Delivery))} == asked

    handler = Recorder()
    with smtp_server(handler) as port:
        first = send_pending(engine, plain_settings(port), now=Clock(T0 + timedelta(days=1)))
        assert (first.composed, first.sent) == (3, 3)
        second = send_pending(engine, plain_settings(port), now=Clock(T0 + timedelta(days=2)))
        assert (second.composed, second.sent) == (0, 0)
    assert _recipients(handler) == ["a@x.test", "d@x.test", "f@x.test"]
    for message in _parsed(handler):
        assert message["Subject"] == f"{NCT}: Active, not recruiting → Completed"
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None


def test_smtp_down_stays_pending_then_is_delivered_once(world):
    engine, pipeline = world
    _watch(engine, email="a@x.test", nct_ids=[NCT], kinds=["status"])
    _ingest(pipeline, _body(), T0)
    _ingest(pipeline, _body(_completed), T0 + timedelta(hours=1))
    clock = Clock(T0 + timedelta(hours=1))
    port = free_port()  # nothing listens there yet

    down = send_pending(engine, plain_settings(port), now=clock)
    assert (down.composed, down.sent, down.retrying) == (1, 0, 1)
    with transaction(engine) as session:
        [message] = session.exec(select(AlertMessage)).all()
        assert message.status == "pending" and message.attempts == 1
        assert message.next_attempt_at > clock.now and message.last_error

    handler = Recorder()
    with smtp_server(handler) as up_port:
        # the retry waits for its backoff, then goes once
        assert send_pending(engine, plain_settings(up_port), now=clock).sent == 0
        clock.now += timedelta(minutes=5)
        assert send_pending(engine, plain_settings(up_port), now=clock).sent == 1
        clock.now += timedelta(hours=1)
        assert send_pending(engine, plain_settings(up_port), now=clock).sent == 0
    assert len(handler.received) == 1
    assert _parsed(handler)[0]["Message-ID"] == message.message_id


def test_a_run_that_died_after_sending_resends_with_the_same_message_id(world):
    engine, pipeline = world
    _watch(engine, email="a@x.test", nct_ids=[NCT], kinds=["status"])
    _ingest(pipeline, _body(), T0)
    _ingest(pipeline, _body(_completed), T0 + timedelta(hours=1))
    handler = Recorder()
    with smtp_server(handler) as port:
        settings = plain_settings(port)
        with transaction(engine) as session:
            [message] = compose(session, now=T0, domain="trialwatch.test")
        # the server accepts it, then the process dies before marking it sent
        send_email(
            settings,
            build_email(
                settings,
                to=message.recipient,
                subject=message.subject,
                text=message.text,
                html=message.html,
                message_id=message.message_id,
            ),
        )
        again = send_pending(engine, settings, now=Clock(T0 + timedelta(hours=2)))
        assert (again.composed, again.sent) == (0, 1)
        assert send_pending(engine, settings, now=Clock(T0 + timedelta(hours=3))).sent == 0
    ids = [m["Message-ID"] for m in _parsed(handler)]
    assert ids == [message.message_id, message.message_id]


def test_markup_in_a_criterion_arrives_as_text(world):
    engine, pipeline = world
    _watch(engine, email="a@x.test", nct_ids=[NCT], kinds=["eligibility_criteria"])

    def scripted(data):
        module = data["protocolSection"]["eligibilityModule"]
        module["eligibilityCriteria"] = module["eligibilityCriteria"].replace(
            "Life expectancy ≥ 3 months", "Life expectancy <script>alert(1)</script> <b>6</b>"
        )

    _ingest(pipeline, _body(), T0)
    _ingest(pipeline, _body(scripted), T0 + timedelta(hours=1))
    handler = Recorder()
    with smtp_server(handler) as port:
        assert (
            send_pending(engine, plain_settings(port), now=Clock(T0 + timedelta(hours=1))).sent == 1
        )
    [message] = _parsed(handler)
    html = message.get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "&lt;b&gt;6&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" in message.get_body(("plain",)).get_content()


def test_a_query_watch_follows_a_trial_that_enters_the_search_later(world):
    engine, pipeline = world
    watch_id = _watch(engine, email="q@x.test", query=SEARCH, kinds=["status", "enrollment"])
    _ingest(pipeline, _body(), T0)  # fetched by id: not (yet) in the search
    assert _ingest(pipeline, _body(_completed), T0 + timedelta(hours=1)).deliveries == 0

    def more(data):
        _completed(data)
        data["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 90

    # now the search returns it: from here on the watch follows it
    tally = _ingest(pipeline, _body(more), T0 + timedelta(hours=2), search=query_key(SEARCH))
    assert tally.deliveries == 1
    with transaction(engine) as session:
        [delivery] = session.exec(select(Delivery)).all()
        assert delivery.watch_id == watch_id


def test_a_daily_digest_gathers_a_day_of_changes_into_one_message(world):
    engine, pipeline = world
    _watch(engine, email="d@x.test", nct_ids=[NCT], kinds=["status"], digest="daily")  # 07:00 UTC
    _ingest(pipeline, _body(), T0)
    handler = Recorder()
    with smtp_server(handler) as port:
        settings = plain_settings(port)
        _ingest(pipeline, _body(_completed), T0 + timedelta(hours=1))
        assert send_pending(engine, settings, now=Clock(T0 + timedelta(hours=1))).sent == 0
        _ingest(pipeline, _body(), T0 + timedelta(hours=2))  # back, then done again
        _ingest(pipeline, _body(_completed), T0 + timedelta(hours=3))
        assert send_pending(engine, settings, now=Clock(T0 + timedelta(hours=4))).sent == 0
        day_later = send_pending(engine, settings, now=Clock(T0 + timedelta(hours=25)))
        assert (day_later.composed, day_later.sent) == (1, 1)
        again = send_pending(engine, settings, now=Clock(T0 + timedelta(hours=25, minutes=5)))
        assert (again.composed, again.sent) == (0, 0)
    [digest] = _parsed(handler)
    assert digest.get_body(("plain",)).get_content().count("status:") == 3
